"""Activities that write and read back the ERP documents beyond receipts.

Credit memos, reversals, deposits and journal entries; the flagged credit memos of the ERP
refund sweep.
"""

from __future__ import annotations

from temporalio import activity

from activities import names
from activities.erp import CustomerResolver, erp_call
from activities.errors import to_application_error
from activities.observability import tag_span, tag_written
from connectors.erp.errors import ErpBusinessError, ErpError
from connectors.erp.protocol import ErpConnector
from domain.erp_documents import (
    CreditMemo,
    Deposit,
    ErpDocument,
    FlaggedMemo,
    JournalEntry,
    ReceiptReversal,
)
from domain.mapping import Mapping
from domain.models import OpenInvoice
from domain.refund_io import FlaggedMemoQuery, RefundContext, RefundContextRequest
from domain.reversal_io import DocumentQuery


class ErpDocumentActivities:
    """ERP document reads and writes, with the connector injected. Synchronous: thread pool.

    Args:
        erp: the ERP connector.
        mapping: the deployment's mapping (customers, periods, refunds).
    """

    def __init__(self, erp: ErpConnector, mapping: Mapping) -> None:
        self._erp = erp
        self._mapping = mapping
        self._customers = CustomerResolver(erp, mapping)

    @activity.defn(name=names.FIND_DOCUMENT)
    def find_document(self, query: DocumentQuery) -> ErpDocument | None:
        """Read back the document of a kind written for a business key."""
        return tag_written(erp_call(lambda: self._erp.find_document(query.kind, query.key)))

    @activity.defn(name=names.POST_DOCUMENT)
    def post_document(self, query: DocumentQuery) -> ErpDocument:
        """Post a written document's batch with the configured strategy; idempotent."""
        return tag_written(erp_call(lambda: self._erp.post_document(query.kind, query.key)))

    @activity.defn(name=names.LOAD_REFUND_CONTEXT)
    def load_refund_context(self, request: RefundContextRequest) -> RefundContext:
        """Find whose refund it is and which invoice it refunds.

        An operator's customer wins; else the refunded invoice's customer; else PayTrace's
        customer fields by the mapping's rules. An invoice number the ERP cannot tell apart is
        a reason for a person, not an error.

        Args:
            request: the refund's invoice and customer fields.

        Returns:
            The customer (None with the reason when none was found) and the invoice.
        """
        policy = self._mapping.periods.closed.value
        try:
            invoice, note = self._invoice(request.invoice_id)
            customer = None
            if request.customer_id:
                customer = self._erp.find_customer(customer_id=request.customer_id)
                if customer is None:
                    return RefundContext(
                        invoice=invoice,
                        reason=f"customer {request.customer_id!r} does not exist in the ERP",
                        closed_periods=policy,
                    )
            if customer is None and invoice is not None:
                customer = self._erp.find_customer(customer_id=invoice.customer_id)
            if customer is None:
                customer = self._customers.resolve(
                    customer_reference_id=request.customer_reference_id,
                    paytrace_customer_id=request.paytrace_customer_id,
                    email=request.email,
                )
        except ErpError as exc:
            raise to_application_error(exc) from None
        reason = ""
        if customer is None:
            reason = _no_customer(request, note)
        return RefundContext(
            customer=customer, invoice=invoice, reason=reason, closed_periods=policy
        )

    def _invoice(self, number: str) -> tuple[OpenInvoice | None, str]:
        if not number.strip():
            return None, ""
        try:
            return self._erp.invoice_by_number(number), ""
        except ErpBusinessError as exc:
            return None, str(exc)

    @activity.defn(name=names.WRITE_CREDIT_MEMO)
    def write_credit_memo(self, memo: CreditMemo) -> ErpDocument:
        """Write the pending credit memo of a refund, exactly once."""
        tag_span(transaction_id=memo.paytrace_transaction_id)
        return tag_written(erp_call(lambda: self._erp.write_credit_memo(memo)))

    @activity.defn(name=names.REVERSE_RECEIPT)
    def reverse_receipt(self, reversal: ReceiptReversal) -> ErpDocument:
        """Reverse a posted receipt and reopen what it paid, exactly once."""
        tag_span(transaction_id=reversal.paytrace_transaction_id)
        return tag_written(erp_call(lambda: self._erp.reverse_receipt(reversal)))

    @activity.defn(name=names.WRITE_DEPOSIT)
    def write_deposit(self, deposit: Deposit) -> ErpDocument:
        """Write the bank deposit of a settled batch, exactly once."""
        return erp_call(lambda: self._erp.write_deposit(deposit))

    @activity.defn(name=names.WRITE_JOURNAL)
    def write_journal(self, entry: JournalEntry) -> ErpDocument:
        """Write a balanced GL journal entry (fees, refund-only deposits), exactly once."""
        return erp_call(lambda: self._erp.write_journal(entry))

    @activity.defn(name=names.FLAGGED_REFUND_MEMOS)
    def flagged_refund_memos(self, query: FlaggedMemoQuery) -> list[FlaggedMemo]:
        """Posted credit memos an ERP user flagged for a card refund (none when disabled)."""
        if not self._mapping.refunds.from_erp:
            return []
        return erp_call(lambda: self._erp.flagged_refund_memos(query.flag, query.since))


def _no_customer(request: RefundContextRequest, note: str) -> str:
    what = f"invoice {request.invoice_id!r}" if request.invoice_id else "no invoice number"
    hints = [h for h in (request.customer_reference_id, request.paytrace_customer_id) if h]
    named = f", customer reference {' / '.join(hints)}" if hints else ", no customer reference"
    reason = f"the refund's customer could not be identified ({what}{named})"
    if note:
        reason += f": {note}"
    return reason + "; post_on_account --customer C… or apply_to the refunded invoice"
