"""A test-only workflow that logs through ``workflow.logger`` (tests/test_logging_json.py).

Kept apart from the test module so the workflow sandbox imports nothing but Temporal.
"""

from temporalio import workflow


@workflow.defn(name="LoggingProbe")
class LoggingProbe:
    """Log one line naming what it was given, then end."""

    @workflow.run
    async def run(self, card: str) -> str:
        workflow.logger.warning("probe got card %s", card)
        return "ok"
