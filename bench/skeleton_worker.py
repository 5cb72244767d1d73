"""A worker process for the skeleton workflow: ``python -m bench.skeleton_worker``.

Built like ``tracepost worker`` (same settings from the environment, same client and payload
codec, one worker on the main queue and one on the ERP queue, a thread pool for synchronous
activities), but its only activity does nothing. Stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor

from temporalio import activity
from temporalio.worker import Worker

from bench.skeleton import NOOP, BenchSkeleton
from workers.settings import Settings
from workers.temporal_client import connect


@activity.defn(name=NOOP)
def bench_noop(step: int) -> int:
    """Do nothing (in the thread pool, as the ERP activities run).

    Args:
        step: the step's number.

    Returns:
        The same number.
    """
    return step


async def serve() -> None:
    """Poll both queues until SIGTERM."""
    settings = Settings()
    client = await connect(settings)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    with ThreadPoolExecutor(max_workers=16) as executor:
        workers = [
            Worker(
                client,
                task_queue=settings.task_queue,
                workflows=[BenchSkeleton],
                activities=[bench_noop],
                activity_executor=executor,
            ),
            Worker(
                client,
                task_queue=settings.erp_task_queue,
                activities=[bench_noop],
                activity_executor=executor,
            ),
        ]
        tasks = [asyncio.create_task(w.run()) for w in workers]
        await stop.wait()
        await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
        await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    """Run the skeleton worker; exit without the SDK's interpreter-exit crash."""
    asyncio.run(serve())
    sys.stdout.flush()
    os._exit(0)  # the SDK's native threads can crash at interpreter exit (sdk-python#300)


if __name__ == "__main__":
    main()
