"""A test-only workflow: charge once, then post the charge (the shape autopay will have).

Kept apart from the test module so the workflow sandbox imports nothing but Temporal and domain
models.
"""

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

from activities import names
from domain.activity_io import (
    ChargeRequest,
    ChargeResult,
    PaymentPostingInput,
    PaymentPostingResult,
)


class ChargedAndPosted(BaseModel):
    """The charge as the activity reported it, and the posting of it."""

    charge: ChargeResult
    posting: PaymentPostingResult


@workflow.defn
class ChargeThenPost:
    """Charge a vault customer once, then run PaymentPosting for the charge."""

    @workflow.run
    async def run(self, request: ChargeRequest, queue: str) -> ChargedAndPosted:
        charge = await workflow.execute_activity(
            names.CHARGE_CUSTOMER,
            request,
            result_type=ChargeResult,
            task_queue=queue,
            start_to_close_timeout=timedelta(seconds=30),  # > the test client's timeouts
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=200), maximum_attempts=8
            ),
        )
        assert charge.approved, charge.message
        posted: PaymentPostingResult = await workflow.execute_child_workflow(
            "PaymentPosting",
            PaymentPostingInput(transaction_id=charge.transaction_id, source="test"),
            id=f"payment-{charge.transaction_id}",
            task_queue=queue,
            result_type=PaymentPostingResult,
        )
        return ChargedAndPosted(charge=charge, posting=posted)
