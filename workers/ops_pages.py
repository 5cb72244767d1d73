"""The ops pages: what the finance team uses instead of the Temporal Web UI.

Server-rendered HTML (Jinja2) under ``/ops``: sign in, the dashboard, the needs-attention queue
with the buttons that send the workflow's ``resolve`` update, the postings search and the
settlement reconciliation reports with a CSV export. Viewers read; operators also resolve.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from pydantic import ValidationError
from temporalio.client import (
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError

from connectors.paytrace.errors import PaytraceError
from connectors.store import Store
from connectors.store.ops_queries import PostingQuery
from domain.activity_io import AttentionInfo, InvoiceAmount, Resolution, ResolutionAction
from domain.input_bounds import FIRST_DAY, LAST_DAY, MAX_ID
from domain.models import PaytraceTransaction
from domain.money import MoneyError, to_money
from domain.redaction import contains_card_number
from domain.settlement_csv import report_csv
from domain.store_io import SettlementReport
from workers.attention import ParkedWorkflow, attention_of, list_attention, resolve, web_ui_link
from workers.gateway import TemporalGateway, TemporalUnavailableError
from workers.ops_auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    LoginThrottle,
    Session,
    SessionSigner,
    UsersFileError,
    csrf_ok,
    load_users,
    session_key,
    verify_password,
)
from workers.ops_charts import bar_chart
from workers.settings import Settings

log = logging.getLogger(__name__)


class CardNumberInForm(ValueError):
    """A posted ops form held what looks like a full card number."""


TEMPLATES = Path(__file__).with_name("ops_templates")
TransactionReader = Callable[[int], Awaitable[PaytraceTransaction | None]]
MAX_INVOICE_ROWS = 10


def _money(value: Any) -> str:
    return f"{value:,.2f}" if value is not None else ""


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "never"


def _age(since: datetime | None, now: datetime) -> str:
    if since is None:
        return ""
    minutes = int((now - since).total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{minutes // 1440} days"


class OpsPages:
    """The ops pages and their session handling.

    Args:
        settings: tracepost settings.
        store: the store (postings, reports, dashboard figures).
        gateway: access to Temporal (needs-attention, resolutions).
        read_transaction: reads a PayTrace transaction (masked card only), or None to skip.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        gateway: TemporalGateway,
        read_transaction: TransactionReader | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._gateway = gateway
        self._read_transaction = read_transaction
        self._users_file = settings.ops_users_file or settings.var_dir / "ops-users.toml"
        self._signer = SessionSigner(
            session_key(
                settings.ops_session_secret.get_secret_value(),
                settings.var_dir / "ops-session-key",
            ),
            settings.ops_session_hours * 3600,
        )
        self._throttle = LoginThrottle()
        self._templates = Jinja2Templates(directory=str(TEMPLATES))
        env = self._templates.env
        env.filters["money"] = _money
        env.filters["when"] = _when
        env.globals["quote"] = quote

    # -- sessions -------------------------------------------------------------------------

    def session(self, request: Request) -> Session | None:
        """The signed-in session of a request, or None."""
        cookie = request.cookies.get(SESSION_COOKIE, "")
        return self._signer.read(cookie) if cookie else None

    def session_user(self, request: Request) -> str | None:
        """The operator a request is signed in as (the codec server's check), or None."""
        session = self.session(request)
        return session.user if session is not None and session.can_resolve else None

    def render(
        self,
        request: Request,
        name: str,
        context: dict[str, Any],
        *,
        status: int = 200,
        session: Session | None = None,
    ) -> HTMLResponse:
        """Render a template with the session, the time and the pages' security headers."""
        context = {"session": session, "now": datetime.now(UTC), **context}
        response = self._templates.TemplateResponse(request, name, context, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
            " form-action 'self'; frame-ancestors 'none'"
        )
        return response

    def login_redirect(self, request: Request) -> RedirectResponse:
        """Send a visitor without a session to the sign-in form, and back afterwards."""
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/ops/login?{urlencode({'next': target})}", status_code=303)

    async def form(self, request: Request, *, refuse_cards: bool = True) -> dict[str, Any]:
        """A posted form's fields, each a list of its values.

        Raises:
            CardNumberInForm: a field holds what looks like a card number (not checked for the
                sign-in form, whose password is never stored or shown).
        """
        form = await request.form()
        fields = {key: form.getlist(key) for key in form}
        if refuse_cards and any(
            isinstance(v, str) and contains_card_number(v) for vs in fields.values() for v in vs
        ):
            raise CardNumberInForm
        return fields

    async def card_refused(self, request: Request, exc: Exception) -> Response:
        """The answer to a form that held a card number: nothing sent, nothing kept."""
        return self.render(
            request,
            "error.html",
            {
                "error": "The form held what looks like a card number, so nothing was sent or"
                " kept. Card numbers never belong in tracepost: PayTrace keeps them."
            },
            status=422,
            session=self.session(request),
        )

    # -- routes ---------------------------------------------------------------------------

    def router(self) -> APIRouter:
        """The router to include in the api app (left out of the OpenAPI schema)."""
        router = APIRouter(include_in_schema=False)
        router.add_api_route("/ops", self.home, methods=["GET"])
        router.add_api_route("/ops/login", self.login_page, methods=["GET"])
        router.add_api_route("/ops/login", self.login, methods=["POST"])
        router.add_api_route("/ops/logout", self.logout, methods=["POST"])
        router.add_api_route("/ops/dashboard", self.dashboard, methods=["GET"])
        router.add_api_route("/ops/attention", self.attention_list, methods=["GET"])
        router.add_api_route("/ops/attention/{workflow_id}", self.attention_item, methods=["GET"])
        router.add_api_route(
            "/ops/attention/{workflow_id}/resolve", self.attention_resolve, methods=["POST"]
        )
        router.add_api_route("/ops/postings", self.postings, methods=["GET"])
        router.add_api_route("/ops/settlements", self.settlements, methods=["GET"])
        router.add_api_route("/ops/settlements/{batch}", self.settlement, methods=["GET"])
        router.add_api_route("/ops/settlements/{batch}/csv", self.settlement_csv, methods=["GET"])
        return router

    async def home(self, request: Request) -> Response:
        """Send the visitor to the dashboard (or to sign in)."""
        return RedirectResponse("/ops/dashboard", status_code=303)

    async def login_page(self, request: Request, next: str = "/ops/dashboard") -> Response:
        """The sign-in form."""
        token = request.cookies.get(LOGIN_CSRF_COOKIE) or _new_token()
        response = self.render(
            request, "login.html", {"csrf": token, "next": _safe_next(next), "error": ""}
        )
        _set_cookie(response, LOGIN_CSRF_COOKIE, token, self._settings, max_age=3600)
        return response

    async def login(self, request: Request) -> Response:
        """Check the name and password; start a session."""
        form = await self.form(request, refuse_cards=False)
        name = first(form, "username").strip().lower()
        password = first(form, "password")
        target = _safe_next(first(form, "next"))
        token = request.cookies.get(LOGIN_CSRF_COOKIE, "")

        def refuse(error: str, status: int) -> Response:
            fresh = token or _new_token()
            response = self.render(
                request,
                "login.html",
                {"csrf": fresh, "next": target, "error": error},
                status=status,
            )
            _set_cookie(response, LOGIN_CSRF_COOKIE, fresh, self._settings, max_age=3600)
            return response

        if not csrf_ok(token, first(form, "csrf")):
            return refuse("The form expired; please sign in again.", 403)
        if self._throttle.locked(name):
            return refuse("Too many failed attempts; wait a minute and try again.", 429)
        try:
            users = await asyncio.to_thread(load_users, self._users_file)
        except UsersFileError as exc:
            log.error("ops users file unreadable: %s", exc)
            return refuse("Sign-in is unavailable: the users file is unreadable.", 503)
        if not users:
            return refuse(
                "No users are configured: run `tracepost ops-user add NAME --role operator`.", 503
            )
        user = users.get(name)
        ok = user is not None and await asyncio.to_thread(
            verify_password, password, user.password_hash
        )
        if not ok or user is None:
            self._throttle.failed(name)
            log.warning("ops sign-in failed for %r", name[:40])
            return refuse("Unknown user or wrong password.", 401)
        self._throttle.succeeded(name)
        cookie, _ = self._signer.issue(user)
        response = RedirectResponse(target, status_code=303)
        _set_cookie(
            response, SESSION_COOKIE, cookie, self._settings, max_age=self._signer_lifetime()
        )
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/ops")
        log.info("ops sign-in: %s", user.name)
        return response

    def _signer_lifetime(self) -> int:
        return self._settings.ops_session_hours * 3600

    async def logout(self, request: Request) -> Response:
        """End the session."""
        session = self.session(request)
        form = await self.form(request, refuse_cards=False)
        if session is None or not csrf_ok(session.csrf, first(form, "csrf")):
            return RedirectResponse("/ops/login", status_code=303)
        response = RedirectResponse("/ops/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    async def dashboard(self, request: Request) -> Response:
        """Postings today and this week, auto-applied rate, needs-attention, last runs."""
        session = self.session(request)
        if session is None:
            return self.login_redirect(request)
        figures = await asyncio.to_thread(self._store.dashboard, datetime.now(UTC))
        chart = bar_chart(
            [f"{d.day:%m-%d}" for d in figures.days],
            [d.count for d in figures.days],
            title="payments posted per day",
        )
        amounts = bar_chart(
            [f"{d.day:%m-%d}" for d in figures.days],
            [float(d.amount) for d in figures.days],
            title="amount posted per day",
        )
        return self.render(
            request,
            "dashboard.html",
            {
                "f": figures,
                "chart": Markup(chart),  # noqa: S704 - built by bar_chart, which escapes its text
                "amounts": Markup(amounts),  # noqa: S704 - as above
                "oldest_age": _age(figures.attention_oldest, figures.now),
            },
            session=session,
        )

    async def _parked(self) -> tuple[list[ParkedWorkflow], str]:
        try:
            client = await self._gateway.client()
            return await list_attention(client), ""
        except (TemporalUnavailableError, RPCError) as exc:
            log.warning("needs-attention list: Temporal unavailable (%s)", exc)
            return [], "Temporal is unavailable: the queue cannot be read right now."

    async def attention_list(self, request: Request) -> Response:
        """Every workflow waiting for a person, oldest first."""
        session = self.session(request)
        if session is None:
            return self.login_redirect(request)
        parked, problem = await self._parked()
        now = datetime.now(UTC)
        return self.render(
            request,
            "attention.html",
            {
                "items": [(item, _age(item.attention.since, now)) for item in parked],
                "problem": problem,
                "message": request.query_params.get("msg", "")[:300],
            },
            session=session,
        )

    async def attention_item(self, request: Request, workflow_id: str) -> Response:
        """One parked workflow: reason, transaction (masked), candidates, the resolve forms."""
        session = self.session(request)
        if session is None:
            return self.login_redirect(request)
        info, problem = await self._attention(workflow_id)
        transaction: PaytraceTransaction | None = None
        transaction_problem = ""
        if info is not None and info.paytrace_transaction_id and self._read_transaction:
            try:
                transaction = await asyncio.wait_for(
                    self._read_transaction(info.paytrace_transaction_id), timeout=10
                )
            except (PaytraceError, TimeoutError) as exc:
                transaction_problem = f"PayTrace could not be read ({type(exc).__name__})"
        return self.render(
            request,
            "attention_item.html",
            {
                "workflow_id": workflow_id,
                "info": info,
                "problem": problem,
                "transaction": transaction,
                "transaction_problem": transaction_problem,
                "actions": [a.value for a in info.allowed] if info else [],
                "web_ui": web_ui_link(
                    self._settings.ui_base_url, self._settings.temporal_namespace, workflow_id
                ),
                "rows": range(MAX_INVOICE_ROWS),
                "error": request.query_params.get("error", "")[:300],
            },
            session=session,
        )

    async def _attention(self, workflow_id: str) -> tuple[AttentionInfo | None, str]:
        try:
            client = await self._gateway.client()
            info = await attention_of(client, workflow_id)
        except TemporalUnavailableError:
            return None, "Temporal is unavailable; try again shortly."
        except RPCError as exc:
            return None, f"This workflow cannot be read ({exc.status.name})."
        except (WorkflowQueryFailedError, WorkflowQueryRejectedError):
            return None, "This workflow has no needs-attention queue (it parks nothing)."
        if info is None:
            return None, "This workflow is not waiting for anyone (it may have been resolved)."
        return info, ""

    async def attention_resolve(self, request: Request, workflow_id: str) -> Response:
        """Send the operator's resolution as the workflow's ``resolve`` update."""
        session = self.session(request)
        if session is None:
            return self.login_redirect(request)
        form = await self.form(request)
        if not csrf_ok(session.csrf, first(form, "csrf")):
            return self.render(
                request,
                "error.html",
                {"error": "The form expired or did not come from this site; reload and retry."},
                status=403,
                session=session,
            )
        if not session.can_resolve:
            return self.render(
                request,
                "error.html",
                {"error": "Your role may read but not resolve."},
                status=403,
                session=session,
            )
        back = f"/ops/attention/{quote(workflow_id, safe='')}"
        try:
            resolution = _resolution(form, session.user)
        except (ValueError, ValidationError, MoneyError) as exc:
            reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            return RedirectResponse(f"{back}?{urlencode({'error': reason})}", status_code=303)
        try:
            client = await self._gateway.client()
            answer = await asyncio.wait_for(resolve(client, workflow_id, resolution), timeout=30)
        except WorkflowUpdateFailedError as exc:
            reason = str(exc.cause or exc)
            return RedirectResponse(f"{back}?{urlencode({'error': reason})}", status_code=303)
        except (
            TemporalUnavailableError,
            RPCError,
            TimeoutError,
            WorkflowUpdateRPCTimeoutOrCancelledError,
        ) as exc:
            reason = f"Temporal did not take the resolution ({type(exc).__name__}); try again."
            return RedirectResponse(f"{back}?{urlencode({'error': reason})}", status_code=303)
        log.info("ops: %s resolved %s with %s", session.user, workflow_id, resolution.action.value)
        message = f"{workflow_id}: {resolution.action.value} sent ({answer})"
        return RedirectResponse(f"/ops/attention?{urlencode({'msg': message})}", status_code=303)

    async def postings(self, request: Request) -> Response:
        """Search postings by customer, invoice, transaction id and date."""
        session = self.session(request)
        if session is None:
            return self.login_redirect(request)
        params = request.query_params
        error = ""
        rows: list[dict[str, Any]] = []
        try:
            query = PostingQuery(
                customer_id=params.get("customer", "")[:30],
                invoice=params.get("invoice", "")[:30],
                transaction_id=_int_or_none(params.get("transaction", "")),
                day_from=_day_or_none(params.get("from", "")),
                day_to=_day_or_none(params.get("to", "")),
            )
            rows = await asyncio.to_thread(self._store.search_postings, query)
        except ValueError as exc:
            error = str(exc)
        return self.render(
            request,
            "postings.html",
            {"rows": rows, "params": params, "error": error},
            session=session,
        )

    async def settlements(self, request: Request) -> Response:
        """The settlement batches reconciled so far."""
        session = self.session(request)
        if session is None:
            return self.login_redirect(request)
        reports = await asyncio.to_thread(self._store.settlement_overview, 100)
        return self.render(request, "settlements.html", {"reports": reports}, session=session)

    async def _settlement_report(self, batch: int) -> SettlementReport | None:
        if not 0 <= batch <= MAX_ID:  # beyond the store's BIGINT: no such batch
            return None
        return await asyncio.to_thread(self._store.settlement_report, batch)

    async def settlement(self, request: Request, batch: int) -> Response:
        """One batch's reconciliation, discrepancies first and highlighted."""
        session = self.session(request)
        if session is None:
            return self.login_redirect(request)
        report = await self._settlement_report(batch)
        if report is None:
            return self.render(
                request,
                "error.html",
                {"error": f"No reconciliation report for batch {batch}."},
                status=404,
                session=session,
            )
        return self.render(request, "settlement.html", {"r": report}, session=session)

    async def settlement_csv(self, request: Request, batch: int) -> Response:
        """A batch's reconciliation as CSV."""
        session = self.session(request)
        if session is None:
            return self.login_redirect(request)
        report = await self._settlement_report(batch)
        if report is None:
            return Response(f"no report for batch {batch}\n", status_code=404)
        return Response(
            report_csv(report),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="settlement-{batch}.csv"'},
        )


def first(form: dict[str, list[Any]], key: str) -> str:
    """The first text value of a form field ('' when absent or a file)."""
    values = form.get(key) or [""]
    value = values[0]
    return value if isinstance(value, str) else ""


def _new_token() -> str:
    return secrets.token_urlsafe(24)


def _safe_next(target: str) -> str:
    # Only a path of ours: never an absolute URL or a protocol-relative one (open redirect).
    if not target.startswith("/ops") or target.startswith("//") or "\\" in target:
        return "/ops/dashboard"
    return target


def _set_cookie(
    response: Response, name: str, value: str, settings: Settings, *, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/" if name == SESSION_COOKIE else "/ops",
        httponly=True,
        samesite="lax",
        secure=settings.ops_cookie_secure,
    )


def _int_or_none(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 19 or int(text) > MAX_ID:
        raise ValueError("a transaction id is a number")
    return int(text)


def _day_or_none(text: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text[:20]!r} is not a date (YYYY-MM-DD)") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"{day} is outside {FIRST_DAY}..{LAST_DAY}")
    return day


def _resolution(form: dict[str, list[Any]], operator: str) -> Resolution:
    action = ResolutionAction(first(form, "action"))
    invoices = []
    numbers = [v for v in form.get("invoice", []) if isinstance(v, str)]
    amounts = [v for v in form.get("amount", []) if isinstance(v, str)]
    for number, amount in zip(numbers, amounts, strict=False):
        if not number.strip() and not amount.strip():
            continue
        if not number.strip() or not amount.strip():
            raise ValueError("each invoice line needs both the invoice number and the amount")
        parsed = to_money(amount)
        if parsed <= 0:
            raise ValueError(f"the amount for invoice {number.strip()} must be positive")
        invoices.append(InvoiceAmount(invoice_number=number.strip(), amount=parsed))
    if action is ResolutionAction.APPLY_TO and not invoices:
        raise ValueError("apply to: name at least one invoice and amount")
    return Resolution(
        action=action,
        invoices=tuple(invoices),
        customer_id=first(form, "customer").strip()[:30],
        note=first(form, "note").strip()[:500],
        operator=operator,
    )
