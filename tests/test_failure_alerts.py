"""The repeated-failure interceptor on a real worker and the Temporal dev server."""

import asyncio
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from connectors.store import Store
from domain.store_io import AlertKind
from tests.flaky_workflow import RunFlaky
from workers.failure_alerts import RepeatedFailureAlerts, failure_alert

CARD = "4012000098765439"


@pytest.fixture
def store(tmp_path):
    store = Store(sa.create_engine(f"sqlite:///{tmp_path}/store.db"))
    store.create_schema()
    yield store
    store.engine.dispose()


async def run_flaky(env, activities, interceptor, name, attempts, seconds=10.0, sync=False):
    queue = f"flaky-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(max_workers=2) as executor:
        async with Worker(
            env.client,
            task_queue=queue,
            workflows=[RunFlaky],
            activities=activities,
            activity_executor=executor if sync else None,
            interceptors=[interceptor],
        ):
            workflow_id = f"flaky-{uuid.uuid4().hex[:8]}"
            result = await env.client.execute_workflow(
                RunFlaky.run,
                args=[name, attempts, seconds],
                id=workflow_id,
                task_queue=queue,
            )
    return workflow_id, result


@pytest.mark.parametrize("sync", [True, False], ids=["thread", "async"])
async def test_one_alert_after_n_failed_attempts_and_the_outcome_is_unchanged(dev_env, store, sync):
    seen: list[int] = []

    def attempt() -> str:
        seen.append(activity.info().attempt)
        if activity.info().attempt <= 4:
            raise RuntimeError(f"the ERP said card {CARD} is refused; password=hunter2")
        return f"ok at attempt {activity.info().attempt}"

    @activity.defn(name="test.flaky")
    def flaky_sync() -> str:
        return attempt()

    @activity.defn(name="test.flaky")
    async def flaky_async() -> str:
        return attempt()

    flaky = flaky_sync if sync else flaky_async
    interceptor = RepeatedFailureAlerts(store.raise_alert, 3)
    workflow_id, result = await run_flaky(
        dev_env, [flaky], interceptor, "test.flaky", attempts=8, sync=sync
    )
    assert result == "ok at attempt 5" and seen == [1, 2, 3, 4, 5]
    (alert,) = store.alerts(kind=AlertKind.REPEATED_FAILURE)
    assert alert.workflow_id == workflow_id
    assert alert.alert_key.startswith(f"repeated-failure/{workflow_id}/")
    assert alert.alert_key.endswith("/1/3")  # activity id 1, threshold 3
    assert alert.subject == f"test.flaky failed 3 attempts in a row ({workflow_id})"
    assert "RunFlaky" in alert.message and "keeps retrying" in alert.message
    assert alert.detail["attempt"] == 3 and alert.detail["error_type"] == "RuntimeError"
    assert alert.detail["activity_type"] == "test.flaky"
    assert "xxxxxxxxxxxx5439" in alert.detail["error"]
    everything = f"{alert.subject} {alert.message} {alert.detail}"
    assert CARD not in everything and "hunter2" not in everything


async def test_a_failing_alert_write_changes_nothing(dev_env, caplog):
    @activity.defn(name="test.rejected")
    async def rejected() -> str:
        final = activity.info().attempt >= 3
        raise ApplicationError("the ERP refused", type="erp_rejected", non_retryable=final)

    def broken(_alert):
        raise RuntimeError("the store is down")

    caplog.set_level(logging.ERROR, logger="workers.failure_alerts")
    _, result = await run_flaky(
        dev_env, [rejected], RepeatedFailureAlerts(broken, 2), "test.rejected", attempts=10
    )
    assert result == "failed: erp_rejected: the ERP refused"
    logged = [r.getMessage() for r in caplog.records]
    assert any("could not raise the repeated-failure alert of test.rejected" in m for m in logged)


async def test_attempts_that_time_out_are_counted_when_the_next_attempt_starts(dev_env, store):
    @activity.defn(name="test.slow")
    async def slow() -> str:
        if activity.info().attempt <= 2:
            await asyncio.sleep(10)
        return "finally"

    _, result = await run_flaky(
        dev_env, [slow], RepeatedFailureAlerts(store.raise_alert, 2), "test.slow", 5, seconds=1
    )
    assert result == "finally"
    (alert,) = store.alerts(kind=AlertKind.REPEATED_FAILURE)
    assert (alert.detail["attempt"], alert.detail["failed_attempts"]) == (3, 2)
    assert alert.detail["error_type"] == "unknown" and "timeout" in alert.detail["error"]


def test_the_alert_of_a_final_failure_and_a_long_key():
    info = replace(
        ActivityEnvironment.default_info(),
        workflow_id="w" * 240,
        workflow_type="PaymentPosting",
        workflow_run_id="run",
        attempt=5,
    )
    at = datetime(2026, 11, 23, tzinfo=UTC)
    alert = failure_alert(
        info, 5, ApplicationError("no", type="erp_rejected", non_retryable=True), at
    )
    assert len(alert.alert_key) <= 250 and alert.alert_key.startswith("repeated-failure/")
    assert "not retried again" in alert.message and alert.detail["error_type"] == "erp_rejected"
    again = failure_alert(info, 5, ValueError("other"), at)
    assert again.alert_key == alert.alert_key  # raised once per activity, whatever the error
