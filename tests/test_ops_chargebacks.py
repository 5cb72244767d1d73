"""The ops pages' chargeback screen on a real worker: open a case, see it reverse, record won."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.chargebacks import FEE_ACCOUNTS
from tests.ops_helpers import add_users, asgi_client, csrf_of, sign_in
from tests.scenarios import posted
from tests.stack import running_stack
from workers.api import TemporalGateway, create_api


async def test_a_case_opened_and_decided_on_the_ops_page(dev_env, tmp_path):
    erp_url = f"sqlite:///{tmp_path}/erp.db"
    async with running_stack(
        dev_env.client, tmp_path, erp_url, mapping=FEE_ACCOUNTS, codec="off"
    ) as stack:
        add_users(stack.settings)
        txn = await posted(stack, "125.00", "1001")
        app = create_api(
            stack.settings, stack.store, TemporalGateway(stack.settings, dev_env.client)
        )
        async with asgi_client(app) as web:
            await sign_in(web, "ann")
            page = await web.get("/ops/chargebacks")
            assert "No chargeback case yet" in page.text
            token = csrf_of(page.text)
            case = f"CB{uuid.uuid4().hex[:8].upper()}"
            today = datetime.now(UTC).date()
            form = {
                "csrf": token,
                "case_id": case,
                "transaction_id": str(txn),
                "amount": "125.00",
                "fee": "",
                "reason": "10.4 Card Absent",
                "opened_on": today.isoformat(),
                "respond_by": (today + timedelta(days=20)).isoformat(),
            }
            for wrong in ({"amount": "12.345"}, {"amount": "1e30"}, {"respond_by": "9999-12-31"}):
                bad = await web.post("/ops/chargebacks", data={**form, **wrong})
                assert bad.status_code == 303 and "error=" in bad.headers["location"], wrong
            opened = await web.post("/ops/chargebacks", data=form)
            assert opened.status_code == 303 and "started" in opened.headers["location"]
            await stack.wait_stage(f"chargeback-{case}", "awaiting_deadline", 60)
            assert stack.balance("1001") == Decimal("125.00")  # the reversal reopened it
            listing = await web.get("/ops/chargebacks")
            assert case in listing.text and "awaiting_deadline" in listing.text
            again = await web.post("/ops/chargebacks", data=form)
            assert "joined" in again.headers["location"]
            won = await web.post(
                f"/ops/chargebacks/{case}/outcome",
                data={"csrf": token, "outcome": "won", "note": "evidence accepted"},
            )
            assert won.status_code == 303 and "applied" in won.headers["location"], won.headers
            await stack.wait_stage(f"chargeback-{case}", "decided_won", 60)
            assert stack.balance("1001") == Decimal("0.00")
            await sign_in(web, "vic")
            viewer = await web.post(
                f"/ops/chargebacks/{case}/outcome",
                data={"csrf": csrf_of((await web.get("/ops/chargebacks")).text), "outcome": "lost"},
            )
            assert viewer.status_code == 403
        await stack.client.get_workflow_handle(f"chargeback-{case}").terminate("test finished")
