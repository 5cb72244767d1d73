"""Settlement reconciliation: a settled PayTrace batch against what tracepost posted in the ERP.

Pure functions. For each transaction of the batch the mapping says which ERP document it should
have (a receipt for a sale or capture, a credit memo for a refund); the report says, line by
line, whether that document exists with the same amount, and lists ERP receipts of the batch's
days that PayTrace does not show as money received (voided, declined, unknown) and that were not
reversed. Deposit = sales - refunds (- the processor's fees when it takes them daily).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, ConfigDict

from domain.erp_documents import DocumentKind, ErpDocument
from domain.mapping import DocumentAction, FeeMode, SettlementMap
from domain.money import CENT, ZERO
from domain.store_io import SettlementLine, SettlementLineStatus, SettlementReport

_SALE_TYPES = frozenset({"SALE", "CAPTURE", "FORCESALE"})


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class BatchInfo(_Frozen):
    """A settled batch as PayTrace summarizes it; ``settled_at`` is merchant-local time."""

    number: int
    settled_at: datetime | None = None
    transaction_count: int = 0
    sales_count: int = 0
    sales_amount: Decimal = ZERO
    refund_count: int = 0
    refund_amount: Decimal = ZERO
    net_amount: Decimal = ZERO

    @property
    def deposit_date(self) -> date | None:
        """The day the batch settled, in the merchant's time: the deposit's ERP date."""
        return self.settled_at.date() if self.settled_at else None


class BatchLine(_Frozen):
    """One transaction of a settled batch and the document the mapping expects for it."""

    transaction_id: int
    transaction_type: str
    amount: Decimal
    action: DocumentAction


class StrayReceipt(_Frozen):
    """An ERP receipt of the batch's days whose transaction is not money received in PayTrace."""

    document: ErpDocument
    paytrace_type: str = ""
    reversed: bool = False


def expected_kind(action: DocumentAction) -> DocumentKind | None:
    """The ERP document a batch line should have, or None when the mapping ignores it."""
    if action is DocumentAction.RECEIPT:
        return DocumentKind.RECEIPT
    if action is DocumentAction.CREDIT_MEMO:
        return DocumentKind.CREDIT_MEMO
    return None


def fees_of(lines: Sequence[BatchLine], policy: SettlementMap) -> Decimal:
    """The processor's fees on a batch when it takes them daily; zero otherwise.

    Percent of the sales amount, rounded half-up to the cent, plus the per-transaction fee for
    each sale (refunds carry no fee).

    Args:
        lines: the batch's transactions.
        policy: the mapping's settlement section.

    Returns:
        The fees, in cents.
    """
    if policy.fees is FeeMode.NONE:
        return ZERO
    sales = [line for line in lines if line.transaction_type.upper() in _SALE_TYPES]
    gross = sum((line.amount for line in sales), ZERO)
    percent = (gross * policy.fee_percent / Decimal(100)).quantize(CENT, rounding=ROUND_HALF_UP)
    return percent + policy.fee_per_transaction * len(sales)


def batch_totals(lines: Sequence[BatchLine]) -> tuple[int, Decimal, int, Decimal]:
    """(sales count, sales amount, refund count, refund amount) of a batch's lines."""
    sales = [line.amount for line in lines if line.transaction_type.upper() in _SALE_TYPES]
    refunds = [line.amount for line in lines if line.transaction_type.upper() == "REFUND"]
    return len(sales), sum(sales, ZERO), len(refunds), sum(refunds, ZERO)


def _line(line: BatchLine, document: ErpDocument | None) -> SettlementLine:
    kind = expected_kind(line.action)
    if kind is None:
        return SettlementLine(
            transaction_id=line.transaction_id,
            transaction_type=line.transaction_type,
            paytrace_amount=line.amount,
            status=SettlementLineStatus.NOT_POSTED_BY_DESIGN,
            note=f"the mapping ignores {line.transaction_type} transactions",
        )
    if document is None:
        return SettlementLine(
            transaction_id=line.transaction_id,
            transaction_type=line.transaction_type,
            paytrace_amount=line.amount,
            status=SettlementLineStatus.MISSING_IN_ERP,
            note=f"no {kind.value.replace('_', ' ')} was written for it",
        )
    differs = document.amount != line.amount
    return SettlementLine(
        transaction_id=line.transaction_id,
        transaction_type=line.transaction_type,
        paytrace_amount=line.amount,
        erp_document=document.erp_document,
        erp_amount=document.amount,
        erp_status=document.status.value,
        status=SettlementLineStatus.AMOUNT_DIFFERS if differs else SettlementLineStatus.MATCHED,
        note=f"PayTrace {line.amount}, ERP {document.amount}" if differs else "",
    )


def reconcile(
    batch: BatchInfo,
    lines: Sequence[BatchLine],
    documents: Mapping[tuple[DocumentKind, str], ErpDocument],
    strays: Iterable[StrayReceipt],
    policy: SettlementMap,
) -> SettlementReport:
    """Reconcile a settled batch with the ERP.

    Args:
        batch: PayTrace's summary of the batch.
        lines: every transaction of the batch with its expected document.
        documents: the ERP documents tracepost wrote, by (kind, business key).
        strays: ERP receipts of the batch's days whose PayTrace transactions are not money
            received; reversed ones are not discrepancies.
        policy: the mapping's settlement section (fees).

    Returns:
        The report: one line per transaction, stray receipts as ``in_erp_not_in_paytrace``,
        totals, fees and the deposit amount; status ``reconciled`` or ``discrepancies``.
    """
    report_lines: list[SettlementLine] = []
    for line in lines:
        kind = expected_kind(line.action)
        document = documents.get((kind, str(line.transaction_id))) if kind else None
        report_lines.append(_line(line, document))
    for stray in strays:
        if stray.reversed:
            continue
        doc = stray.document
        what = stray.paytrace_type or "unknown to PayTrace"
        report_lines.append(
            SettlementLine(
                transaction_id=doc.paytrace_transaction_id or 0,
                transaction_type=stray.paytrace_type or "UNKNOWN",
                erp_document=doc.erp_document,
                erp_amount=doc.amount,
                erp_status=doc.status.value,
                status=SettlementLineStatus.IN_ERP_NOT_IN_PAYTRACE,
                note=f"the ERP holds receipt {doc.erp_document} of {doc.amount}; PayTrace: {what}",
            )
        )
    sales_count, sales_amount, refund_count, refund_amount = batch_totals(lines)
    fees = fees_of(lines, policy)
    net = sales_amount - refund_amount
    report = SettlementReport(
        batch_number=batch.number,
        settled_at=batch.settled_at,
        deposit_date=batch.deposit_date,
        transaction_count=len(lines),
        sales_count=sales_count,
        sales_amount=sales_amount,
        refund_count=refund_count,
        refund_amount=refund_amount,
        net_amount=net,
        fees=fees,
        deposit_amount=net - fees,
        lines=tuple(report_lines),
    )
    notes = (summary,) if (summary := summary_disagrees(batch, lines)) else ()
    status = "discrepancies" if report.discrepancies or notes else "reconciled"
    return report.model_copy(update={"status": status, "notes": notes})


def summary_disagrees(batch: BatchInfo, lines: Sequence[BatchLine]) -> str:
    """Why PayTrace's batch summary disagrees with its own transaction list, or empty.

    Args:
        batch: the summary.
        lines: the batch's transactions.

    Returns:
        A reason, or ``""`` when counts and amounts agree.
    """
    sales_count, sales_amount, refund_count, refund_amount = batch_totals(lines)
    problems = []
    if (sales_count, sales_amount) != (batch.sales_count, batch.sales_amount):
        problems.append(
            f"sales {sales_count} for {sales_amount} listed, summary says"
            f" {batch.sales_count} for {batch.sales_amount}"
        )
    if (refund_count, refund_amount) != (batch.refund_count, batch.refund_amount):
        problems.append(
            f"refunds {refund_count} for {refund_amount} listed, summary says"
            f" {batch.refund_count} for {batch.refund_amount}"
        )
    return "; ".join(problems)
