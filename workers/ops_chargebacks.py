"""The ops pages' chargeback screen: the case register, opening a case, recording a decision.

Both forms go through the same path as the signed ``chargeback.opened`` and
``chargeback.resolved`` events (:func:`workers.event_starts.dispatch`), so a case opened here,
by an event or by an import is the same workflow, ``chargeback-<case id>``.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from temporalio.service import RPCError

from connectors.store import Store
from domain.events import ChargebackOpened, ChargebackResolved
from workers.event_starts import dispatch
from workers.gateway import TemporalGateway, TemporalUnavailableError
from workers.ops_auth import Session, csrf_ok
from workers.ops_pages import OpsPages, first
from workers.settings import Settings

BACK = "/ops/chargebacks"


class OpsChargebacks:
    """The chargeback screen.

    Args:
        pages: the ops pages (sessions and rendering).
        settings: tracepost settings.
        store: the store (the case register).
        gateway: access to Temporal.
    """

    def __init__(
        self, pages: OpsPages, settings: Settings, store: Store, gateway: TemporalGateway
    ) -> None:
        self._pages = pages
        self._settings = settings
        self._store = store
        self._gateway = gateway

    def router(self) -> APIRouter:
        """The router to include in the api app (left out of the OpenAPI schema)."""
        router = APIRouter(include_in_schema=False)
        router.add_api_route(BACK, self.cases, methods=["GET"])
        router.add_api_route(BACK, self.open_case, methods=["POST"])
        router.add_api_route(f"{BACK}/{{case_id}}/outcome", self.outcome, methods=["POST"])
        return router

    async def cases(self, request: Request) -> Response:
        """Every case of the register, with the forms."""
        session = self._pages.session(request)
        if session is None:
            return self._pages.login_redirect(request)
        rows = await asyncio.to_thread(self._store.chargeback_cases)
        return self._pages.render(
            request,
            "chargebacks.html",
            {
                "cases": rows,
                "message": request.query_params.get("msg", "")[:300],
                "error": request.query_params.get("error", "")[:300],
                "default_fee": self._settings.mapping.chargebacks.default_fee,
            },
            session=session,
        )

    async def _checked(
        self, request: Request
    ) -> tuple[Session | None, dict[str, Any], Response | None]:
        session = self._pages.session(request)
        if session is None:
            return None, {}, self._pages.login_redirect(request)
        form = await self._pages.form(request)
        if not csrf_ok(session.csrf, first(form, "csrf")) or not session.can_resolve:
            reason = (
                "Your role may read but not change cases."
                if csrf_ok(session.csrf, first(form, "csrf"))
                else "The form expired or did not come from this site; reload and retry."
            )
            page = self._pages.render(
                request, "error.html", {"error": reason}, status=403, session=session
            )
            return session, form, page
        return session, form, None

    async def open_case(self, request: Request) -> Response:
        """Open (or join) a case from the form."""
        _, form, refused = await self._checked(request)
        if refused is not None:
            return refused
        fields = {
            key: first(form, key).strip()
            for key in (
                "case_id",
                "transaction_id",
                "amount",
                "fee",
                "reason",
                "opened_on",
                "respond_by",
            )
        }
        try:
            data = ChargebackOpened.model_validate(
                {
                    **fields,
                    "transaction_id": _number(fields["transaction_id"]),
                    "fee": fields["fee"] or None,
                }
            )
        except (ValidationError, ValueError) as exc:
            return _back(error=_reason(exc))
        return await self._send(data, "ops", f"case {data.case_id}")

    async def outcome(self, request: Request, case_id: str) -> Response:
        """Record the network's decision on a case."""
        session, form, refused = await self._checked(request)
        if refused is not None:
            return refused
        assert session is not None
        try:
            data = ChargebackResolved.model_validate(
                {
                    "case_id": case_id,
                    "outcome": first(form, "outcome"),
                    "note": first(form, "note").strip(),
                    "decided_on": first(form, "decided_on").strip() or None,
                }
            )
        except ValidationError as exc:
            return _back(error=_reason(exc))
        return await self._send(data, f"ops:{session.user}", f"case {case_id} {data.outcome.value}")

    async def _send(
        self, data: ChargebackOpened | ChargebackResolved, source: str, what: str
    ) -> Response:
        try:
            client = await self._gateway.client()
            answer = await dispatch(client, self._settings, data, source)
        except (TemporalUnavailableError, RPCError, TimeoutError) as exc:
            return _back(error=f"Temporal did not take it ({type(exc).__name__}); try again.")
        if answer.status_code != 202:
            return _back(error=answer.reason)
        return _back(msg=f"{what}: {answer.outcome} ({answer.workflow_id})")


def _back(**query: str) -> RedirectResponse:
    return RedirectResponse(f"{BACK}?{urlencode(query, quote_via=quote)}", status_code=303)


def _number(text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        raise ValueError("the transaction id is a number")
    return int(text)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
    return str(exc)
