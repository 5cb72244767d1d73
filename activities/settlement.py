"""Settlement activities: a settled batch from PayTrace compared with the ERP.

They store the reconciliation and plan the deposit; they run on the ERP task queue (they read
the ERP in bulk).
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import names
from activities.errors import to_application_error
from activities.observability import (
    SETTLEMENT_BATCHES,
    SETTLEMENT_DISCREPANCIES,
    count,
    label,
)
from connectors.erp.errors import ErpError
from connectors.erp.protocol import ErpConnector
from connectors.paytrace.client import PaytraceClient
from connectors.paytrace.errors import PaytraceError
from connectors.paytrace.models import ExportedTransaction, parse_timestamp
from connectors.store import Store
from domain.erp_documents import (
    Deposit,
    DocumentKind,
    DocumentStatus,
    ErpDocument,
    JournalEntry,
    JournalLine,
)
from domain.mapping import DocumentAction, Mapping
from domain.settlement import BatchInfo, BatchLine, StrayReceipt, expected_kind, reconcile
from domain.settlement_io import BatchInspection, ReconcilePlan
from domain.start_io import StartKind, WorkflowStart
from domain.store_io import CardRefundStatus, SettlementReport

ZERO = Decimal("0.00")
_KIND_STARTS = {DocumentKind.RECEIPT: StartKind.PAYMENT, DocumentKind.CREDIT_MEMO: StartKind.REFUND}


class SettlementActivities:
    """Reconciliation of settled batches, with PayTrace, the ERP and the store injected.

    Args:
        client: the PayTrace client (v1 batch exports).
        erp: the ERP connector.
        store: tracepost's store (reports, ERP-requested refunds).
        mapping: the deployment's mapping (documents, settlement, accounts).
        timezone: the merchant's time zone (PayTrace's settlement times are local and zone-less).
    """

    def __init__(
        self,
        client: PaytraceClient,
        erp: ErpConnector,
        store: Store,
        mapping: Mapping,
        timezone: str = "America/New_York",
    ) -> None:
        self._client = client
        self._erp = erp
        self._store = store
        self._mapping = mapping
        self._tz = ZoneInfo(timezone)

    # -- reads ----------------------------------------------------------------------------

    async def _batch(self, batch_number: int) -> tuple[BatchInfo, list[BatchLine]]:
        try:
            summary = await self._client.export_batch(batch_number)
            records = await self._client.batch_transactions(batch_number) if summary else []
        except PaytraceError as exc:
            raise to_application_error(exc) from None
        if summary is None:
            raise ApplicationError(
                f"PayTrace has no settled batch {batch_number}",
                type="paytrace_unknown_batch",
                non_retryable=True,
            )
        info = BatchInfo(
            number=summary.number,
            settled_at=parse_timestamp(summary.settled),
            transaction_count=summary.transaction_count,
            sales_count=summary.sales_count,
            sales_amount=summary.sales_amount,
            refund_count=summary.refund_count,
            refund_amount=summary.refund_amount,
            net_amount=summary.net_amount,
        )
        lines = [
            BatchLine(
                transaction_id=r.transaction_id,
                transaction_type=r.transaction_type.upper(),
                amount=r.amount,
                action=self._mapping.documents.action(r.transaction_type),
            )
            for r in records
        ]
        return info, sorted(lines, key=lambda line: line.transaction_id)

    def _documents(self, lines: list[BatchLine]) -> dict[tuple[DocumentKind, str], ErpDocument]:
        """The ERP documents of the lines, in bulk; ERP-requested refunds count as their memo."""
        keys: dict[DocumentKind, list[str]] = {}
        for line in lines:
            kind = expected_kind(line.action)
            if kind is not None:
                keys.setdefault(kind, []).append(str(line.transaction_id))
        found: dict[tuple[DocumentKind, str], ErpDocument] = {}
        for kind, wanted in keys.items():
            for doc in self._erp.documents_by_keys(kind, wanted):
                found[(kind, doc.key)] = doc
        for line in lines:
            key = (DocumentKind.CREDIT_MEMO, str(line.transaction_id))
            if line.action is DocumentAction.CREDIT_MEMO and key not in found:
                memo = self._erp_requested(line)
                if memo is not None:
                    found[key] = memo
        return found

    def _erp_requested(self, line: BatchLine) -> ErpDocument | None:
        """The ERP user's own credit memo of a refund tracepost issued for it, as a document."""
        for intent in self._store.card_refunds_of_refund(line.transaction_id):
            if intent.status is CardRefundStatus.REFUNDED:
                return ErpDocument(
                    kind=DocumentKind.CREDIT_MEMO,
                    key=str(line.transaction_id),
                    erp=self._erp.erp_name,
                    erp_document=intent.memo_key,
                    batch="",
                    amount=intent.amount,
                    status=DocumentStatus.POSTED,
                    customer_id=intent.customer_id,
                    paytrace_transaction_id=line.transaction_id,
                )
        return None

    @activity.defn(name=names.INSPECT_BATCH)
    async def inspect_batch(self, batch_number: int) -> BatchInspection:
        """Which transactions of a settled batch have no ERP document yet.

        Args:
            batch_number: PayTrace's batch number.

        Returns:
            The batch and the workflows to start for what is missing.
        """
        info, lines = await self._batch(batch_number)
        try:
            documents = await asyncio.to_thread(self._documents, lines)
        except ErpError as exc:
            raise to_application_error(exc) from None
        missing = []
        for line in lines:
            kind = expected_kind(line.action)
            if kind is None or (kind, str(line.transaction_id)) in documents:
                continue
            missing.append(
                WorkflowStart(
                    kind=_KIND_STARTS[kind], transaction_id=line.transaction_id, source="settlement"
                )
            )
        return BatchInspection(
            batch=info,
            transaction_count=len(lines),
            missing=tuple(missing),
            wait_minutes=self._mapping.settlement.wait_minutes,
        )

    @activity.defn(name=names.RECONCILE_BATCH)
    async def reconcile_batch(self, batch_number: int) -> ReconcilePlan:
        """Reconcile a settled batch with the ERP, store the report, plan the deposit.

        Args:
            batch_number: PayTrace's batch number.

        Returns:
            The report in brief and the deposit, fee and journal documents to write.
        """
        info, lines = await self._batch(batch_number)
        try:
            documents = await asyncio.to_thread(self._documents, lines)
            strays = await self._strays(info, {line.transaction_id for line in lines})
        except ErpError as exc:
            raise to_application_error(exc) from None
        report = reconcile(info, lines, documents, strays, self._mapping.settlement)
        receipts = [
            line.transaction_id
            for line in lines
            if line.action is DocumentAction.RECEIPT
            and (DocumentKind.RECEIPT, str(line.transaction_id)) in documents
        ]
        has_sales = any(line.action is DocumentAction.RECEIPT for line in lines)
        plan = self._plan(report, info, receipts, has_sales=has_sales)
        status = "discrepancies" if plan.discrepancies else report.status
        settled = report.settled_at.replace(tzinfo=self._tz, fold=1) if report.settled_at else None
        await asyncio.to_thread(
            self._store.save_settlement_report,
            report.model_copy(
                update={"notes": plan.notes, "status": status, "settled_at": settled}
            ),
        )
        count(
            SETTLEMENT_BATCHES, "settled batches reconciled, by status", {"status": label(status)}
        )
        count(
            SETTLEMENT_DISCREPANCIES,
            "discrepancies the settlement reconciliations found",
            {},
            plan.discrepancies,
        )
        return plan

    async def _strays(self, info: BatchInfo, in_batch: set[int]) -> list[StrayReceipt]:
        """ERP card receipts of the batch's days whose PayTrace transaction is not money in."""
        day = info.deposit_date
        if day is None:
            return []
        dated = await asyncio.to_thread(
            self._erp.documents_dated, DocumentKind.RECEIPT, day - timedelta(days=1), day
        )
        candidates = [
            d
            for d in dated
            if d.key.isdigit() and int(d.key) not in in_batch and d.paytrace_transaction_id
        ]
        if not candidates:
            return []
        try:
            records = await self._client.export_by_date_range(day - timedelta(days=2), day)
        except PaytraceError as exc:
            raise to_application_error(exc) from None
        by_id = {r.transaction_id: r for r in records}
        reversals = await asyncio.to_thread(
            self._erp.documents_by_keys, DocumentKind.REVERSAL, [d.key for d in candidates]
        )
        reversed_keys = {d.key for d in reversals}
        strays = []
        for doc in candidates:
            record = by_id.get(int(doc.key))
            if record is not None and self._money_in(record):
                continue  # settled in another batch, or pending for the next one
            strays.append(
                StrayReceipt(
                    document=doc,
                    paytrace_type=record.transaction_type.upper() if record else "",
                    reversed=doc.key in reversed_keys,
                )
            )
        return strays

    def _money_in(self, record: ExportedTransaction) -> bool:
        """An approved sale or capture (by the mapping's codes): its receipt is right."""
        return (
            record.transaction_type.upper() in ("SALE", "CAPTURE", "FORCESALE")
            and record.status_code in self._mapping.statuses.approved
        )

    # -- the deposit ----------------------------------------------------------------------

    def _plan(
        self, report: SettlementReport, info: BatchInfo, receipts: list[int], *, has_sales: bool
    ) -> ReconcilePlan:
        """The bank movement and fee entry that complete a batch's settlement.

        With receipts in the ERP: a deposit linking them, for the batch's whole net. With no
        sales at all (refunds only): a journal moving the net back from the bank. With sales
        whose receipts are not in the ERP yet: nothing now; the report says the deposit waits
        for them (rerun the settlement once they are posted), so the bank movement is never
        written in two forms.
        """
        accounts = self._mapping.accounts
        notes = list(report.notes)
        day = report.deposit_date
        deposit = None
        journal = None
        fee_entry = None
        reference = f"PayTrace batch {info.number}"
        if day is not None and report.deposit_amount != ZERO:
            if receipts:
                deposit = Deposit(
                    batch_number=info.number,
                    deposit_date=day,
                    amount=report.deposit_amount,
                    receipt_transaction_ids=tuple(receipts),
                    reference=reference,
                )
            elif has_sales:
                notes.append(
                    f"none of the receipts of batch {info.number} is in the ERP yet: the deposit"
                    f" of {report.deposit_amount} waits for them; resolve the waiting postings,"
                    f" then run: tracepost settlement run --batch {info.number} --again"
                )
            elif accounts.bank and accounts.undeposited:
                journal = _transfer(
                    f"deposit:batch:{info.number}",
                    day,
                    reference,
                    report.deposit_amount,
                    accounts.bank,
                    accounts.undeposited,
                )
            else:
                notes.append(
                    f"batch {info.number} holds refunds only and accounts.bank /"
                    " accounts.undeposited are not set: the bank movement of"
                    f" {report.deposit_amount} was not written"
                )
        if day is not None and report.fees > ZERO:
            if accounts.card_fees and accounts.undeposited:
                fee_entry = _transfer(
                    f"fees:batch:{info.number}",
                    day,
                    f"PayTrace fees batch {info.number}",
                    report.fees,
                    accounts.card_fees,
                    accounts.undeposited,
                )
            else:
                notes.append("fees were computed but accounts.card_fees is not set: not written")
        discrepancies = len(report.discrepancies) + len(notes)
        summary = (
            f"batch {info.number}: {report.transaction_count} transactions,"
            f" sales {report.sales_amount}, refunds {report.refund_amount}, fees {report.fees},"
            f" deposit {report.deposit_amount}; {discrepancies} discrepancies"
        )
        return ReconcilePlan(
            batch=info,
            status=report.status,
            discrepancies=discrepancies,
            notes=tuple(notes),
            deposit=deposit,
            deposit_journal=journal,
            fee_entry=fee_entry,
            summary=summary,
        )


def _transfer(
    key: str, day: date, description: str, amount: Decimal, debit: str, credit: str
) -> JournalEntry:
    """A two-line entry moving ``amount`` from ``credit`` to ``debit`` (swapped when negative)."""
    value = abs(amount)
    forward = amount > ZERO
    return JournalEntry(
        key=key,
        entry_date=day,
        description=description,
        lines=(
            JournalLine(
                account=debit, debit=value if forward else ZERO, credit=ZERO if forward else value
            ),
            JournalLine(
                account=credit, debit=ZERO if forward else value, credit=value if forward else ZERO
            ),
        ),
    )
