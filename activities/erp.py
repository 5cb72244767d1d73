"""Activities that read and write the ERP; they run on the ERP's rate-limited task queue."""

from __future__ import annotations

from temporalio import activity

from activities import names
from activities.errors import to_application_error
from connectors.erp.errors import ErpError
from connectors.erp.protocol import ErpConnector
from domain.activity_io import InvoiceLookup, MatchContext, MatchRequest
from domain.matching import MatchInput, MatchPolicy
from domain.models import CashReceipt, ReceiptRecord


class ErpActivities:
    """ERP reads and writes, with the connector injected. Synchronous: run in a thread pool.

    Args:
        erp: the ERP connector.
        policy: the deployment's matching policy, handed to workflows with the ERP context.
    """

    def __init__(self, erp: ErpConnector, policy: MatchPolicy) -> None:
        self._erp = erp
        self._policy = policy

    @activity.defn(name=names.LOAD_MATCH_INPUT)
    def load_match_input(self, request: MatchRequest) -> MatchContext:
        """Read what matching needs: the customer, the invoice by number, open invoices.

        Args:
            request: the payment's amount, invoice number and customer hints.

        Returns:
            The ERP context and the matching policy.
        """
        try:
            customer = None
            if request.customer_id or request.paytrace_customer_id:
                customer = self._erp.find_customer(
                    customer_id=request.customer_id,
                    paytrace_customer_id=request.paytrace_customer_id,
                )
            invoice = (
                self._erp.invoice_by_number(request.invoice_id) if request.invoice_id else None
            )
            if customer is None and invoice is not None:
                customer = self._erp.find_customer(customer_id=invoice.customer_id)
            open_invoices = self._erp.open_invoices(customer.customer_id) if customer else []
        except ErpError as exc:
            raise to_application_error(exc) from None
        match_input = MatchInput(
            amount=request.amount,
            invoice_id=request.invoice_id,
            customer=customer,
            invoice_by_number=invoice,
            open_invoices=tuple(open_invoices),
        )
        return MatchContext(match_input=match_input, policy=self._policy)

    @activity.defn(name=names.INVOICES_BY_NUMBER)
    def invoices_by_number(self, numbers: list[str]) -> InvoiceLookup:
        """Look invoices up by number, for an operator's ``apply_to``.

        Args:
            numbers: invoice numbers as the operator typed them.

        Returns:
            The invoices found and the numbers not found.
        """
        found = []
        missing = []
        try:
            for number in numbers:
                invoice = self._erp.invoice_by_number(number)
                if invoice is None:
                    missing.append(number)
                else:
                    found.append(invoice)
        except ErpError as exc:
            raise to_application_error(exc) from None
        return InvoiceLookup(found=tuple(found), missing=tuple(missing))

    @activity.defn(name=names.FIND_RECEIPT)
    def find_receipt(self, transaction_id: int) -> ReceiptRecord | None:
        """Read back what the ERP already holds for a PayTrace transaction."""
        try:
            return self._erp.find_receipt(transaction_id)
        except ErpError as exc:
            raise to_application_error(exc) from None

    @activity.defn(name=names.WRITE_RECEIPT)
    def write_receipt(self, receipt: CashReceipt) -> ReceiptRecord:
        """Write the pending cash receipt with its applications, exactly once."""
        try:
            return self._erp.write_receipt(receipt)
        except ErpError as exc:
            raise to_application_error(exc) from None

    @activity.defn(name=names.POST_RECEIPT)
    def post_receipt(self, transaction_id: int) -> ReceiptRecord:
        """Post the receipt's batch with the configured strategy; idempotent."""
        try:
            return self._erp.post_receipt(transaction_id)
        except ErpError as exc:
            raise to_application_error(exc) from None
