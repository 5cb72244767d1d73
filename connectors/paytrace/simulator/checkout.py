"""Hosted checkout emulation: the legacy Secure Checkout page and its Silent Post.

``GET /checkout`` shows a payment form; ``POST /checkout/pay`` runs the same sale as the JSON API
(``created.through = "Hosted Checkout"``), answers with a receipt, and, when a Silent Post URL is
set, posts the result to it in the background.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from connectors.paytrace.simulator import errors
from connectors.paytrace.simulator.context import Ctx, client_ip
from connectors.paytrace.simulator.jsonio import PayTraceJSONResponse
from connectors.paytrace.simulator.sales import APPROVED, parse_sale, run_sale
from connectors.paytrace.simulator.state import TransactionRecord

router = APIRouter(prefix="/checkout")

DEFAULT_CARD = "4012000098765439"
"""PayTrace's published Visa test card, used when the form carries no card."""

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1>
{body}
</body></html>
"""
_FORM = """<form method="post" action="/checkout/pay">
<input type="hidden" name="UN" value="{un}">
<label>Amount <input name="AMOUNT" value="{amount}"></label><br>
<label>Order ID <input name="ORDERID" value="{orderid}"></label><br>
<label>Email <input name="EMAIL" value="{email}"></label><br>
<label>Card number <input name="CC" value="{cc}"></label><br>
<label>Expiration <input name="EXPMNTH" value="12" size="2"> /
<input name="EXPYR" value="{year}" size="4"></label><br>
<label>CSC <input name="CSC" value="" size="4"></label><br>
<button type="submit">Pay</button>
</form>"""


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), body=body), status_code=status_code)


def _default_year(now: datetime) -> str:
    return str(now.year + 3)


@router.get("")
async def checkout_form(request: Request, ctx: Ctx) -> Response:
    """Show the payment form, prefilled from ``UN``, ``AMOUNT``, ``ORDERID``, ``EMAIL`` in the query.

    Returns:
        The HTML form.
    """
    query = request.query_params
    form = _FORM.format(
        un=escape(query.get("UN", "demo")),
        amount=escape(query.get("AMOUNT", "1.00")),
        orderid=escape(query.get("ORDERID", "")),
        email=escape(query.get("EMAIL", "")),
        cc=DEFAULT_CARD,
        year=_default_year(ctx.now().astimezone(ctx.tz)),
    )
    return _page("PayTrace Secure Checkout (simulator)", form)


def silent_post_fields(record: TransactionRecord) -> dict[str, str]:
    """Build the Silent Post form for a checkout transaction.

    Args:
        record: the stored transaction.

    Returns:
        ``ORDERID``, ``TRANSACTIONID``, ``APPCODE``, ``APPMSG``, ``AVSRESPONSE``, ``CSCRESPONSE``
        and ``EMAIL``.
    """
    return {
        "ORDERID": record.invoice_id,
        "TRANSACTIONID": str(record.transaction_id),
        "APPCODE": record.approval_code,
        "APPMSG": record.approval_message,
        "AVSRESPONSE": record.avs_response,
        "CSCRESPONSE": record.csc_response,
        "EMAIL": record.email,
    }


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _refuse(request: Request, reason: str, details: dict[str, object] | None = None) -> Response:
    if _wants_json(request):
        return PayTraceJSONResponse({"error": reason, **(details or {})}, status_code=400)
    return _page("Payment not processed", f"<p>{escape(reason)}</p>", status_code=400)


@router.post("/pay")
async def checkout_pay(request: Request, ctx: Ctx) -> Response:
    """Take a checkout payment.

    Form fields: ``UN`` (API user, default ``demo``), ``ORDERID``, ``AMOUNT``, ``EMAIL``, and
    optionally ``CC``, ``EXPMNTH``, ``EXPYR``, ``CSC``, ``BNAME``, ``BADDRESS``, ``BCITY``,
    ``BSTATE``, ``BZIP``. Without ``CC`` the published Visa test card, expiring in December three
    years ahead, is used.

    Returns:
        200 with a receipt (HTML, or JSON when ``Accept: application/json``) for an approval or a
        decline; 400 with a readable reason when the form is invalid.
    """
    form = {key: value for key, value in (await request.form()).items() if isinstance(value, str)}
    merchant = form.get("UN", "").strip() or "demo"
    if merchant not in ctx.config.merchants:
        return _refuse(request, f"Unknown merchant user {merchant!r}.")
    card_number = form.get("CC", "").strip()
    if card_number:
        card = {
            "number": card_number,
            "expiration_month": form.get("EXPMNTH", ""),
            "expiration_year": form.get("EXPYR", ""),
        }
    else:
        default_year = _default_year(ctx.now().astimezone(ctx.tz))
        card = {"number": DEFAULT_CARD, "expiration_month": "12", "expiration_year": default_year}
    payload = {
        "amount": form.get("AMOUNT", ""),
        "credit_card": card,
        "csc": form.get("CSC", ""),
        "invoice_id": form.get("ORDERID", ""),
        "email": form.get("EMAIL", ""),
        "billing_address": {
            "name": form.get("BNAME", ""),
            "street_address": form.get("BADDRESS", ""),
            "city": form.get("BCITY", ""),
            "state": form.get("BSTATE", ""),
            "zip": form.get("BZIP", ""),
        },
    }
    try:
        sale = parse_sale(payload)
    except errors.ApiError as exc:
        reasons = " ".join(errors.MESSAGES[code] for code in exc.codes)
        return _refuse(request, reasons, {"errors": exc.body()["errors"]})
    record = await run_sale(
        ctx, merchant, sale, through="Hosted Checkout", from_ip=client_ip(request)
    )
    ctx.poster.submit(record.transaction_id, silent_post_fields(record))
    approved = record.response_code == APPROVED
    if _wants_json(request):
        return PayTraceJSONResponse(
            {
                "transaction_id": record.transaction_id,
                "approved": approved,
                "approval_message": record.approval_message,
            }
        )
    outcome = "Approved" if approved else "Declined"
    receipt = (
        f"<p>{outcome}: {escape(record.approval_message.strip())}</p>\n"
        f"<p>Transaction ID: {record.transaction_id}</p>\n"
        f"<p>Order ID: {escape(record.invoice_id)}</p>\n"
        f"<p>Amount: {record.amount}</p>\n"
        f"<p>Card: {escape(record.masked_number)}</p>"
    )
    return _page(f"Payment {outcome.lower()}", receipt)
