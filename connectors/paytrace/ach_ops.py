"""ACH (check) operations of the PayTrace v1 API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.paytrace.models import (
    CheckResponse,
    CheckSaleRequest,
)
from connectors.paytrace.transport import PaytraceTransport
from domain.money import format_amount


class AchOperations(PaytraceTransport):
    """``/v1/checks/*``: debit a bank account, refund and void checks."""

    async def check_sale(self, request: CheckSaleRequest) -> CheckResponse:
        """Debit a bank account (``/v1/checks/sale/by_account``, code 120; not processed: 125).

        Raises:
            PaytraceDeclined: the check was not processed (125), with ``ach_code``.
            PaytraceAmbiguousError: the answer was lost; read back before trying again.
        """
        body = request.model_dump(mode="json", exclude_none=True)
        return CheckResponse.model_validate(await self._money("/v1/checks/sale/by_account", body))

    async def check_refund(self, check_id: int, amount: Decimal | None = None) -> CheckResponse:
        """Refund a settled check sale, fully or in part (code 122).

        Args:
            check_id: the check sale's ``check_transaction_id``.
            amount: a partial refund; None refunds what is left.
        """
        body: dict[str, Any] = {"check_transaction_id": check_id}
        if amount is not None:
            body["amount"] = format_amount(amount)
        return CheckResponse.model_validate(
            await self._money("/v1/checks/refund/by_transaction", body)
        )

    async def check_void(self, check_id: int) -> CheckResponse:
        """Void an unsettled check (code 124; settled or unknown: error 80)."""
        body = {"check_transaction_id": check_id}
        return CheckResponse.model_validate(await self._money("/v1/checks/manage/void", body))
