"""PaymentPosting: one PayTrace payment becomes one cash receipt applied in the ERP.

re-read the transaction (card) or check (ACH) → validate (a payment, approved, not already
posted) → load the ERP context → match → write the pending receipt batch with its applications →
post → record → done. Whatever cannot be decided or written parks the workflow in
needs-attention until an operator sends the ``resolve`` update; nothing fails silently and
nothing is posted twice. A void announced meanwhile (the ``transaction_voided`` signal of
VoidReversal) ends a payment that was not written yet.

An eCommerce order's payment (its invoice id starts with ``orders.reference_prefix``) is left to
OrderSync, which writes it as the order's prepayment: the posting waits for OrderSync's
``order_synced`` signal or ``orders.wait_minutes``, then reads the receipt back; none parks it
(``order_not_synced``). Histories recorded before this (``ORDER_PAYMENTS_PATCH``) replay as they
ran.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities import names
    from domain.activity_io import (
        InvoiceLookup,
        MatchContext,
        MatchRequest,
        PaymentPostingInput,
        PaymentPostingResult,
        PostingOutcome,
        PostingRecordRequest,
        PostingStatus,
        Resolution,
        ResolutionAction,
    )
    from domain.matching import MatchDecision, MatchOutcome, decide
    from domain.models import (
        NON_PAYMENT_TYPES,
        Application,
        CashReceipt,
        PaymentSource,
        PaytraceTransaction,
        ReceiptRecord,
        ReceiptStatus,
        TransactionType,
        paytrace_tag,
    )
    from domain.order_io import OrderPolicy, matches_reference
    from domain.reversal_io import ReceiptQuery
    from domain.search_attributes import ERP_CUSTOMER_ID, ERP_DOCUMENT, PAYTRACE_TXN_ID
    from workflows import options
    from workflows.attention import (
        ALL_ACTIONS,
        RETRY_OR_HANDLED,
        AttentionWorkflow,
        Handled,
        Interrupted,
        describe,
        reraise_cancellation,
    )

# An authorization is re-read until captured or voided; card authorizations expire after ~7 days.
AUTH_RECHECK = timedelta(hours=1)
AUTH_WAIT = timedelta(days=8)
ZERO = Decimal("0.00")
CLOSED_PERIOD = "erp_closed_period"
VOIDED_REASON = "PayTrace voided the transaction before it was posted"
# Nothing to date yet while the match itself is undecided: post_today is for refused writes.
MATCH_ACTIONS = tuple(a for a in ALL_ACTIONS if a is not ResolutionAction.POST_TODAY)
ORDER_PAYMENTS_PATCH = "order-payments"
"""Order payments left to OrderSync; postings recorded before it replay the old way."""
ORDER_ACTIONS = (
    ResolutionAction.RETRY,
    ResolutionAction.POST_ON_ACCOUNT,
    ResolutionAction.MARK_HANDLED,
)


class OrderPosted(Exception):
    """OrderSync wrote this payment as an order's prepayment: read back, not written again."""

    def __init__(self, record: ReceiptRecord) -> None:
        super().__init__(record.erp_document)
        self.record = record


@workflow.defn(name="PaymentPosting")
class PaymentPosting(AttentionWorkflow):
    """Post one PayTrace payment to the ERP, exactly once."""

    def __init__(self) -> None:
        super().__init__()
        self._transaction_id = 0
        self._method = PaymentSource.CARD
        self._result: PaymentPostingResult | None = None
        self._receipt_date: date | None = None
        self._closed_periods = "park"
        self._order_synced = ""
        self._order_checked = False

    # -- operator interface ---------------------------------------------------------------

    @workflow.query
    def status(self) -> PostingStatus:
        """Where the posting stands, and why it waits if it does."""
        return PostingStatus(
            transaction_id=self._transaction_id,
            stage=self._stage,
            attention=self._attention,
            result=self._result,
        )

    @workflow.signal
    def transaction_voided(self) -> None:
        """PayTrace voided the transaction: a payment not yet written is not posted."""
        self._interrupted = VOIDED_REASON

    @workflow.signal
    def order_synced(self, order_id: str) -> None:
        """OrderSync wrote this payment as the prepayment of the order ``order_id``."""
        self._order_synced = order_id or "?"

    # -- the flow -------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: PaymentPostingInput) -> PaymentPostingResult:
        """Post the payment; park for an operator on anything undecidable."""
        self._transaction_id = request.transaction_id
        self._method = request.method
        self._subject = f"payment {paytrace_tag(request.transaction_id, request.method)}"
        workflow.upsert_search_attributes([PAYTRACE_TXN_ID.value_set(str(request.transaction_id))])
        self._set_stage("processing")
        await self._audit("received", {"source": request.source})
        try:
            result = await self._post(request)
        except Handled as handled:
            result = self._finish(PostingOutcome.HANDLED, reason=handled.note)
        except Interrupted as interrupted:
            result = self._finish(PostingOutcome.VOIDED, reason=interrupted.reason)
        await self._audit("finished", result.model_dump(mode="json"))
        return result

    async def _post(self, request: PaymentPostingInput) -> PaymentPostingResult:
        txn = await self._payment(request.transaction_id)
        if isinstance(txn, PaymentPostingResult):
            return txn

        record = await self._find_receipt(txn.transaction_id)
        if record is not None:
            await self._audit("read_back", {"erp_document": record.erp_document})
            rule, reason = (
                "read_back",
                "the ERP already held this receipt; it was not written again",
            )
        else:
            try:
                record, decision = await self._match_and_write(txn)
                rule, reason = decision.rule, decision.reason
            except OrderPosted as by_order:
                record = by_order.record
                await self._audit("read_back", {"erp_document": record.erp_document})
                rule, reason = (
                    "order_sync",
                    "OrderSync wrote it as the prepayment of its order; it was not written again",
                )
        if record.status is not ReceiptStatus.POSTED:
            record = await self._post_receipt(txn.transaction_id)
        await self._call(
            names.RECORD_POSTING,
            PostingRecordRequest(record=record, workflow_id=workflow.info().workflow_id),
            type(None),
            options.STORE,
        )
        workflow.upsert_search_attributes(
            [
                ERP_CUSTOMER_ID.value_set(record.customer_id),
                ERP_DOCUMENT.value_set(record.erp_document),
            ]
        )
        outcome = (
            PostingOutcome.POSTED
            if record.status is ReceiptStatus.POSTED
            else PostingOutcome.PENDING_MANUAL_POST
        )
        await self._audit(
            outcome.value, {"erp_document": record.erp_document, "batch": record.batch}
        )
        return self._finish(
            outcome,
            rule=rule,
            reason=reason,
            customer_id=record.customer_id,
            erp_document=record.erp_document,
            batch=record.batch,
        )

    async def _find_receipt(self, transaction_id: int) -> ReceiptRecord | None:
        if self._method is PaymentSource.CARD:
            found: ReceiptRecord | None = await self._call_erp(
                names.FIND_RECEIPT, transaction_id, ReceiptRecord | None
            )
            return found
        query = ReceiptQuery(transaction_id=transaction_id, method=self._method)
        ach: ReceiptRecord | None = await self._call_erp(
            names.FIND_RECEIPT_OF, query, ReceiptRecord | None
        )
        return ach

    async def _post_receipt(self, transaction_id: int) -> ReceiptRecord:
        if self._method is PaymentSource.CARD:
            posted: ReceiptRecord = await self._call_erp(
                names.POST_RECEIPT, transaction_id, ReceiptRecord
            )
            return posted
        query = ReceiptQuery(transaction_id=transaction_id, method=self._method)
        ach: ReceiptRecord = await self._call_erp(names.POST_RECEIPT_OF, query, ReceiptRecord)
        return ach

    async def _fetch(self, transaction_id: int) -> PaytraceTransaction:
        name = names.FETCH_TRANSACTION if self._method is PaymentSource.CARD else names.FETCH_CHECK
        txn: PaytraceTransaction = await self._call(
            name, transaction_id, PaytraceTransaction, options.PAYTRACE
        )
        return txn

    async def _payment(self, transaction_id: int) -> PaytraceTransaction | PaymentPostingResult:
        """Re-read the transaction until it is clearly an approved payment, or end the workflow.

        Declines and non-payments end it; an authorization is re-read every
        ``AUTH_RECHECK`` until it is captured, voided or expires (``AUTH_WAIT``); any status
        tracepost cannot interpret parks it (retry re-reads it).
        """
        waited = timedelta()
        while True:
            txn = await self._fetch(transaction_id)
            kind = txn.transaction_type
            if kind in NON_PAYMENT_TYPES:
                return self._finish(
                    PostingOutcome.NOT_A_PAYMENT,
                    reason=f"transaction type {kind.value} is not a payment",
                )
            if txn.declined:
                await self._audit(
                    "declined",
                    {
                        "approval_message": txn.approval_message,
                        "status_message": txn.status_message,
                    },
                )
                return self._finish(
                    PostingOutcome.DECLINED, reason=txn.approval_message or txn.status_message
                )
            if txn.money_received:
                if self._stage != "processing":
                    self._set_stage("processing")
                return txn
            if kind is TransactionType.AUTHORIZATION and txn.approved:
                if waited < AUTH_WAIT:
                    if self._stage != "awaiting_capture":
                        self._set_stage("awaiting_capture")
                    await workflow.sleep(AUTH_RECHECK)
                    waited += AUTH_RECHECK
                    continue
                await self._park(
                    "paytrace_uncaptured",
                    f"authorization of {txn.amount} was not captured within {AUTH_WAIT.days}"
                    " days; retry reads it again (and waits again), mark_handled closes it",
                    (),
                    RETRY_OR_HANDLED,
                )
                waited = timedelta()
                continue
            await self._park(
                "paytrace_status",
                f"PayTrace reports {kind.value} with status {txn.status_code}"
                f" ({txn.status_message or 'no message'}); tracepost cannot tell whether money was"
                " received",
                (),
                RETRY_OR_HANDLED,
            )

    async def _match_and_write(
        self, txn: PaytraceTransaction
    ) -> tuple[ReceiptRecord, MatchDecision]:
        """Decide, write the receipt, and return it with the decision that was carried out."""
        decision = await self._decide(txn)
        while True:
            if decision.outcome is MatchOutcome.NEEDS_ATTENTION:
                resolution = await self._park(
                    f"match_{decision.rule}", decision.reason, decision.candidates, MATCH_ACTIONS
                )
                decision = await self._resolve_decision(txn, decision, resolution)
                continue
            if self._interrupted:
                raise Interrupted(self._interrupted)
            receipt = self._receipt(txn, decision)
            try:
                written: ReceiptRecord = await self._erp(
                    names.WRITE_RECEIPT, receipt, ReceiptRecord
                )
                return written, decision
            except ActivityError as err:
                reraise_cancellation(err)
                kind, reason = describe(err)
                if kind == CLOSED_PERIOD and self._closed_periods == "current":
                    if await self._date_today(receipt.receipt_date):
                        continue
                resolution = await self._park(kind, reason, decision.candidates, ALL_ACTIONS)
                decision = await self._resolve_decision(txn, decision, resolution)

    async def _date_today(self, current: date) -> bool:
        """Date the receipt in today's open period; False when today is what failed too."""
        today: date = await self._call_erp(names.OPEN_PERIOD_DATE, workflow.now(), date)
        if today == current:
            return False
        await self._audit("redated", {"from": current.isoformat(), "to": today.isoformat()})
        self._receipt_date = today
        return True

    async def _decide(self, txn: PaytraceTransaction) -> MatchDecision:
        request = MatchRequest(
            amount=txn.amount,
            invoice_id=txn.invoice_id,
            paytrace_customer_id=txn.customer_id,
            customer_id=txn.customer_reference_id,
            email=txn.email,
        )
        try:
            context: MatchContext = await self._erp(names.LOAD_MATCH_INPUT, request, MatchContext)
        except ActivityError as err:
            # e.g. an invoice number that matches several invoices: every resolution is open
            reraise_cancellation(err)
            kind, reason = describe(err)
            return MatchDecision(outcome=MatchOutcome.NEEDS_ATTENTION, rule=kind, reason=reason)
        self._closed_periods = context.policy.closed_periods
        if (
            not self._order_checked
            and matches_reference(txn.invoice_id, context.orders.reference_prefix)
            and workflow.patched(ORDER_PAYMENTS_PATCH)
        ):
            self._order_checked = True
            return await self._left_to_order(txn, context.orders)
        decision = decide(context.match_input, context.policy)
        await self._audit(
            "matched",
            {
                "outcome": decision.outcome.value,
                "rule": decision.rule,
                "reason": decision.reason,
                "applications": [a.model_dump(mode="json") for a in decision.applications],
                "on_account": str(decision.on_account),
                "written_off": str(decision.written_off),
                "amount": str(txn.amount),
                "customer_id": decision.customer_id,
                "method": self._method.value,
            },
        )
        return decision

    async def _left_to_order(self, txn: PaytraceTransaction, orders: OrderPolicy) -> MatchDecision:
        """An order's payment: let OrderSync write it, then read it back (``OrderPosted``).

        Waits for ``order_synced`` or ``orders.wait_minutes``; no receipt then parks it for a
        person: retry reads back again, post_on_account posts it as a plain payment on account
        (OrderSync then parks instead of writing a second one), mark_handled ends it.
        """
        wait = timedelta(minutes=orders.wait_minutes)
        self._set_stage("awaiting_order")
        await self._audit(
            "order_payment",
            {"invoice_id": txn.invoice_id, "wait_minutes": orders.wait_minutes},
        )
        try:
            await workflow.wait_condition(
                lambda: bool(self._order_synced or self._interrupted), timeout=wait
            )
        except TimeoutError:
            pass
        self._set_stage("processing")
        while True:
            if self._interrupted:
                raise Interrupted(self._interrupted)
            record = await self._find_receipt(txn.transaction_id)
            if record is not None:
                raise OrderPosted(record)
            told = (
                f"OrderSync said order {self._order_synced} was synced, yet"
                if self._order_synced
                else f"no OrderSync wrote it within {orders.wait_minutes} minutes and"
            )
            resolution = await self._park(
                "order_not_synced",
                f"payment of order {txn.invoice_id} ({txn.amount}): {told} the ERP holds no"
                " receipt for it; look at workflow order-<order id> (it may wait for an"
                " operator) and retry, post_on_account --customer C… to post it as a plain"
                " payment, or mark_handled",
                (),
                ORDER_ACTIONS,
            )
            if resolution.action is ResolutionAction.POST_ON_ACCOUNT:
                if not resolution.customer_id:
                    continue
                return MatchDecision(
                    outcome=MatchOutcome.APPLY,
                    rule="operator_on_account",
                    reason=f"operator {resolution.operator or '?'} posted the order's payment"
                    " on account",
                    customer_id=resolution.customer_id,
                    on_account=txn.amount,
                )

    async def _resolve_decision(
        self, txn: PaytraceTransaction, previous: MatchDecision, resolution: Resolution
    ) -> MatchDecision:
        """Turn an operator's resolution into the next decision to carry out."""
        if resolution.action is ResolutionAction.RETRY:
            return await self._decide(txn)
        if resolution.action is ResolutionAction.POST_TODAY:
            if previous.outcome is MatchOutcome.NEEDS_ATTENTION:
                return _attention(
                    "operator",
                    "post_today dates the receipt today, but there is no application to post"
                    " yet: choose apply_to or post_on_account",
                    previous,
                )
            await self._date_today(self._receipt_date or _txn_date(txn, workflow.now().date()))
            return previous
        if resolution.action is ResolutionAction.POST_ON_ACCOUNT:
            customer_id = resolution.customer_id or previous.customer_id
            if not customer_id:
                return _attention(
                    "operator", "post_on_account needs a customer id: none is known", previous
                )
            return MatchDecision(
                outcome=MatchOutcome.APPLY,
                rule="operator_on_account",
                reason=f"operator {resolution.operator or '?'} posted it on account",
                customer_id=customer_id,
                on_account=txn.amount,
            )
        return await self._operator_applications(txn, previous, resolution)

    async def _operator_applications(
        self, txn: PaytraceTransaction, previous: MatchDecision, resolution: Resolution
    ) -> MatchDecision:
        numbers = [i.invoice_number for i in resolution.invoices]
        try:
            lookup: InvoiceLookup = await self._erp(
                names.INVOICES_BY_NUMBER, numbers, InvoiceLookup
            )
        except ActivityError as err:
            reraise_cancellation(err)
            return _attention("operator", describe(err)[1], previous)
        if lookup.missing:
            return _attention(
                "operator", f"invoices not found: {', '.join(lookup.missing)}", previous
            )
        customers = {i.customer_id for i in lookup.found}
        if len(customers) != 1:
            return _attention(
                "operator", f"invoices belong to several customers: {sorted(customers)}", previous
            )
        applications = tuple(
            Application(invoice_number=inv.invoice_number, amount=choice.amount)
            for inv, choice in zip(lookup.found, resolution.invoices, strict=True)
        )
        applied = sum((a.amount for a in applications), ZERO)
        if applied > txn.amount:
            return _attention(
                "operator",
                f"applications total {applied}, more than the payment {txn.amount}",
                previous,
            )
        return MatchDecision(
            outcome=MatchOutcome.APPLY,
            rule="operator_apply_to",
            reason=f"operator {resolution.operator or '?'} applied it to {', '.join(numbers)}",
            customer_id=customers.pop(),
            applications=applications,
            on_account=txn.amount - applied,
            candidates=lookup.found,
        )

    # -- helpers --------------------------------------------------------------------------

    def _receipt(self, txn: PaytraceTransaction, decision: MatchDecision) -> CashReceipt:
        when = self._receipt_date or _txn_date(txn, workflow.now().date())
        return CashReceipt(
            paytrace_transaction_id=txn.transaction_id,
            customer_id=decision.customer_id,
            amount=txn.amount,
            receipt_date=when,
            reference=paytrace_tag(txn.transaction_id, self._method),
            payment_method=txn.masked_card_number,
            applications=decision.applications,
            on_account=decision.on_account,
            source=self._method,
        )

    def _finish(self, outcome: PostingOutcome, **fields: Any) -> PaymentPostingResult:
        self._result = PaymentPostingResult(
            transaction_id=self._transaction_id, outcome=outcome, **fields
        )
        self._set_stage(outcome.value)
        return self._result


def _txn_date(txn: PaytraceTransaction, today: date) -> date:
    """The payment's date as the merchant saw it (PayTrace times are merchant-local)."""
    return txn.created_at.date() if txn.created_at else today


def _attention(rule: str, reason: str, previous: MatchDecision) -> MatchDecision:
    return MatchDecision(
        outcome=MatchOutcome.NEEDS_ATTENTION,
        rule=rule,
        reason=reason,
        customer_id=previous.customer_id,
        candidates=previous.candidates,
    )
