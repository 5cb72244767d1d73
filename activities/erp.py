"""Activities that read the ERP for matching and write receipts; on the ERP's rate-limited queue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import names
from activities.errors import to_application_error
from activities.observability import tag_span, tag_written
from connectors.erp.errors import ErpError
from connectors.erp.protocol import ErpConnector
from domain.activity_io import InvoiceLookup, MatchContext, MatchRequest
from domain.erp_documents import CustomerDetail
from domain.mapping import Mapping
from domain.matching import MatchInput
from domain.models import CashReceipt, ErpCustomer, PaymentSource, ReceiptRecord
from domain.reversal_io import ReceiptQuery

T = TypeVar("T")


def erp_call(call: Callable[[], T]) -> T:
    """Run a connector call, turning its typed errors into Temporal's retry behaviour.

    Args:
        call: the connector call.

    Returns:
        Its result.

    Raises:
        ApplicationError: a business rejection (non-retryable, typed) or connection trouble.
    """
    try:
        return call()
    except ErpError as exc:
        raise to_application_error(exc) from None


def as_customer(detail: CustomerDetail) -> ErpCustomer:
    """A customer detail as the matching engine's ``ErpCustomer``."""
    return ErpCustomer(
        customer_id=detail.customer_id,
        name=detail.name,
        active=detail.active,
        on_hold=detail.on_hold,
        paytrace_customer_id=detail.paytrace_customer_id,
        email=detail.email,
    )


class CustomerResolver:
    """Finds the ERP customer of a PayTrace transaction by the mapping's harmonization rules.

    Args:
        erp: the ERP connector.
        mapping: the deployment's mapping (``customers``).
    """

    def __init__(self, erp: ErpConnector, mapping: Mapping) -> None:
        self._erp = erp
        self._rules = mapping.customers

    def resolve(
        self, *, customer_reference_id: str, paytrace_customer_id: str, email: str
    ) -> ErpCustomer | None:
        """The customer the PayTrace fields name, trying the configured sources in order.

        The PayTrace vault id is always tried last through the ERP's link field. An e-mail
        that several customers share names none of them.

        Raises:
            ErpError: when the ERP refuses or cannot be reached.
        """
        values = {
            "customer_reference_id": customer_reference_id,
            "customer_id": paytrace_customer_id,
            "email": email,
        }
        for source in self._rules.id_sources:
            raw = values[source].strip()
            if not raw:
                continue
            if source == "email":
                found = self._erp.find_customers(email=raw)
                if len(found) == 1:
                    return as_customer(found[0])
                continue
            harmonized = self._rules.harmonize(raw)
            customer = self._erp.find_customer(customer_id=harmonized) if harmonized else None
            if customer is not None:
                return customer
        if paytrace_customer_id.strip():
            return self._erp.find_customer(paytrace_customer_id=paytrace_customer_id.strip())
        return None


class ErpActivities:
    """ERP reads and receipt writes, with the connector injected. Synchronous: thread pool.

    Args:
        erp: the ERP connector.
        mapping: the deployment's mapping (matching policy, customers, cash accounts).
        timezone: the merchant's time zone (what "today" is for a document date).
    """

    def __init__(self, erp: ErpConnector, mapping: Mapping, timezone: str) -> None:
        self._erp = erp
        self._mapping = mapping
        self._policy = mapping.match_policy
        self._customers = CustomerResolver(erp, mapping)
        self._tz = ZoneInfo(timezone)

    @activity.defn(name=names.LOAD_MATCH_INPUT)
    def load_match_input(self, request: MatchRequest) -> MatchContext:
        """Read what matching needs: the customer, the invoice by number, open invoices.

        Args:
            request: the payment's amount, invoice number and customer hints.

        Returns:
            The ERP context and the matching policy.
        """

        def load() -> MatchInput:
            customer = self._customers.resolve(
                customer_reference_id=request.customer_id,
                paytrace_customer_id=request.paytrace_customer_id,
                email=request.email,
            )
            invoice = (
                self._erp.invoice_by_number(request.invoice_id) if request.invoice_id else None
            )
            if customer is None and invoice is not None:
                customer = self._erp.find_customer(customer_id=invoice.customer_id)
            open_invoices = self._erp.open_invoices(customer.customer_id) if customer else []
            return MatchInput(
                amount=request.amount,
                invoice_id=request.invoice_id,
                customer=customer,
                invoice_by_number=invoice,
                open_invoices=tuple(open_invoices),
            )

        return MatchContext(
            match_input=erp_call(load), policy=self._policy, orders=self._mapping.order_policy
        )

    @activity.defn(name=names.INVOICES_BY_NUMBER)
    def invoices_by_number(self, numbers: list[str]) -> InvoiceLookup:
        """Look invoices up by number, for an operator's ``apply_to``.

        Args:
            numbers: invoice numbers as the operator typed them.

        Returns:
            The invoices found and the numbers not found.
        """

        def lookup() -> InvoiceLookup:
            found = []
            missing = []
            for number in numbers:
                invoice = self._erp.invoice_by_number(number)
                if invoice is None:
                    missing.append(number)
                else:
                    found.append(invoice)
            return InvoiceLookup(found=tuple(found), missing=tuple(missing))

        return erp_call(lookup)

    @activity.defn(name=names.FIND_RECEIPT)
    def find_receipt(self, transaction_id: int) -> ReceiptRecord | None:
        """Read back what the ERP already holds for a PayTrace card transaction."""
        tag_span(transaction_id=transaction_id)
        return tag_written(erp_call(lambda: self._erp.find_receipt(transaction_id)))

    @activity.defn(name=names.FIND_RECEIPT_OF)
    def find_receipt_of(self, query: ReceiptQuery) -> ReceiptRecord | None:
        """Read back the receipt of a card or ACH payment."""
        tag_span(transaction_id=query.transaction_id)
        return tag_written(
            erp_call(lambda: self._erp.find_receipt(query.transaction_id, query.method))
        )

    @activity.defn(name=names.WRITE_RECEIPT)
    def write_receipt(self, receipt: CashReceipt) -> ReceiptRecord:
        """Write the pending cash receipt with its applications, exactly once.

        An ACH receipt goes to the mapping's ACH cash account when one is set.
        """
        if (
            receipt.source is PaymentSource.ACH
            and not receipt.cash_account
            and self._mapping.receipts.ach_cash_account
        ):
            receipt = receipt.model_copy(
                update={"cash_account": self._mapping.receipts.ach_cash_account}
            )
        tag_span(transaction_id=receipt.paytrace_transaction_id)
        return tag_written(erp_call(lambda: self._erp.write_receipt(receipt)))

    @activity.defn(name=names.POST_RECEIPT)
    def post_receipt(self, transaction_id: int) -> ReceiptRecord:
        """Post the card receipt's batch with the configured strategy; idempotent."""
        tag_span(transaction_id=transaction_id)
        return tag_written(erp_call(lambda: self._erp.post_receipt(transaction_id)))

    @activity.defn(name=names.POST_RECEIPT_OF)
    def post_receipt_of(self, query: ReceiptQuery) -> ReceiptRecord:
        """Post the receipt batch of a card or ACH payment; idempotent."""
        tag_span(transaction_id=query.transaction_id)
        return tag_written(
            erp_call(lambda: self._erp.post_receipt(query.transaction_id, query.method))
        )

    @activity.defn(name=names.OPEN_PERIOD_DATE)
    def open_period_date(self, at: datetime) -> date:
        """Today in the merchant's time zone, when its ERP period is open.

        Args:
            at: the moment (the workflow's now, UTC).

        Returns:
            The merchant-local date of ``at``.

        Raises:
            ApplicationError: ``erp_closed_period`` (non-retryable) when that period is closed
                or missing too.
        """
        today = at.astimezone(self._tz).date()
        period = erp_call(lambda: self._erp.fiscal_period(today))
        if period is None or not period.open:
            label = f"period {period.label}" if period else "no fiscal period"
            raise ApplicationError(
                f"today ({today.isoformat()}) is in {label}, which is not open either; open it"
                " in the ERP, then retry",
                type="erp_closed_period",
                non_retryable=True,
            )
        return today
