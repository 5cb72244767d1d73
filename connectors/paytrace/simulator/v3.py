"""North's v3 "B2B API" (``/v3/...``) over the same state as v1.

A transaction made through v3 is visible through v1 and the other way round: v3 routes validate
their own request shapes, then reuse the v1 sale rules (:func:`sales.parse_sale`,
:func:`sales.run_sale`) and the state's capture, void and refund. Only the envelope and the field
names differ.

Shapes (simulator choices where North's spec could not be confirmed):
    - ``POST /v3/token`` (form-urlencoded): ``grant_type=client_credentials`` with ``client_id``
      (the API user) and ``client_secret`` (its password), or ``grant_type=refresh_token`` with
      ``refresh_token``. 201 ``{"data": {"access_token", "token_type": "bearer", "expires_in":
      900, "refresh_token"}}``. Bad credentials or refresh token: 401 ``{"error": true,
      "message"}``; missing or unknown parameters: 422. Refresh tokens live a day and are not
      revoked when used. v3 and v1 tokens are stored under different hashes, so neither works on
      the other API (``/_sim/tokens/expire`` expires both kinds).
    - Every other v3 call needs ``Authorization: Bearer`` (401 ``{"error": true, "message"}``
      when missing, unknown or expired) and then ``X-Integrator-Id`` of 1-12 characters (422
      otherwise), and a positive integer ``merchant_id`` in its JSON body (422 otherwise; any
      value is accepted and nothing is recorded about it).
    - Validation errors: 422 ``{"error": true, "message": "The given data was invalid.",
      "errors": {"<field path>": ["..."]}}`` and nothing is stored. A body that is not a JSON
      object is 400 ``{"error": true, "message"}``.
    - Amounts (``amount``, ``tax_amount``) must be JSON numbers with at most two decimals; a
      string is a 422.
    - ``POST /v3/card/sale/keyed``: ``card{number, expiration_month, expiration_year}``,
      ``csc``, ``billing_name``, ``billing_address{street_address, street_address2, city, state,
      zip, country}``, ``invoice_number``, ``customer_reference_id`` (each at most 50),
      ``description``, ``email``, ``tax_amount``. The real v3 wants ``card.number`` and ``csc``
      e2ee-encrypted; the simulator takes the plain published test numbers and never stores more
      than the masked number. Approvals **and declines** are HTTP 200 (a decline is a processed,
      stored transaction with an id): ``data.status`` is ``approved`` (``response_code`` 101) or
      ``declined`` (102). The v1 card rules decide (amount cents .02/.29/.51, expired cards).
    - ``POST /v3/card/batch/{capture|refund|void}``: ``batch_items`` of 1-100
      ``{transaction_id, amount?}`` (``amount`` not allowed on a void). A malformed item is a 422
      for the whole request and nothing is done; otherwise each item is tried in order and gets a
      result, ``{"transaction_id", "status": "success"|"failed", "response_code", "message"}``.
      Success codes are v1's (112 captured, 106 refunded, 109 voided) and a success also carries
      ``amount``; a refund adds ``refund_transaction_id`` (the new transaction) and
      ``masked_card_number``. A failure carries v1's error code and message (58 unknown id, 812,
      813, 814, 816, 817 refund before settlement, 818).
    - ``POST /v3/transaction/export/{transaction_id}``: 200 ``{"data": {record}}``; unknown id 404
      ``{"error": true, "message"}``; a malformed id 422.
    - ``POST /v3/transactions/export/by-date``: ``start_date``/``end_date`` as ``YYYY-MM-DD``
      merchant-local days, inclusive; optional filters ``transaction_type``, ``transaction_id``,
      ``customer_id``, ``including_text`` as in v1. 200 ``{"data": [records]}`` by id.
    - Records: ``transaction_id``, ``transaction_type``, ``amount`` and ``tax_amount`` (numbers),
      ``status_code``, ``status_message``, ``approval_code``, ``approval_message``,
      ``avs_response``, ``csc_response``, ``invoice_number``, ``customer_reference_id``,
      ``customer_id``, ``description``, ``email``, ``masked_card_number``,
      ``expiration_month``, ``expiration_year``, ``created_at`` and ``settled_at`` (ISO 8601 to
      the second in the merchant's time zone with its UTC offset, e.g.
      ``2026-03-10T12:00:00-05:00``; ``settled_at`` null until settled), ``batch_number``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from connectors.paytrace.simulator import codes, errors
from connectors.paytrace.simulator.clock import from_micros, local_day_bounds, to_micros
from connectors.paytrace.simulator.context import Ctx, SimContext, client_ip
from connectors.paytrace.simulator.exports import ExportFilter
from connectors.paytrace.simulator.jsonio import JsonBodyError, PayTraceJSONResponse, loads_object
from connectors.paytrace.simulator.sales import (
    ADDRESS_FIELDS,
    parse_customer_sale,
    parse_sale,
    run_sale,
    text,
)
from connectors.paytrace.simulator.settlement import settle_due
from connectors.paytrace.simulator.state import TransactionRecord
from connectors.paytrace.simulator.transactions import refund_of
from domain.input_bounds import MAX_ID
from domain.money import CENT

ACCESS_TOKEN_TTL = 900
REFRESH_TOKEN_TTL = 86_400
MAX_INTEGRATOR_ID = 12
MAX_TEXT = 50
MAX_BATCH_ITEMS = 100
INVALID_DATA = "The given data was invalid."
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

# Where a v1 error code found by the shared sale rules points in a v3 body.
_FIELD_OF_CODE: dict[int, str] = {
    errors.INVALID_REQUEST_BODY: "body",
    errors.INVALID_CARD_NUMBER: "card.number",
    errors.INVALID_AMOUNT: "amount",
    errors.INVALID_TAX_AMOUNT: "tax_amount",
    errors.INVALID_EXPIRATION_MONTH: "card.expiration_month",
    errors.INVALID_EXPIRATION_YEAR: "card.expiration_year",
    errors.INVALID_INVOICE_ID: "invoice_number",
    errors.INVALID_TRANSACTION_ID: "transaction_id",
}


class V3Error(Exception):
    """A v3 error answer: ``{"error": true, "message", "errors"?}`` with an HTTP status.

    Args:
        status: the HTTP status.
        message: the top-level message.
        errors: field path to messages, for validation errors.
    """

    def __init__(
        self, status: int, message: str, errors: Mapping[str, list[str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = dict(errors or {})

    def response(self) -> Response:
        """Render the error."""
        body: dict[str, object] = {"error": True, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        headers = None
        if self.status == 401:
            headers = {"WWW-Authenticate": 'Bearer realm="PayTrace", error="invalid_token"'}
        return PayTraceJSONResponse(body, status_code=self.status, headers=headers)


def invalid(found: Mapping[str, list[str]]) -> V3Error:
    """Build the 422 for validation errors.

    Args:
        found: field path to messages.

    Returns:
        The error to raise.
    """
    return V3Error(422, INVALID_DATA, found)


class V3Route(APIRoute):
    """A route whose :class:`V3Error` and v1 :class:`errors.ApiError` become v3 answers.

    Dependencies run inside the handler this wraps, so an authentication failure is answered in
    the v3 shape too, and the app's v1 error handlers never see a v3 request.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler.

        Returns:
            The handler, answering v3 errors itself.
        """
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except V3Error as exc:
                return exc.response()
            except errors.ApiError as exc:
                return invalid(_fields_of(exc.codes)).response()

        return guarded


router = APIRouter(prefix="/v3", route_class=V3Route)


def _fields_of(found: list[int]) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for code in found:
        message = errors.MESSAGES[code]
        fields.setdefault(_FIELD_OF_CODE.get(code, str(code)), []).append(message)
    return fields


# Tokens -----------------------------------------------------------------------------------


def access_hash(token: str) -> str:
    """Return the hex digest under which a v3 access token is stored (never the token).

    A keyed BLAKE2b rather than v1's sha256, so a v3 token is unknown to v1 and vice versa.
    """
    return hashlib.blake2b(
        token.encode("utf-8"), digest_size=32, person=b"pt-v3-access"
    ).hexdigest()


def refresh_hash(token: str) -> str:
    """Return the hex digest under which a v3 refresh token is stored."""
    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=32, person=b"pt-v3-refresh")
    return digest.hexdigest()


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


async def _issue(ctx: SimContext, username: str) -> Response:
    access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(48)
    now = int(ctx.now().timestamp())
    await ctx.db(ctx.state.save_token, access_hash(access), username, now, now + ACCESS_TOKEN_TTL)
    await ctx.db(
        ctx.state.save_token, refresh_hash(refresh), username, now, now + REFRESH_TOKEN_TTL
    )
    return PayTraceJSONResponse(
        {
            "data": {
                "access_token": access,
                "token_type": "bearer",
                "expires_in": ACCESS_TOKEN_TTL,
                "refresh_token": refresh,
            }
        },
        status_code=201,
        headers=_NO_STORE,
    )


@router.post("/token")
async def issue_token(request: Request, ctx: Ctx) -> Response:
    """Issue an access token for the client-credentials or refresh-token grant.

    Args:
        request: form-urlencoded ``grant_type`` and its parameters.
        ctx: the simulator context.

    Returns:
        201 with the tokens; 401 for bad credentials or refresh token; 422 for missing or
        unsupported parameters.
    """
    params = await _form(request)
    grant_type = params.get("grant_type", "")
    if grant_type == "client_credentials":
        client_id, secret = params.get("client_id", ""), params.get("client_secret", "")
        missing = {
            name: [f"The {name.replace('_', ' ')} field is required."]
            for name, value in (("client_id", client_id), ("client_secret", secret))
            if not value
        }
        if missing:
            raise invalid(missing)
        expected = ctx.config.merchants.get(client_id)
        if expected is None or not hmac.compare_digest(
            expected.encode("utf-8"), secret.encode("utf-8")
        ):
            raise V3Error(401, "Client authentication failed.")
        return await _issue(ctx, client_id)
    if grant_type == "refresh_token":
        refresh = params.get("refresh_token", "")
        if not refresh:
            raise invalid({"refresh_token": ["The refresh token field is required."]})
        now = int(ctx.now().timestamp())
        owner = await ctx.db(ctx.state.token_owner, refresh_hash(refresh), now)
        if owner is None or owner not in ctx.config.merchants:
            raise V3Error(401, "The refresh token is invalid or expired.")
        return await _issue(ctx, owner)
    if not grant_type:
        raise invalid({"grant_type": ["The grant type field is required."]})
    raise invalid({"grant_type": ["The selected grant type is invalid."]})


async def require_v3_merchant(request: Request, ctx: Ctx) -> str:
    """Resolve the bearer token to its API user and check the integrator header.

    Args:
        request: the incoming request.
        ctx: the simulator context.

    Returns:
        The API user (merchant), after any batch whose cut-off has passed was settled.

    Raises:
        V3Error: 401 for a missing, unknown or expired token; 422 for a missing or too long
            ``X-Integrator-Id``.
    """
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise V3Error(401, "Unauthenticated.")
    owner = await ctx.db(ctx.state.token_owner, access_hash(token), int(ctx.now().timestamp()))
    if owner is None or owner not in ctx.config.merchants:
        raise V3Error(401, "Unauthenticated.")
    integrator = request.headers.get("x-integrator-id", "").strip()
    if not integrator:
        raise invalid({"X-Integrator-Id": ["The X-Integrator-Id header is required."]})
    if len(integrator) > MAX_INTEGRATOR_ID:
        raise invalid(
            {"X-Integrator-Id": [f"The X-Integrator-Id header may not exceed {MAX_INTEGRATOR_ID}."]}
        )
    await settle_due(ctx, owner)
    return owner


V3Merchant = Annotated[str, Depends(require_v3_merchant)]


# Request bodies ---------------------------------------------------------------------------


async def _body(request: Request) -> dict[str, Any]:
    try:
        return loads_object(await request.body())
    except JsonBodyError as exc:
        raise V3Error(400, "The request body must be a JSON object.") from exc


def _positive_int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value <= MAX_ID else None


def _check_merchant_id(body: Mapping[str, Any], found: dict[str, list[str]]) -> None:
    if _positive_int(body.get("merchant_id")) is None:
        found["merchant_id"] = ["The merchant id field is required and must be a positive integer."]


def _number(value: object, *, allow_zero: bool = False) -> Decimal | None:
    """Read a JSON number amount (never a string) in whole cents."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    amount = Decimal(value)
    if not amount.is_finite() or amount.is_signed() or amount != amount.quantize(CENT):
        return None
    if amount == 0 and not allow_zero:
        return None
    return amount.quantize(CENT)


def _sale_payload(body: Mapping[str, Any], found: dict[str, list[str]]) -> dict[str, object]:
    """Check the v3-only rules of a keyed sale and rewrite it in v1 field names."""
    _check_merchant_id(body, found)
    if _number(body.get("amount")) is None:
        found["amount"] = ["The amount must be a positive number with at most two decimals."]
    if body.get("tax_amount") is not None and _number(body["tax_amount"], allow_zero=True) is None:
        found["tax_amount"] = ["The tax amount must be a number with at most two decimals."]
    card = body.get("card")
    if not isinstance(card, Mapping):
        found["card"] = ["The card field is required."]
        card = {}
    for name in ("billing_name", "invoice_number", "customer_reference_id"):
        if len(text(body.get(name))) > MAX_TEXT:
            found[name] = [f"The {name.replace('_', ' ')} may not exceed {MAX_TEXT} characters."]
    raw_address = body.get("billing_address")
    address: Mapping[str, Any] = raw_address if isinstance(raw_address, Mapping) else {}
    return {
        "amount": body.get("amount"),
        "tax_amount": body.get("tax_amount"),
        "credit_card": {
            "number": card.get("number"),
            "expiration_month": card.get("expiration_month"),
            "expiration_year": card.get("expiration_year"),
        },
        "csc": body.get("csc"),
        "billing_address": {
            **{name: address.get(name) for name in ADDRESS_FIELDS},
            "name": body.get("billing_name"),
        },
        "invoice_id": body.get("invoice_number"),
        "customer_reference_id": body.get("customer_reference_id"),
        "email": body.get("email"),
        "description": body.get("description"),
    }


# Card sales -------------------------------------------------------------------------------


def _sale_data(record: TransactionRecord) -> dict[str, object]:
    return {
        "transaction_id": record.transaction_id,
        "status": "approved" if record.response_code == codes.APPROVED else "declined",
        "response_code": record.response_code,
        "status_message": record.status_message,
        "approval_code": record.approval_code,
        "approval_message": record.approval_message,
        "avs_response": record.avs_response,
        "csc_response": record.csc_response,
        "masked_card_number": record.masked_number,
        "amount": record.amount,
    }


@router.post("/card/sale/keyed")
async def sale_keyed(request: Request, ctx: Ctx, merchant: V3Merchant) -> Response:
    """Run a keyed card sale.

    Returns:
        200 with ``data.status`` ``approved`` or ``declined`` (both stored with an id), or 422
        with the validation errors (nothing stored).
    """
    body = await _body(request)
    found: dict[str, list[str]] = {}
    payload = _sale_payload(body, found)
    try:
        sale = parse_sale(payload)
    except errors.ApiError as exc:
        for field, messages in _fields_of(exc.codes).items():
            found.setdefault(field, messages)
        sale = None
    if found or sale is None:
        raise invalid(found)
    record = await run_sale(ctx, merchant, sale, through="API", from_ip=client_ip(request))
    return PayTraceJSONResponse({"data": _sale_data(record)})


@router.post("/card/sale/customer/{customer_id:path}")
async def sale_by_customer(
    customer_id: str, request: Request, ctx: Ctx, merchant: V3Merchant
) -> Response:
    """Charge a vault customer's stored card; like v1, the answer has no masked number.

    Returns:
        200 with ``data.status`` ``approved`` or ``declined``, or 422 (unknown customer,
        validation errors; nothing stored).
    """
    body = await _body(request)
    found: dict[str, list[str]] = {}
    _check_merchant_id(body, found)
    if _number(body.get("amount")) is None:
        found["amount"] = ["The amount must be a positive number with at most two decimals."]
    for name in ("invoice_number", "customer_reference_id"):
        if len(text(body.get(name))) > MAX_TEXT:
            found[name] = [f"The {name.replace('_', ' ')} may not exceed {MAX_TEXT} characters."]
    customer = await ctx.db(ctx.vault.get_customer, merchant, customer_id)
    if customer is None:
        found["customer_id"] = [f"Customer {customer_id} was not found."]
    if found or customer is None:
        raise invalid(found)
    payload = {
        "amount": body.get("amount"),
        "invoice_id": body.get("invoice_number"),
        "customer_reference_id": body.get("customer_reference_id"),
        "description": body.get("description"),
    }
    sale = parse_customer_sale(payload, customer)  # an ApiError becomes a 422 in V3Route
    record = await run_sale(ctx, merchant, sale, through="API", from_ip=client_ip(request))
    data = _sale_data(record)
    data.pop("masked_card_number")
    return PayTraceJSONResponse({"data": data})


# Capture, refund, void --------------------------------------------------------------------

Item = tuple[int, Decimal | None]
Operation = Callable[[SimContext, str, int, Decimal | None, str], Awaitable[dict[str, object]]]


def _batch_items(body: Mapping[str, Any], *, amounts: bool) -> list[Item]:
    found: dict[str, list[str]] = {}
    _check_merchant_id(body, found)
    raw = body.get("batch_items")
    if not isinstance(raw, list) or not raw:
        found["batch_items"] = ["The batch items field is required and must be a list."]
        raise invalid(found)
    if len(raw) > MAX_BATCH_ITEMS:
        found["batch_items"] = [f"The batch items may not have more than {MAX_BATCH_ITEMS} items."]
        raise invalid(found)
    items: list[Item] = []
    for index, item in enumerate(raw):
        where = f"batch_items.{index}"
        if not isinstance(item, Mapping):
            found[where] = ["Each batch item must be an object."]
            continue
        transaction_id = _positive_int(item.get("transaction_id"))
        if transaction_id is None:
            found[f"{where}.transaction_id"] = ["The transaction id must be a positive integer."]
        raw_amount, amount = item.get("amount"), None
        if raw_amount is not None and not amounts:
            found[f"{where}.amount"] = ["An amount is not allowed here."]
        elif raw_amount is not None:
            amount = _number(raw_amount)
            if amount is None:
                found[f"{where}.amount"] = [
                    "The amount must be a positive number with at most two decimals."
                ]
        if transaction_id is not None:
            items.append((transaction_id, amount))
    if found:
        raise invalid(found)
    return items


def _result(transaction_id: int, code: int, **extra: object) -> dict[str, object]:
    return {
        "transaction_id": transaction_id,
        "status": "success",
        "response_code": code,
        "message": codes.STATUS[code],
        **extra,
    }


async def _capture(
    ctx: SimContext, merchant: str, transaction_id: int, amount: Decimal | None, _ip: str
) -> dict[str, object]:
    record = await ctx.db(ctx.state.capture, merchant, transaction_id, amount, to_micros(ctx.now()))
    return _result(transaction_id, codes.CAPTURED, amount=record.amount)


async def _void(
    ctx: SimContext, merchant: str, transaction_id: int, _amount: Decimal | None, _ip: str
) -> dict[str, object]:
    record = await ctx.db(ctx.state.void, merchant, transaction_id)
    return _result(transaction_id, codes.VOIDED, amount=record.amount)


async def _refund(
    ctx: SimContext, merchant: str, transaction_id: int, amount: Decimal | None, ip: str
) -> dict[str, object]:
    now_us = to_micros(ctx.now())
    record = await ctx.db(
        ctx.state.refund_transaction,
        merchant,
        transaction_id,
        amount,
        lambda original, wanted: refund_of(original, wanted, now_us, ip),
    )
    return _result(
        transaction_id,
        codes.REFUNDED,
        amount=record.amount,
        refund_transaction_id=record.transaction_id,
        masked_card_number=record.masked_number,
    )


async def _run_batch(
    request: Request, ctx: SimContext, merchant: str, operation: Operation, *, amounts: bool
) -> Response:
    items = _batch_items(await _body(request), amounts=amounts)
    ip = client_ip(request)
    results: list[dict[str, object]] = []
    for transaction_id, amount in items:
        try:
            results.append(await operation(ctx, merchant, transaction_id, amount, ip))
        except errors.ApiError as exc:
            code = exc.codes[0]
            results.append(
                {
                    "transaction_id": transaction_id,
                    "status": "failed",
                    "response_code": code,
                    "message": errors.MESSAGES[code],
                }
            )
    return PayTraceJSONResponse({"data": results})


@router.post("/card/batch/capture")
async def batch_capture(request: Request, ctx: Ctx, merchant: V3Merchant) -> Response:
    """Capture authorizations, each fully or for its ``amount``; one result per item."""
    return await _run_batch(request, ctx, merchant, _capture, amounts=True)


@router.post("/card/batch/refund")
async def batch_refund(request: Request, ctx: Ctx, merchant: V3Merchant) -> Response:
    """Refund settled sales or captures, each fully or for its ``amount``; one result per item."""
    return await _run_batch(request, ctx, merchant, _refund, amounts=True)


@router.post("/card/batch/void")
async def batch_void(request: Request, ctx: Ctx, merchant: V3Merchant) -> Response:
    """Void unsettled transactions; one result per item."""
    return await _run_batch(request, ctx, merchant, _void, amounts=False)


# Exports ----------------------------------------------------------------------------------


def render_v3_record(record: TransactionRecord, ctx: SimContext) -> dict[str, object]:
    """Render a stored transaction as a v3 export record.

    Args:
        record: the stored transaction.
        ctx: the simulator context (for the merchant's time zone).

    Returns:
        The record; amounts are Decimals, so they are written as JSON numbers.
    """
    tz = ctx.tz
    created = from_micros(record.created_at_us).astimezone(tz).isoformat(timespec="seconds")
    settled = (
        None
        if record.settled_at_us is None
        else from_micros(record.settled_at_us).astimezone(tz).isoformat(timespec="seconds")
    )
    return {
        "transaction_id": record.transaction_id,
        "transaction_type": record.transaction_type,
        "amount": record.amount,
        "tax_amount": record.tax_amount,
        "status_code": record.response_code,
        "status_message": record.status_message,
        "approval_code": record.approval_code,
        "approval_message": record.approval_message,
        "avs_response": record.avs_response,
        "csc_response": record.csc_response,
        "invoice_number": record.invoice_id,
        "customer_reference_id": record.customer_reference_id,
        "customer_id": record.customer_id,
        "description": record.description,
        "email": record.email,
        "masked_card_number": record.masked_number,
        "expiration_month": record.expiration_month,
        "expiration_year": record.expiration_year,
        "created_at": created,
        "settled_at": settled,
        "batch_number": record.batch_number,
    }


@router.post("/transaction/export/{transaction_id}")
async def export_one(
    transaction_id: str, request: Request, ctx: Ctx, merchant: V3Merchant
) -> Response:
    """Export one of the merchant's transactions.

    Returns:
        200 with the record, 404 when the merchant has no such transaction, 422 for a malformed
        id or body.
    """
    body = await _body(request)
    found: dict[str, list[str]] = {}
    _check_merchant_id(body, found)
    digits = transaction_id.isascii() and transaction_id.isdigit() and len(transaction_id) <= 19
    wanted = _positive_int(int(transaction_id)) if digits else None
    if wanted is None:
        found["transaction_id"] = ["The transaction id must be a positive integer."]
    if found:
        raise invalid(found)
    assert wanted is not None
    record = await ctx.db(ctx.state.get_transaction, merchant, wanted)
    if record is None:
        raise V3Error(404, f"Transaction {wanted} was not found.")
    return PayTraceJSONResponse({"data": render_v3_record(record, ctx)})


def _iso_date(value: object) -> date | None:
    if not isinstance(value, str) or _ISO_DATE.fullmatch(value.strip()) is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


@router.post("/transactions/export/by-date")
async def export_by_date(request: Request, ctx: Ctx, merchant: V3Merchant) -> Response:
    """Export the merchant's transactions created on local days ``start_date``..``end_date``.

    Returns:
        200 with the matching records (possibly none), oldest id first; 422 for bad dates,
        filters or ``merchant_id``.
    """
    body = await _body(request)
    found: dict[str, list[str]] = {}
    _check_merchant_id(body, found)
    first, last = _iso_date(body.get("start_date")), _iso_date(body.get("end_date"))
    if first is None:
        found["start_date"] = ["The start date must be a date in the format YYYY-MM-DD."]
    if last is None:
        found["end_date"] = ["The end date must be a date in the format YYYY-MM-DD."]
    if first is not None and last is not None and last < first:
        found["end_date"] = ["The end date must be on or after the start date."]
    raw_id = body.get("transaction_id")
    transaction_id = _positive_int(raw_id)
    if raw_id is not None and transaction_id is None:
        found["transaction_id"] = ["The transaction id must be a positive integer."]
    if found:
        raise invalid(found)
    assert first is not None and last is not None
    start, end = local_day_bounds(first, last, ctx.tz)
    candidates = await ctx.db(
        ctx.state.transactions_between, merchant, to_micros(start), to_micros(end)
    )
    wanted = ExportFilter.from_payload(body, transaction_id)
    records = [render_v3_record(r, ctx) for r in candidates if wanted.matches(r)]
    return PayTraceJSONResponse({"data": records})
