"""OrderSync: an eCommerce ``order.paid`` event becomes a customer, a sales order and a prepayment.

re-read the payment from PayTrace (the event is never trusted for money): approved, not voided,
its invoice id naming the order, its amount the order's total → find or create the ERP customer
→ write the sales order with its lines (once by order id) → write the payment as the order's
prepayment, wholly unapplied (the ERP's own invoicing of the order consumes it later) → post →
record → tell the payment's PaymentPosting (``payment-<txn>``, which leaves order payments to
OrderSync) with the ``order_synced`` signal. Anything a person must decide parks it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities import names
    from domain.activity_io import PostingRecordRequest, ResolutionAction
    from domain.erp_documents import ErpDocument, SalesOrder, SalesOrderLine
    from domain.models import (
        CashReceipt,
        PaytraceTransaction,
        ReceiptRecord,
        ReceiptStatus,
        TransactionType,
        paytrace_tag,
    )
    from domain.order_io import (
        OrderCustomer,
        OrderCustomerRequest,
        OrderOutcome,
        OrderPaid,
        OrderPolicy,
        OrderSyncInput,
        OrderSyncResult,
        order_lines,
        pays_order,
    )
    from domain.search_attributes import ERP_CUSTOMER_ID, ERP_DOCUMENT, PAYTRACE_TXN_ID
    from domain.store_io import DecisionRecord, DocumentRecordRequest
    from domain.workflow_ids import payment_workflow_id
    from workflows import options
    from workflows.attention import (
        RETRY_OR_HANDLED,
        AttentionWorkflow,
        Handled,
        describe,
        reraise_cancellation,
    )

CLOSED_PERIOD = "erp_closed_period"
CUSTOMER_ACTIONS = (
    ResolutionAction.RETRY,
    ResolutionAction.LINK_TO,
    ResolutionAction.MARK_HANDLED,
)
PREPAYMENT_ACTIONS = (
    ResolutionAction.RETRY,
    ResolutionAction.POST_TODAY,
    ResolutionAction.MARK_HANDLED,
)


@workflow.defn(name="OrderSync")
class OrderSync(AttentionWorkflow):
    """Customer, sales order and prepayment of one paid eCommerce order, exactly once."""

    def __init__(self) -> None:
        super().__init__()
        self._order_id = ""
        self._result: OrderSyncResult | None = None
        self._receipt_date: date | None = None

    @workflow.query
    def status(self) -> OrderSyncResult | None:
        """The result once finished; None while it runs (see ``attention`` when it waits)."""
        return self._result

    @workflow.run
    async def run(self, request: OrderSyncInput) -> OrderSyncResult:
        """Sync the order; park for an operator on anything undecidable."""
        event = request.event
        self._order_id = event.order_id
        self._transaction_id = event.transaction_id
        self._subject = f"order {event.order_id} ({paytrace_tag(event.transaction_id)})"
        workflow.upsert_search_attributes([PAYTRACE_TXN_ID.value_set(str(event.transaction_id))])
        self._set_stage("processing")
        await self._audit(
            "received",
            {
                "source": request.source,
                "order_id": event.order_id,
                "total": str(event.total),
                "lines": len(event.lines),
            },
        )
        try:
            result = await self._sync(event)
        except Handled as handled:
            result = self._finish(OrderOutcome.HANDLED, reason=handled.note)
        await self._audit("finished", result.model_dump(mode="json"))
        return result

    async def _sync(self, event: OrderPaid) -> OrderSyncResult:
        policy: OrderPolicy = await self._call(
            names.ORDER_POLICY, event.order_id, OrderPolicy, options.STORE
        )
        txn = await self._payment(event, policy)
        if isinstance(txn, OrderSyncResult):
            return txn
        lines = await self._lines(event, policy)
        customer = await self._customer(event, txn)
        await self._audit("customer", customer.model_dump(mode="json"))
        if customer.conflicts:
            await self._record_conflicts(event, customer, txn)
        order: ErpDocument = await self._call_erp(
            names.WRITE_SALES_ORDER,
            SalesOrder(
                order_id=event.order_id,
                customer_id=customer.customer_id,
                order_date=event.order_date or self._txn_date(txn),
                lines=lines,
                customer_po=event.customer_po,
                paytrace_transaction_id=txn.transaction_id,
            ),
            ErpDocument,
        )
        await self._audit(
            "sales_order", {"erp_document": order.erp_document, "created": order.created}
        )
        await self._call(
            names.RECORD_DOCUMENT,
            DocumentRecordRequest(
                document=order,
                workflow_id=workflow.info().workflow_id,
                kind="sales_order",
                transaction_id=txn.transaction_id,
            ),
            type(None),
            options.STORE,
        )
        workflow.upsert_search_attributes(
            [
                ERP_CUSTOMER_ID.value_set(order.customer_id),
                ERP_DOCUMENT.value_set(order.erp_document),
            ]
        )
        record = await self._prepay(event, txn, order, policy)
        if record.status is not ReceiptStatus.POSTED:
            record = await self._call_erp(names.POST_RECEIPT, txn.transaction_id, ReceiptRecord)
        await self._call(
            names.RECORD_POSTING,
            PostingRecordRequest(record=record, workflow_id=workflow.info().workflow_id),
            type(None),
            options.STORE,
        )
        await self._tell_posting(txn.transaction_id)
        outcome = (
            OrderOutcome.SYNCED
            if record.status is ReceiptStatus.POSTED
            else OrderOutcome.PENDING_MANUAL_POST
        )
        await self._audit(outcome.value, {"receipt": record.erp_document, "batch": record.batch})
        return self._finish(
            outcome,
            reason=f"sales order {order.erp_document} prepaid by {record.erp_document}",
            customer_id=order.customer_id,
            customer_rule=customer.rule.value,
            customer_created=customer.created,
            sales_order=order.erp_document,
            receipt=record.erp_document,
            batch=record.batch,
            amount=record.amount,
        )

    async def _payment(
        self, event: OrderPaid, policy: OrderPolicy
    ) -> PaytraceTransaction | OrderSyncResult:
        """Re-read the payment until it pays this order, or end the workflow (voided)."""
        while True:
            txn: PaytraceTransaction = await self._call(
                names.FETCH_TRANSACTION, event.transaction_id, PaytraceTransaction, options.PAYTRACE
            )
            if txn.transaction_type is TransactionType.VOID:
                await self._audit("voided", {"transaction_id": txn.transaction_id})
                return self._finish(
                    OrderOutcome.VOIDED,
                    reason="PayTrace voided the payment: nothing was written for the order",
                )
            if not txn.money_received:
                kind = "order_not_paid"
                reason = (
                    f"PayTrace shows transaction {txn.transaction_id} as"
                    f" {txn.transaction_type.value} (status {txn.status_code},"
                    f" {txn.approval_message or txn.status_message or 'no message'}): no money"
                    f" was received for order {event.order_id}; retry reads it again"
                )
            elif txn.amount != event.total:
                kind = "order_amount_mismatch"
                reason = (
                    f"PayTrace transaction {txn.transaction_id} is {txn.amount}, order"
                    f" {event.order_id} comes to {event.total} (lines {event.lines_total},"
                    f" shipping {event.shipping}); enter the order in the ERP by hand and"
                    " mark_handled"
                )
            elif not pays_order(txn.invoice_id, event.order_id, policy.reference_prefix):
                kind = "order_reference_mismatch"
                reason = (
                    f"PayTrace transaction {txn.transaction_id} is for invoice"
                    f" {txn.invoice_id or '(none)'}, not for order {event.order_id}; the event"
                    " names the wrong payment, or the store sets another invoice_id: mark_handled"
                )
            else:
                await self._audit(
                    "confirmed", {"amount": str(txn.amount), "invoice_id": txn.invoice_id}
                )
                return txn
            await self._park(kind, reason, (), RETRY_OR_HANDLED)

    async def _lines(self, event: OrderPaid, policy: OrderPolicy) -> tuple[SalesOrderLine, ...]:
        """The sales order's lines; an unmapped shipping charge parks (retry reads the mapping)."""
        while True:
            try:
                return order_lines(event, policy.shipping_item)
            except ValueError as exc:
                await self._park(
                    "order_shipping_unmapped",
                    f"{exc}; set it in the mapping (and restart the worker), then retry",
                    (),
                    RETRY_OR_HANDLED,
                )
            policy = await self._call(
                names.ORDER_POLICY, event.order_id, OrderPolicy, options.STORE
            )

    async def _customer(self, event: OrderPaid, txn: PaytraceTransaction) -> OrderCustomer:
        """Find or create the order's customer; a refusal parks (``link_to`` names another)."""
        info = event.customer
        while True:
            request = OrderCustomerRequest(
                order_id=event.order_id, customer=info, paytrace_customer_id=txn.customer_id
            )
            try:
                found: OrderCustomer = await self._erp(
                    names.RESOLVE_ORDER_CUSTOMER, request, OrderCustomer
                )
                return found
            except ActivityError as err:
                reraise_cancellation(err)
                kind, reason = describe(err)
            resolution = await self._park(
                kind,
                f"{reason} (link_to --customer C… makes that ERP customer the order's)",
                (),
                CUSTOMER_ACTIONS,
            )
            if resolution.action is ResolutionAction.LINK_TO:
                info = info.model_copy(update={"customer_id": resolution.customer_id.strip()})

    async def _record_conflicts(
        self, event: OrderPaid, customer: OrderCustomer, txn: PaytraceTransaction
    ) -> None:
        """The ERP owns the customer: keep it, and record where the store's data differs."""
        fields = ", ".join(customer.conflicts)
        workflow.logger.warning(
            "order %s: customer %s kept; the store's %s differ(s) from the ERP's",
            event.order_id,
            customer.customer_id,
            fields,
        )
        await self._audit("customer_conflict", {"fields": list(customer.conflicts)})
        info = workflow.info()
        await self._call(
            names.RECORD_CUSTOMER_DECISION,
            DecisionRecord(
                decision_key=f"{info.workflow_id}/{info.run_id}/customer",
                workflow_id=info.workflow_id,
                paytrace_transaction_id=txn.transaction_id,
                outcome="kept_erp",
                rule="erp_owns_customer",
                reason=f"order {event.order_id}: the store's {fields} differ(s) from customer"
                f" {customer.customer_id} in the ERP, which owns them; the ERP's were kept",
                customer_id=customer.customer_id,
                amount=event.total,
                at=workflow.now(),
            ),
            bool,
            options.STORE,
        )

    async def _prepay(
        self,
        event: OrderPaid,
        txn: PaytraceTransaction,
        order: ErpDocument,
        policy: OrderPolicy,
    ) -> ReceiptRecord:
        """Write the payment as the order's prepayment; park on what a person must fix."""
        while True:
            existing: ReceiptRecord | None = await self._call_erp(
                names.FIND_RECEIPT, txn.transaction_id, ReceiptRecord | None
            )
            if existing is None:
                break
            # Written before this run wrote anything: a plain receipt (PaymentPosting's).
            await self._park(
                "order_payment_posted",
                f"the ERP already holds receipt {existing.erp_document} (customer"
                f" {existing.customer_id}, {existing.amount}) for PayTrace transaction"
                f" {txn.transaction_id}, written as a plain payment, not as the prepayment of"
                f" sales order {order.erp_document}: apply it to the order in the ERP and"
                " mark_handled (retry reads the ERP again)",
                (),
                RETRY_OR_HANDLED,
                {"erp_document": existing.erp_document},
            )
        while True:
            when = self._receipt_date or self._txn_date(txn)
            receipt = CashReceipt(
                paytrace_transaction_id=txn.transaction_id,
                customer_id=order.customer_id,
                amount=txn.amount,
                receipt_date=when,
                reference=paytrace_tag(txn.transaction_id),
                payment_method=txn.masked_card_number,
                on_account=txn.amount,
                sales_order=event.order_id,
            )
            try:
                written: ReceiptRecord = await self._erp(
                    names.WRITE_RECEIPT, receipt, ReceiptRecord
                )
            except ActivityError as err:
                reraise_cancellation(err)
                kind, reason = describe(err)
                if kind == CLOSED_PERIOD and policy.closed_periods == "current":
                    if await self._date_today(when):
                        continue
                resolution = await self._park(kind, reason, (), PREPAYMENT_ACTIONS)
                if resolution.action is ResolutionAction.POST_TODAY:
                    await self._date_today(when)
                continue
            await self._audit(
                "prepaid", {"erp_document": written.erp_document, "batch": written.batch}
            )
            return written

    async def _date_today(self, current: date) -> bool:
        """Date the prepayment in today's open period; False when today is what failed too."""
        today: date = await self._call_erp(names.OPEN_PERIOD_DATE, workflow.now(), date)
        if today == current:
            return False
        await self._audit("redated", {"from": current.isoformat(), "to": today.isoformat()})
        self._receipt_date = today
        return True

    async def _tell_posting(self, transaction_id: int) -> None:
        """Tell the payment's PaymentPosting, if it runs, that its receipt is written."""
        workflow_id = payment_workflow_id(transaction_id)
        try:
            await workflow.get_external_workflow_handle(workflow_id).signal(
                "order_synced", self._order_id
            )
        except FailureError:
            return  # not running (never started, or finished): nothing waits for the order
        await self._audit("told_posting", {"workflow_id": workflow_id})

    def _txn_date(self, txn: PaytraceTransaction) -> date:
        """The payment's date as the merchant saw it (PayTrace times are merchant-local)."""
        return txn.created_at.date() if txn.created_at else workflow.now().date()

    def _finish(self, outcome: OrderOutcome, **fields: Any) -> OrderSyncResult:
        self._result = OrderSyncResult(
            order_id=self._order_id,
            transaction_id=self._transaction_id or 0,
            outcome=outcome,
            **fields,
        )
        self._set_stage(outcome.value)
        return self._result
