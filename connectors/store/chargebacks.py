"""Chargeback cases as the Chargeback workflows last recorded them.

One row per case, written by its workflow at each step. A case is open for its customer from
the day it opens until it is decided won or ends: autopay leaves such customers alone, and a
credit hold is released only when no other open case of the customer needs it. The table is
also the finance team's list of disputes.
"""

from __future__ import annotations

import sqlalchemy as sa

from connectors.store.schema import chargebacks
from connectors.store.times import utc
from domain.chargeback_io import CaseRecord, OpenCases, OpenCasesRequest


class ChargebacksMixin:
    """The store's chargeback cases."""

    engine: sa.Engine

    def record_case(self, record: CaseRecord) -> None:
        """Insert or update a case's row (the latest step wins; idempotent)."""
        values = {
            "workflow_id": record.workflow_id,
            "transaction_id": record.transaction_id,
            "customer_id": record.customer_id,
            "amount": record.amount,
            "respond_by": record.respond_by,
            "stage": record.stage,
            "ledger": record.ledger.value,
            "outcome": record.outcome.value if record.outcome else "",
            "open": record.open,
            "updated_at": utc(record.at),
        }
        with self.engine.begin() as conn:
            updated = conn.execute(
                chargebacks.update().where(chargebacks.c.case_id == record.case_id).values(values)
            )
            if updated.rowcount == 0:
                conn.execute(chargebacks.insert().values(case_id=record.case_id, **values))

    def open_cases(self, request: OpenCasesRequest) -> OpenCases:
        """Open cases (workflow ids) by customer: of one customer, or of all when blank."""
        query = sa.select(chargebacks.c.customer_id, chargebacks.c.workflow_id).where(
            chargebacks.c.open.is_(True), chargebacks.c.customer_id != ""
        )
        if request.customer_id:
            query = query.where(chargebacks.c.customer_id == request.customer_id)
        if request.exclude:
            query = query.where(chargebacks.c.workflow_id != request.exclude)
        found: dict[str, list[str]] = {}
        with self.engine.connect() as conn:
            for customer_id, workflow_id in conn.execute(query.order_by(chargebacks.c.workflow_id)):
                found.setdefault(customer_id, []).append(workflow_id)
        return OpenCases(by_customer={k: tuple(v) for k, v in found.items()})
