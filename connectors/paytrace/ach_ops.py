"""ACH (check) operations of the PayTrace v1 API."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from connectors.paytrace.errors import PaytraceValidationError
from connectors.paytrace.models import (
    CheckResponse,
    CheckSaleRequest,
    ExportedCheck,
)
from connectors.paytrace.transport import PaytraceTransport
from domain.money import format_amount


class AchOperations(PaytraceTransport):
    """``/v1/checks/*``: debit a bank account, hold and fund, refund and void checks, exports."""

    async def check_sale(self, request: CheckSaleRequest) -> CheckResponse:
        """Debit a bank account (``/v1/checks/sale/by_account``, code 120; not processed: 125).

        Raises:
            PaytraceDeclined: the check was not processed (125), with ``ach_code``.
            PaytraceAmbiguousError: the answer was lost; read back before trying again.
        """
        body = request.model_dump(mode="json", exclude_none=True)
        path = "/v1/checks/sale/by_account"
        return self._parse(CheckResponse, await self._money(path, body), path, money_moving=True)

    async def check_refund(self, check_id: int, amount: Decimal | None = None) -> CheckResponse:
        """Refund a settled check sale, fully or in part (code 122).

        Args:
            check_id: the check sale's ``check_transaction_id``.
            amount: a partial refund; None refunds what is left.
        """
        body: dict[str, Any] = {"check_transaction_id": check_id}
        if amount is not None:
            body["amount"] = format_amount(amount)
        path = "/v1/checks/refund/by_transaction"
        return self._parse(CheckResponse, await self._money(path, body), path, money_moving=True)

    async def check_void(self, check_id: int) -> CheckResponse:
        """Void an unsettled check (code 124; settled or unknown: error 80)."""
        body = {"check_transaction_id": check_id}
        path = "/v1/checks/manage/void"
        return self._parse(CheckResponse, await self._money(path, body), path, money_moving=True)

    async def check_hold(self, request: CheckSaleRequest) -> CheckResponse:
        """Hold a debit until it is funded (``/v1/checks/hold/by_account``, code 120)."""
        body = request.model_dump(mode="json", exclude_none=True)
        path = "/v1/checks/hold/by_account"
        return self._parse(CheckResponse, await self._money(path, body), path, money_moving=True)

    async def check_fund(self, check_id: int, amount: Decimal | None = None) -> CheckResponse:
        """Fund a held check, fully or for less (``/v1/checks/manage/fund``, code 124).

        Args:
            check_id: the held check.
            amount: a smaller amount to fund; None funds what was held.
        """
        body: dict[str, Any] = {"check_transaction_id": check_id}
        if amount is not None:
            body["amount"] = format_amount(amount)
        path = "/v1/checks/manage/fund"
        return self._parse(CheckResponse, await self._money(path, body), path, money_moving=True)

    async def export_check(self, check_id: int) -> ExportedCheck | None:
        """Read one check; None when PayTrace does not know it (error 80)."""
        body = {"check_transaction_id": check_id}
        path = "/v1/checks/export/by_id"
        try:
            data = await self._post(path, body, money_moving=False)
        except PaytraceValidationError as exc:
            if 80 in exc.codes:
                return None
            raise
        records = self._parse_list(ExportedCheck, data, "checks", path)
        return records[0] if records else None

    async def export_checks(self, start: date, end: date) -> list[ExportedCheck]:
        """List the checks created between two merchant-local dates, inclusive."""
        body = {"start_date": start.strftime("%m/%d/%Y"), "end_date": end.strftime("%m/%d/%Y")}
        data = await self._post("/v1/checks/export/by_date_range", body, money_moving=False)
        return self._parse_list(ExportedCheck, data, "checks", "/v1/checks/export/by_date_range")
