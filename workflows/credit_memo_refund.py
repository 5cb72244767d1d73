"""CreditMemoRefund: an ERP credit memo flagged for a card refund is refunded in PayTrace once.

An AR clerk enters a credit memo whose comment starts with the mapping's flag and names the
PayTrace payment (``REFUND PT 1000123``); the ERP sweep finds it. The workflow checks the memo
against the payment (an approved payment, the same customer, not more than is left to refund),
records its intent in the store **before** anything is sent (so the PayTrace refund is never
taken for a new one, and the memo is never refunded twice), then: a full refund of an unsettled
payment becomes a void; a partial one waits for settlement; a settled one is refunded with
``refund/for_transaction``, read back before any retry.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities import names
    from domain.activity_io import RefundRequest, RefundResult, VoidResult
    from domain.erp_documents import FlaggedMemo
    from domain.models import PaytraceTransaction, ReceiptRecord, TransactionType
    from domain.refund_io import (
        FlaggedMemoQuery,
        MemoRefundInput,
        MemoRefundOutcome,
        MemoRefundResult,
    )
    from domain.search_attributes import ERP_CUSTOMER_ID, ERP_DOCUMENT, PAYTRACE_TXN_ID
    from domain.store_io import CardRefundIntent, CardRefundStatus
    from workflows import options
    from workflows.attention import (
        RETRY_OR_HANDLED,
        AttentionWorkflow,
        Handled,
        describe,
        reraise_cancellation,
    )

SETTLEMENT_POLL = timedelta(hours=1)
SETTLEMENT_WAIT = timedelta(days=5)
ZERO = Decimal("0.00")
DONE = (CardRefundStatus.REFUNDED, CardRefundStatus.VOIDED)
_MONEY_REJECTIONS = ("paytrace_validation", "paytrace_declined", "paytrace_nothing_to_refund")


class _Cancelled(Exception):
    """The memo is no longer flagged: nothing to refund."""


class _Recheck(Exception):
    """An operator asked to retry a check: read the memo again and start the checks over."""


class _PaymentGone(Exception):
    """The payment stopped being money received (voided) before it could be refunded."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def original_transaction(comment: str, flag: str) -> int | None:
    """The PayTrace transaction a flagged memo's comment names, e.g. ``REFUND PT 1000123``.

    Args:
        comment: the memo's comment.
        flag: the mapping's flag (``REFUND PT``), compared case-insensitively.

    Returns:
        The transaction id, or None when the comment names none after the flag.
    """
    pattern = rf"^\s*{re.escape(flag)}\s*[#:]?\s*(\d{{1,19}})\b"
    found = re.match(pattern, comment, flags=re.IGNORECASE)
    return int(found.group(1)) if found else None


@workflow.defn(name="CreditMemoRefund")
class CreditMemoRefund(AttentionWorkflow):
    """Refund in PayTrace, once, what an ERP credit memo flagged for card refund asks for."""

    def __init__(self) -> None:
        super().__init__()
        self._memo: FlaggedMemo | None = None
        self._result: MemoRefundResult | None = None
        self._intent: CardRefundIntent | None = None
        self._uncertain = False

    @workflow.query
    def status(self) -> MemoRefundResult | None:
        """The result once finished; None while it runs (see ``attention`` when it waits)."""
        return self._result

    @workflow.run
    async def run(self, request: MemoRefundInput) -> MemoRefundResult:
        """Refund (or void) the memo's payment; park for an operator on anything doubtful."""
        self._memo = request.memo
        self._subject = f"credit memo {request.memo.erp_document} of {request.memo.amount}"
        workflow.upsert_search_attributes(
            [
                ERP_DOCUMENT.value_set(request.memo.erp_document),
                ERP_CUSTOMER_ID.value_set(request.memo.customer_id),
            ]
        )
        self._set_stage("processing")
        await self._audit("received", {"source": request.source, "memo": request.memo.erp_document})
        try:
            result = await self._refund(request)
        except Handled as handled:
            note = await self._close_intent()
            result = self._finish(MemoRefundOutcome.HANDLED, reason=handled.note + note)
        except _Cancelled:
            await self._close_intent()
            result = self._finish(
                MemoRefundOutcome.CANCELLED,
                reason="the memo is no longer flagged for a card refund in the ERP",
            )
        except _PaymentGone as gone:
            await self._close_intent()
            result = self._finish(MemoRefundOutcome.CANCELLED, reason=gone.reason)
        await self._audit("finished", result.model_dump(mode="json"))
        return result

    async def _close_intent(self) -> str:
        """Cancel the recorded intent when no money can have moved; say so when it may have.

        A cancelled intent no longer counts against what is left to refund, and no PayTrace
        refund is taken for it any more. After a lost answer the outcome is not known: the
        intent stays open, so it keeps counting and keeps being recognised.
        """
        intent = self._intent
        if intent is None or intent.status is not CardRefundStatus.REQUESTED:
            return ""
        if self._uncertain:
            return (
                "; a refund or void may have reached PayTrace (its answer was lost): the"
                " memo's refund intent stays open, check PayTrace"
            )
        self._intent = await self._call(
            names.FINISH_CARD_REFUND,
            intent.model_copy(update={"status": CardRefundStatus.CANCELLED}),
            CardRefundIntent,
            options.STORE,
        )
        return ""

    async def _refund(self, request: MemoRefundInput) -> MemoRefundResult:
        while True:
            try:
                return await self._attempt(request)
            except _Recheck:
                request = request.model_copy(update={"memo": await self._reread(request)})

    async def _attempt(self, request: MemoRefundInput) -> MemoRefundResult:
        memo = request.memo
        self._memo = memo
        original_id = await self._original_id(request)
        self._transaction_id = original_id
        workflow.upsert_search_attributes([PAYTRACE_TXN_ID.value_set(str(original_id))])
        earlier: list[CardRefundIntent] = await self._call(
            names.CARD_REFUNDS_OF, original_id, list[CardRefundIntent], options.STORE
        )
        mine = next((i for i in earlier if i.memo_key == memo.erp_document), None)
        if mine is not None and mine.status in DONE:
            return self._done(mine, MemoRefundOutcome.ALREADY_DONE, f"{mine.status.value} before")
        if mine is not None and mine.status is CardRefundStatus.CANCELLED:
            return self._done(mine, MemoRefundOutcome.ALREADY_DONE, "closed before by an operator")
        original = await self._approved_payment(original_id)
        await self._check_customer(original_id)
        others = [i for i in earlier if i.memo_key != memo.erp_document]
        taken = sum((i.amount for i in others if i.status is not CardRefundStatus.CANCELLED), ZERO)
        await self._check_amount(original, taken)
        intent: CardRefundIntent = await self._call(
            names.REQUEST_CARD_REFUND,
            mine
            or CardRefundIntent(
                memo_key=memo.erp_document,
                workflow_id=workflow.info().workflow_id,
                original_transaction_id=original_id,
                invoice_id=original.invoice_id,
                masked_card=original.masked_card_number,
                customer_id=memo.customer_id,
                amount=memo.amount,
                requested_at=workflow.now(),
            ),
            CardRefundIntent,
            options.STORE,
        )
        if intent.status in DONE or intent.status is CardRefundStatus.CANCELLED:
            return self._done(
                intent, MemoRefundOutcome.ALREADY_DONE, f"{intent.status.value} before"
            )
        self._intent = intent
        await self._audit("intent", {"original": original_id, "amount": str(memo.amount)})
        asked_before = intent.requested_at < workflow.info().start_time
        if original.settled_at is None and intent.amount == original.amount and taken == ZERO:
            voided = await self._void(intent)
            if voided is not None:
                return voided
            original = await self._fetch(original_id)  # it settled while the void failed
        original = await self._settled(original)
        return await self._send_refund(intent, taken, others, asked_before)

    # -- checks ---------------------------------------------------------------------------

    async def _original_id(self, request: MemoRefundInput) -> int:
        """The payment the memo names; an unreadable comment parks (retry re-reads the memo)."""
        memo = request.memo
        found = original_transaction(memo.comment, request.flag)
        if found is not None:
            return found
        await self._park(
            "memo_flag",
            f"credit memo {memo.erp_document}'s comment {memo.comment!r} does not name a"
            f" PayTrace transaction after {request.flag!r} (e.g. '{request.flag} 1000123');"
            " correct the comment in the ERP and retry, or mark_handled",
            (),
            RETRY_OR_HANDLED,
        )
        raise _Recheck

    async def _reread(self, request: MemoRefundInput) -> FlaggedMemo:
        """The memo as the ERP holds it now; gone from the flagged ones: cancelled."""
        memo = request.memo
        found: list[FlaggedMemo] = await self._call_erp(
            names.FLAGGED_REFUND_MEMOS,
            FlaggedMemoQuery(flag=request.flag, since=memo.memo_date),
            list[FlaggedMemo],
        )
        for candidate in found:
            if candidate.erp_document == memo.erp_document:
                self._memo = candidate
                return candidate
        raise _Cancelled

    async def _fetch(self, transaction_id: int) -> PaytraceTransaction:
        txn: PaytraceTransaction = await self._call(
            names.FETCH_TRANSACTION, transaction_id, PaytraceTransaction, options.PAYTRACE
        )
        return txn

    async def _approved_payment(self, transaction_id: int) -> PaytraceTransaction:
        txn = await self._fetch(transaction_id)
        if txn.money_received:
            return txn
        await self._park(
            "memo_original",
            f"PayTrace transaction {transaction_id} named by the memo is a"
            f" {txn.transaction_type.value} with status {txn.status_code}, not an approved"
            " payment that can be refunded; correct the memo and retry, or mark_handled",
            (),
            RETRY_OR_HANDLED,
        )
        raise _Recheck

    async def _check_customer(self, transaction_id: int) -> None:
        """The memo's customer must be the customer the payment was posted to."""
        memo = self._memo
        assert memo is not None
        receipt: ReceiptRecord | None = await self._call_erp(
            names.FIND_RECEIPT, transaction_id, ReceiptRecord | None
        )
        if receipt is None:
            await self._audit("no_receipt", {"original": transaction_id})
            return
        if receipt.customer_id.strip().upper() == memo.customer_id.strip().upper():
            return
        await self._park(
            "memo_customer",
            f"credit memo {memo.erp_document} is for customer {memo.customer_id}, but"
            f" PayTrace payment {transaction_id} was posted to customer {receipt.customer_id};"
            " correct the memo and retry, or mark_handled",
            (),
            RETRY_OR_HANDLED,
        )
        raise _Recheck

    async def _check_amount(self, original: PaytraceTransaction, taken: Decimal) -> None:
        memo = self._memo
        assert memo is not None
        if ZERO < memo.amount <= original.amount - taken:
            return
        await self._park(
            "memo_amount",
            f"credit memo {memo.erp_document} asks for {memo.amount}, but payment"
            f" {original.transaction_id} of {original.amount} has {original.amount - taken}"
            " left to refund (other memos took the rest); correct the memo and retry, or"
            " mark_handled",
            (),
            RETRY_OR_HANDLED,
        )
        raise _Recheck

    async def _settled(self, original: PaytraceTransaction) -> PaytraceTransaction:
        """Wait for the payment's settlement: a partial refund cannot be a void."""
        waited = timedelta()
        while original.settled_at is None:
            if waited >= SETTLEMENT_WAIT:
                await self._park(
                    "memo_unsettled",
                    f"payment {original.transaction_id} has not settled in"
                    f" {SETTLEMENT_WAIT.days} days; a partial refund must wait for it; retry"
                    " waits again",
                    (),
                    RETRY_OR_HANDLED,
                )
                waited = timedelta()
            self._set_stage("awaiting_settlement")
            await workflow.sleep(SETTLEMENT_POLL)
            waited += SETTLEMENT_POLL
            original = await self._fetch(original.transaction_id)
            if not original.money_received:
                raise _PaymentGone(
                    f"payment {original.transaction_id} became {original.transaction_type.value}"
                    " in PayTrace while the refund waited for settlement: nothing to refund"
                )
        self._set_stage("processing")
        return original

    # -- money ----------------------------------------------------------------------------

    async def _void(self, intent: CardRefundIntent) -> MemoRefundResult | None:
        """Void the unsettled payment; None when it settled meanwhile (then it is refunded)."""
        while True:
            try:
                voided: VoidResult = await workflow.execute_activity(
                    names.VOID_TRANSACTION,
                    intent.original_transaction_id,
                    result_type=VoidResult,
                    **options.PAYTRACE_MONEY,
                )
                break
            except ActivityError as err:
                reraise_cancellation(err)
                kind, reason = describe(err)
                self._uncertain = self._uncertain or kind not in _MONEY_REJECTIONS
                await self._park(kind, f"void: {reason}", (), RETRY_OR_HANDLED)
                original = await self._fetch(intent.original_transaction_id)
                if original.transaction_type is TransactionType.VOID:
                    voided = VoidResult(
                        transaction_id=intent.original_transaction_id, already_void=True
                    )
                    break
                if original.settled_at is not None:
                    await self._audit("settled_meanwhile", {"original": original.transaction_id})
                    return None
        done = await self._record(intent, CardRefundStatus.VOIDED, None)
        note = "already void" if voided.already_void else "voided before settlement"
        return self._done(done, MemoRefundOutcome.VOIDED, note)

    async def _send_refund(
        self,
        intent: CardRefundIntent,
        taken: Decimal,
        others: list[CardRefundIntent],
        asked_before: bool,
    ) -> MemoRefundResult:
        request = RefundRequest(
            transaction_id=intent.original_transaction_id,
            amount=intent.amount,
            already_refunded=taken,
            requested_at=intent.requested_at,
            known_refund_ids=tuple(
                i.refund_transaction_id for i in others if i.refund_transaction_id
            ),
            read_back_first=asked_before,
        )
        while True:
            try:
                refund: RefundResult = await workflow.execute_activity(
                    names.REFUND_TRANSACTION,
                    request,
                    result_type=RefundResult,
                    **options.PAYTRACE_MONEY,
                )
                break
            except ActivityError as err:
                reraise_cancellation(err)
                kind, reason = describe(err)
                self._uncertain = self._uncertain or kind not in _MONEY_REJECTIONS
                hint = (
                    " (PayTrace refused it; nothing was refunded)"
                    if kind in _MONEY_REJECTIONS
                    else ""
                )
                await self._park(kind, f"refund: {reason}{hint}", (), RETRY_OR_HANDLED)
                request = request.model_copy(update={"read_back_first": True})
        done = await self._record(intent, CardRefundStatus.REFUNDED, refund.refund_transaction_id)
        return self._done(
            done, MemoRefundOutcome.REFUNDED, f"refunded as {refund.refund_transaction_id}"
        )

    async def _record(
        self, intent: CardRefundIntent, status: CardRefundStatus, refund_id: int | None
    ) -> CardRefundIntent:
        done: CardRefundIntent = await self._call(
            names.FINISH_CARD_REFUND,
            intent.model_copy(update={"status": status, "refund_transaction_id": refund_id}),
            CardRefundIntent,
            options.STORE,
        )
        await self._audit(status.value, {"refund_transaction_id": refund_id})
        return done

    def _done(
        self, intent: CardRefundIntent, outcome: MemoRefundOutcome, note: str
    ) -> MemoRefundResult:
        return self._finish(
            outcome,
            original_transaction_id=intent.original_transaction_id,
            refund_transaction_id=intent.refund_transaction_id,
            amount=intent.amount,
            reason=f"credit memo {intent.memo_key}: {note}",
        )

    def _finish(self, outcome: MemoRefundOutcome, **fields: Any) -> MemoRefundResult:
        memo = self._memo
        self._result = MemoRefundResult(
            memo=memo.erp_document if memo else "", outcome=outcome, **fields
        )
        self._set_stage(outcome.value)
        return self._result


__all__ = ["CreditMemoRefund", "original_transaction"]
