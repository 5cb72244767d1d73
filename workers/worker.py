"""The worker process: runs the workflows and their activities."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from temporalio.client import Client
from temporalio.worker import Worker

from connectors.erp.errors import ErpUnavailableError
from workers.composition import Components
from workers.failure_alerts import RepeatedFailureAlerts
from workers.mapping_file import Problem, check_mapping, errors_of, structural_problems
from workers.metrics import ActivityMetrics
from workflows.registry import ALL_WORKFLOWS

log = logging.getLogger(__name__)


class MappingRefusedError(RuntimeError):
    """The mapping has errors; the worker does not start with it."""


def verify_mapping(components: Components) -> list[Problem]:
    """Check the mapping against the ERP; refuse with every error, log the warnings.

    An ERP that cannot be reached right now is not a verdict: the structural checks still run,
    a warning says the ERP checks were skipped, and activities retry until the ERP answers.

    Args:
        components: the process's connectors (settings, mapping, ERP).

    Returns:
        The warnings.

    Raises:
        MappingRefusedError: listing every error.
    """
    settings = components.settings
    today = datetime.now(UTC).astimezone(ZoneInfo(settings.paytrace_timezone)).date()
    try:
        problems = check_mapping(settings.mapping, settings.erp, components.erp, today)
    except ErpUnavailableError as exc:
        log.warning("mapping not checked against the ERP (unreachable: %s)", exc)
        problems = structural_problems(settings.mapping, settings.erp)
    errors = errors_of(problems)
    if errors:
        source = settings.mapping_file or f"the {settings.erp} starter mapping"
        listed = "\n".join(f"  {p}" for p in errors)
        raise MappingRefusedError(f"the mapping ({source}) cannot be used:\n{listed}")
    for problem in problems:
        log.warning("mapping: %s", problem)
    return problems


def build_workers(
    client: Client, components: Components, executor: ThreadPoolExecutor
) -> list[Worker]:
    """Build the two workers of a worker process.

    The main task queue runs workflows and PayTrace/store activities; the ERP task queue runs
    ERP activities under ``max_task_queue_activities_per_second`` to protect the ERP. Both raise
    a ``repeated_failure`` alert for an activity that keeps failing (workers/failure_alerts.py)
    and time PayTrace calls and ERP writes (workers/metrics.py).

    Args:
        client: the Temporal client.
        components: connectors to inject into the activities.
        executor: the thread pool for synchronous (database) activities.

    Returns:
        The workers, not yet running.
    """
    settings = components.settings
    # an activity failing alert_failure_attempts attempts in a row raises a repeated_failure alert
    failures = RepeatedFailureAlerts(components.store.raise_alert, settings.alert_failure_attempts)
    timings = ActivityMetrics()  # PayTrace and ERP-write latency and error classes
    main = Worker(
        client,
        task_queue=settings.task_queue,
        workflows=ALL_WORKFLOWS,
        activities=components.workflow_queue_activities(client),
        activity_executor=executor,
        interceptors=[failures, timings],
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_shutdown_grace_seconds),
    )
    erp = Worker(
        client,
        task_queue=settings.erp_task_queue,
        activities=components.erp_queue_activities(),
        activity_executor=executor,
        max_task_queue_activities_per_second=settings.erp_max_activities_per_second,
        interceptors=[failures, timings],
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_shutdown_grace_seconds),
    )
    return [main, erp]


async def run_workers(client: Client, components: Components, stop: asyncio.Event) -> None:
    """Run the workers until ``stop`` is set, then shut them down gracefully.

    Args:
        client: the Temporal client.
        components: connectors to inject.
        stop: set it to stop.
    """
    with ThreadPoolExecutor(max_workers=16, thread_name_prefix="tracepost-activity") as executor:
        workers = build_workers(client, components, executor)
        tasks = [asyncio.create_task(w.run()) for w in workers]
        log.info(
            "worker polling %s and %s",
            components.settings.task_queue,
            components.settings.erp_task_queue,
        )
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if task is not stopper and (exc := task.exception()) is not None:
                raise exc
