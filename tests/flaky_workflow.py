"""A test-only workflow: run one activity with a quick retry policy and report how it ended.

Kept apart from the test module so the workflow sandbox imports nothing but Temporal.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError


@workflow.defn
class RunFlaky:
    """Run the named activity; return its result, or the type and message of its failure."""

    @workflow.run
    async def run(self, activity_name: str, attempts: int, timeout_seconds: float) -> str:
        try:
            result: str = await workflow.execute_activity(
                activity_name,
                start_to_close_timeout=timedelta(seconds=timeout_seconds),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(milliseconds=50),
                    backoff_coefficient=1.0,
                    maximum_attempts=attempts,
                ),
                result_type=str,
            )
            return result
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError):
                return f"failed: {cause.type}: {cause.message}"
            return f"failed: {type(cause).__name__}"
