"""A test-only workflow whose history holds what it was given (tests/test_secret_scan.py).

Kept apart from the test module so the workflow sandbox imports nothing but Temporal.
"""

from temporalio import workflow


@workflow.defn(name="SecretProbe")
class SecretProbe:
    """End at once, returning a fixed word: the input stays in the started event."""

    @workflow.run
    async def run(self, note: str) -> str:
        """Return ``ok``.

        Args:
            note: anything; it is recorded in the workflow's history.

        Returns:
            ``ok``.
        """
        return "ok"
