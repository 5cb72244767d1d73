"""Record the PaymentPosting histories that the replay tests replay.

Run ``.venv/bin/python -m tests.record_histories`` after a deliberate, compatible workflow change
(never to paper over a replay failure: that failure means running workflows would break).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from decimal import Decimal
from pathlib import Path

from activities.starter import start_payment_posting
from domain.activity_io import InvoiceAmount, Resolution, ResolutionAction
from tests.stack import running_stack
from tests.temporal_envs import start_dev_server
from workflows import PaymentPosting

HISTORIES = Path(__file__).parent / "histories"


async def _record() -> None:
    env = await start_dev_server()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with running_stack(env.client, Path(tmp), f"sqlite:///{tmp}/erp.db") as stack:
                queue = stack.settings.task_queue
                posted = await stack.sale("125.00", invoice="1001")
                await start_payment_posting(stack.client, queue, posted, "silent_post")
                await stack.handle(posted).result()

                parked = await stack.sale("80.50", invoice="INV-77")
                await start_payment_posting(stack.client, queue, parked, "sweep")
                handle = stack.handle(parked)
                while (await handle.query(PaymentPosting.status)).stage != "needs_attention":
                    await asyncio.sleep(0.2)
                await handle.execute_update(
                    PaymentPosting.resolve,
                    Resolution(
                        action=ResolutionAction.APPLY_TO,
                        invoices=(InvoiceAmount(invoice_number="1002", amount=Decimal("80.50")),),
                        operator="ops",
                    ),
                )
                await handle.result()

                declined = await stack.sale("40.02", invoice="1004")
                await start_payment_posting(stack.client, queue, declined, "sweep")
                await stack.handle(declined).result()

                for name, txn_id in (
                    ("posted", posted),
                    ("parked_then_applied", parked),
                    ("declined", declined),
                ):
                    history = await stack.handle(txn_id).fetch_history()
                    path = HISTORIES / f"payment_posting_{name}.json"
                    path.write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")
                    print(f"wrote {path}")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(_record())
