"""In-memory stand-ins for the activities, for workflow tests on the time-skipping server."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import names
from domain.activity_io import (
    AuditEvent,
    DeadLetterRequest,
    DeadLetterResolution,
    InvoiceLookup,
    MatchContext,
    MatchRequest,
    PostingRecordRequest,
)
from domain.matching import MatchInput, MatchPolicy, normalize_invoice_number
from domain.models import (
    CashReceipt,
    ErpCustomer,
    OpenInvoice,
    PaytraceTransaction,
    ReceiptRecord,
    ReceiptStatus,
    TransactionType,
)
from domain.store_io import AttentionEscalation, AttentionOpen, AttentionOpened


def txn(
    transaction_id: int, amount: str, invoice: str = "", approved: bool = True
) -> PaytraceTransaction:
    return PaytraceTransaction(
        transaction_id=transaction_id,
        transaction_type=TransactionType.SALE,
        amount=Decimal(amount),
        approved=approved,
        declined=not approved,
        status_code=101 if approved else 102,
        approval_message="" if approved else "DECLINE - Do not honor",
        invoice_id=invoice,
        masked_card_number="xxxxxxxxxxxx5439",
        created_at=datetime(2026, 11, 23, 10, 0),
    )


@dataclass
class FakeBackend:
    transactions: dict[int, PaytraceTransaction] = field(default_factory=dict)
    sequences: dict[int, list[PaytraceTransaction]] = field(default_factory=dict)
    fetches: list[int] = field(default_factory=list)
    invoices: dict[str, OpenInvoice] = field(default_factory=dict)
    receipts: dict[int, ReceiptRecord] = field(default_factory=dict)
    writes: list[CashReceipt] = field(default_factory=list)
    posts: list[int] = field(default_factory=list)
    audit: list[AuditEvent] = field(default_factory=list)
    dead_letters: dict[int, DeadLetterRequest] = field(default_factory=dict)
    resolved: dict[int, str] = field(default_factory=dict)
    write_failures: list[ApplicationError] = field(default_factory=list)
    load_failures: list[ApplicationError] = field(default_factory=list)
    write_blocks: bool = False
    sla_seconds: int = 0
    reminder_seconds: int = 3600
    escalations: list[AttentionEscalation] = field(default_factory=list)
    opened: list[AttentionOpen] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add_invoice(self, number: str, balance: str, customer: str = "C0001") -> None:
        self.invoices[number] = OpenInvoice(
            invoice_number=number,
            customer_id=customer,
            amount=Decimal(balance),
            balance=Decimal(balance),
        )

    def activities(self) -> tuple[list[Any], list[Any]]:
        backend = self

        @activity.defn(name=names.FETCH_TRANSACTION)
        async def fetch_transaction(transaction_id: int) -> PaytraceTransaction:
            backend.fetches.append(transaction_id)
            if transaction_id in backend.sequences:  # what PayTrace says changes over time
                seq = backend.sequences[transaction_id]
                return seq.pop(0) if len(seq) > 1 else seq[0]
            if transaction_id not in backend.transactions:
                raise ApplicationError(
                    "unknown", type="paytrace_unknown_transaction", non_retryable=True
                )
            return backend.transactions[transaction_id]

        @activity.defn(name=names.LOAD_MATCH_INPUT)
        async def load_match_input(request: MatchRequest) -> MatchContext:
            if backend.load_failures:
                raise backend.load_failures.pop(0)
            invoice = (
                backend.invoices.get(normalize_invoice_number(request.invoice_id))
                if request.invoice_id
                else None
            )
            customer = ErpCustomer(customer_id=invoice.customer_id, name="x") if invoice else None
            open_ = tuple(
                i
                for i in backend.invoices.values()
                if customer and i.customer_id == customer.customer_id and i.balance > 0
            )
            return MatchContext(
                match_input=MatchInput(
                    amount=request.amount,
                    invoice_id=request.invoice_id,
                    customer=customer,
                    invoice_by_number=invoice,
                    open_invoices=open_,
                ),
                policy=MatchPolicy(),
            )

        @activity.defn(name=names.INVOICES_BY_NUMBER)
        async def invoices_by_number(numbers: list[str]) -> InvoiceLookup:
            found = tuple(backend.invoices[n] for n in numbers if n in backend.invoices)
            return InvoiceLookup(
                found=found, missing=tuple(n for n in numbers if n not in backend.invoices)
            )

        @activity.defn(name=names.FIND_RECEIPT)
        async def find_receipt(transaction_id: int) -> ReceiptRecord | None:
            return backend.receipts.get(transaction_id)

        @activity.defn(name=names.WRITE_RECEIPT)
        async def write_receipt(receipt: CashReceipt) -> ReceiptRecord:
            while backend.write_blocks:  # an ERP that hangs until the workflow is cancelled
                activity.heartbeat()
                await asyncio.sleep(0.05)
            if backend.write_failures:
                raise backend.write_failures.pop(0)
            backend.writes.append(receipt)
            record = ReceiptRecord(
                paytrace_transaction_id=receipt.paytrace_transaction_id,
                erp="fake",
                customer_id=receipt.customer_id,
                erp_document=f"CR-{receipt.paytrace_transaction_id}",
                batch="B1",
                amount=receipt.amount,
                status=ReceiptStatus.PENDING,
                created=True,
            )
            backend.receipts[receipt.paytrace_transaction_id] = record
            return record

        @activity.defn(name=names.POST_RECEIPT)
        async def post_receipt(transaction_id: int) -> ReceiptRecord:
            backend.posts.append(transaction_id)
            record = backend.receipts[transaction_id].model_copy(
                update={"status": ReceiptStatus.POSTED}
            )
            backend.receipts[transaction_id] = record
            return record

        @activity.defn(name=names.RECORD_AUDIT)
        async def record_audit(request: AuditEvent) -> bool:
            backend.audit.append(request)
            return True

        @activity.defn(name=names.RECORD_POSTING)
        async def record_posting(request: PostingRecordRequest) -> None:
            return None

        @activity.defn(name=names.OPEN_DEAD_LETTER)
        async def open_dead_letter(request: DeadLetterRequest) -> int:
            new_id = next(backend._ids)
            backend.dead_letters[new_id] = request
            return new_id

        @activity.defn(name=names.OPEN_ATTENTION)
        async def open_attention(request: AttentionOpen) -> AttentionOpened:
            new_id = next(backend._ids)
            backend.opened.append(request)
            backend.dead_letters[new_id] = DeadLetterRequest(
                workflow_id=request.workflow_id,
                run_id=request.run_id,
                paytrace_transaction_id=request.paytrace_transaction_id,
                reason_kind=request.reason_kind,
                reason=request.reason,
                detail=request.detail,
                at=request.at,
            )
            return AttentionOpened(
                dead_letter_id=new_id,
                sla_seconds=backend.sla_seconds,
                reminder_seconds=backend.reminder_seconds,
            )

        @activity.defn(name=names.ESCALATE_ATTENTION)
        async def escalate_attention(request: AttentionEscalation) -> bool:
            backend.escalations.append(request)
            return True

        @activity.defn(name=names.RESOLVE_DEAD_LETTER)
        async def resolve_dead_letter(request: DeadLetterResolution) -> None:
            backend.resolved[request.dead_letter_id] = request.resolution

        main = [
            fetch_transaction,
            record_audit,
            record_posting,
            open_dead_letter,
            open_attention,
            escalate_attention,
            resolve_dead_letter,
        ]
        erp = [load_match_input, invoices_by_number, find_receipt, write_receipt, post_receipt]
        return main, erp
