"""The skeleton workflow the end-to-end benchmarks compare PaymentPosting against.

It runs, one after the other, as many no-op activities as a PaymentPosting run did, each on the
same task queue as its counterpart, and nothing else: what is left is the cost of Temporal, the
SDK, the payload codec and the worker processes. Activities are called by name only, and this
module imports nothing but the SDK (the workflow sandbox loads it).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

NOOP = "bench_noop"


@workflow.defn(name="BenchSkeleton")
class BenchSkeleton:
    """Run one no-op activity per step, on the step's task queue."""

    @workflow.run
    async def run(self, steps: list[str]) -> int:
        """Run the steps.

        Args:
            steps: the task queue of each activity, in order.

        Returns:
            How many activities ran.
        """
        for n, queue in enumerate(steps):
            await workflow.execute_activity(
                NOOP,
                n,
                task_queue=queue,
                start_to_close_timeout=timedelta(seconds=60),
            )
        return len(steps)
