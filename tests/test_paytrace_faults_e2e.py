"""Under every PayTrace fault, a charge happens exactly once and is posted to the ERP once.

A test-only workflow charges a vault customer through the real ``charge_customer`` activity
(read-back before any retry) and then runs PaymentPosting as a child, on a real Temporal dev
server with the simulator's fault injection on both the sale and the export paths.
"""

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr
from temporalio.worker import Worker

from connectors.paytrace.models import BillingAddress, CreditCard, CustomerRequest
from domain.activity_io import ChargeRequest, PostingOutcome
from tests.charge_workflow import ChargeThenPost
from tests.stack import running_stack

# A workflow test: each ERP once, each database once (tests/conftest.py).
pytestmark = pytest.mark.erp_diagonal

FAULTS: dict[str, dict[str, Any]] = {
    "lost_response": {"kind": "lost_response"},
    "reset": {"kind": "reset"},
    "http_503": {"kind": "http_error", "status": 503},
    "rate_limit": {"kind": "rate_limit", "retry_after": 1},
    # Longer than the client's 1 s read timeout: the sale lands after the client gave up.
    "latency": {"kind": "latency", "latency_ms": 2500},
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_one_charge_and_one_posting_under_fault(dev_env, tmp_path, erp_url, fault):
    async with running_stack(dev_env.client, tmp_path, erp_url, real_http=True) as stack:
        await stack.paytrace.create_customer(
            CustomerRequest(
                customer_id="C0001",
                credit_card=CreditCard(
                    number=SecretStr("4012000098765439"),
                    expiration_month="12",
                    expiration_year="2030",
                ),
                billing_address=BillingAddress(name="Acme Supply"),
            )
        )
        rule = FAULTS[fault]
        await stack.fault(path="/v1/transactions/sale/by_customer", count=1, **rule)
        await stack.fault(path="/v1/transactions/export/by_id", count=2, **rule)
        key = f"test:{uuid.uuid4().hex[:12]}"
        request = ChargeRequest(
            customer_id="C0001", amount=Decimal("125.00"), invoice_id="1001", charge_key=key
        )
        side_queue = f"{stack.settings.task_queue}-test"
        async with Worker(dev_env.client, task_queue=side_queue, workflows=[ChargeThenPost]):
            result = await dev_env.client.execute_workflow(
                ChargeThenPost.run,
                args=[request, stack.settings.task_queue],
                id=f"charge-{key}",
                task_queue=side_queue,
            )
        # A lost or late answer is settled by reading PayTrace back, never by charging again.
        assert result.charge.found_by_read_back is (fault in ("lost_response", "latency"))
        result = result.posting
        assert result.outcome is PostingOutcome.POSTED
        today = date.today()
        charges = await stack.paytrace.export_by_date_range(
            today - timedelta(days=1), today + timedelta(days=1), including_text=key
        )
        assert len(charges) == 1, [c.transaction_id for c in charges]
        assert charges[0].transaction_id == result.transaction_id
        assert stack.receipts(result.transaction_id) == (1, 1)
        assert stack.balance("1001") == Decimal("0.00")
