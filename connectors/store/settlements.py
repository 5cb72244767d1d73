"""Settlement reconciliation reports: one per settled PayTrace batch, lines replaced on rerun."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from connectors.store.schema import settlement_lines, settlements
from connectors.store.times import utc_or_none
from domain.store_io import SettlementLine, SettlementLineStatus, SettlementReport

_CHUNK = 1000


class SettlementsMixin:
    """The store's settlement reports."""

    engine: sa.Engine

    def save_settlement_report(self, report: SettlementReport) -> None:
        """Insert or replace the report of a batch (header and every line) in one transaction.

        Args:
            report: the reconciliation.
        """
        header: dict[str, Any] = {
            "settled_at": report.settled_at,
            "deposit_date": report.deposit_date,
            "transaction_count": report.transaction_count,
            "sales_count": report.sales_count,
            "sales_amount": report.sales_amount,
            "refund_count": report.refund_count,
            "refund_amount": report.refund_amount,
            "net_amount": report.net_amount,
            "fees": report.fees,
            "deposit_amount": report.deposit_amount,
            "deposit_document": report.deposit_document,
            "fee_document": report.fee_document,
            "status": report.status,
            "discrepancies": len(report.discrepancies) + len(report.notes),
            "notes": list(report.notes),
            "updated_at": datetime.now(UTC),
        }
        key = settlements.c.batch_number == report.batch_number
        lines = [
            {
                "batch_number": report.batch_number,
                "transaction_id": line.transaction_id,
                "transaction_type": line.transaction_type,
                "paytrace_amount": line.paytrace_amount,
                "erp_document": line.erp_document,
                "erp_amount": line.erp_amount,
                "erp_status": line.erp_status,
                "status": line.status.value,
                "note": line.note,
            }
            for line in report.lines
        ]
        with self.engine.begin() as conn:
            if conn.execute(sa.select(settlements.c.batch_number).where(key)).first():
                conn.execute(settlements.update().where(key).values(**header))
            else:
                conn.execute(
                    settlements.insert().values(batch_number=report.batch_number, **header)
                )
            conn.execute(
                settlement_lines.delete().where(
                    settlement_lines.c.batch_number == report.batch_number
                )
            )
            for start in range(0, len(lines), _CHUNK):
                conn.execute(settlement_lines.insert(), lines[start : start + _CHUNK])

    def settlement_report(self, batch_number: int) -> SettlementReport | None:
        """The stored report of a batch, with its lines, or None."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(settlements).where(settlements.c.batch_number == batch_number)
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            lines = conn.execute(
                sa.select(settlement_lines)
                .where(settlement_lines.c.batch_number == batch_number)
                .order_by(settlement_lines.c.transaction_id, settlement_lines.c.transaction_type)
            ).mappings()
            return _report(row, [_line(r) for r in lines])

    def mark_settlement_deposited(
        self, batch_number: int, deposit_document: str, fee_document: str, status: str
    ) -> None:
        """Record the deposit (and fee entry) written for a batch's report.

        Args:
            batch_number: the PayTrace batch.
            deposit_document: the ERP document of the deposit ("" when none was written).
            fee_document: the ERP document of the fee entry ("" when none).
            status: the report's final status.
        """
        with self.engine.begin() as conn:
            conn.execute(
                settlements.update()
                .where(settlements.c.batch_number == batch_number)
                .values(
                    deposit_document=deposit_document,
                    fee_document=fee_document,
                    status=status,
                    updated_at=datetime.now(UTC),
                )
            )

    def settlement_reports(self, limit: int = 50) -> list[SettlementReport]:
        """The newest reports (headers only, no lines), newest batch first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(settlements).order_by(settlements.c.batch_number.desc()).limit(limit)
            ).mappings()
            return [_report(r, []) for r in rows]


def _line(r: Any) -> SettlementLine:
    return SettlementLine(
        transaction_id=r["transaction_id"],
        transaction_type=r["transaction_type"],
        paytrace_amount=r["paytrace_amount"],
        erp_document=r["erp_document"],
        erp_amount=r["erp_amount"],
        erp_status=r["erp_status"],
        status=SettlementLineStatus(r["status"]),
        note=r["note"],
    )


def _report(r: Any, lines: list[SettlementLine]) -> SettlementReport:
    return SettlementReport(
        batch_number=r["batch_number"],
        settled_at=utc_or_none(r["settled_at"]),
        deposit_date=r["deposit_date"],
        transaction_count=r["transaction_count"],
        sales_count=r["sales_count"],
        sales_amount=r["sales_amount"],
        refund_count=r["refund_count"],
        refund_amount=r["refund_amount"],
        net_amount=r["net_amount"],
        fees=r["fees"],
        deposit_amount=r["deposit_amount"],
        deposit_document=r["deposit_document"],
        fee_document=r["fee_document"],
        status=r["status"],
        notes=tuple(r["notes"] or ()),
        lines=tuple(lines),
    )
