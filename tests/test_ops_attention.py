"""The needs-attention item page on a real worker: candidate invoices shown, one chosen."""

import random
import re
from datetime import timedelta
from decimal import Decimal

from activities.starter import start_payment_posting
from tests.ops_helpers import add_users, asgi_client, csrf_of, sign_in
from tests.scenarios import company, parked, sweep, today_for
from tests.stack import running_stack
from workers.api import TemporalGateway, create_api, transaction_reader


async def test_an_ambiguous_payment_shows_its_candidates_and_is_applied_from_them(
    dev_env, tmp_path
):
    erp_url = f"sqlite:///{tmp_path}/erp.db"
    async with running_stack(dev_env.client, tmp_path, erp_url, codec="off") as stack:
        add_users(stack.settings)
        assert stack.standin is not None
        customer, today = f"C{random.randrange(10**5, 10**6)}", today_for(stack)
        stack.standin.add_customer(
            stack.erp_engine, company_id=company(stack), customer_id=customer, name="Tie Co"
        )
        numbers = [f"{customer}{letter}" for letter in "AB"]
        for number, amount in zip(numbers, ("30.00", "30.00"), strict=True):
            stack.standin.add_invoice(
                stack.erp_engine,
                company_id=company(stack),
                customer_id=customer,
                number=number,
                amount=Decimal(amount),
                invoice_date=today - timedelta(days=20),
                due_date=today,
            )
        txn = await stack.sale("30.00", customer=customer)  # two equal balances: never a guess
        await start_payment_posting(stack.client, stack.settings.task_queue, txn, "test")
        workflow_id = f"payment-{txn}"
        assert (await parked(stack, workflow_id)).reason_kind == "match_ambiguous"
        app = create_api(
            stack.settings,
            stack.store,
            TemporalGateway(stack.settings, dev_env.client),
            transaction_reader(stack.paytrace),
        )
        async with asgi_client(app) as web:
            await sign_in(web, "ann")
            page = await web.get(f"/ops/attention/{workflow_id}")
            assert page.status_code == 200
            table = re.search(r'<table id="candidates">(.*?)</table>', page.text, re.S)
            assert table, "no candidate invoices on the page"
            for number in numbers:
                assert re.search(
                    rf"<td>{number}</td><td>{customer}</td><td[^>]*>30\.00</td>", table[1]
                )
            assert "xxxxxxxxxxxx5439" in page.text and "4012000098765439" not in page.text
            prefilled = re.findall(r'<input name="invoice" value="([^"]+)"', page.text)
            assert prefilled == numbers  # the apply form starts from the candidates
            answer = await web.post(
                f"/ops/attention/{workflow_id}/resolve",
                data={
                    "csrf": csrf_of(page.text),
                    "action": "apply_to",
                    "invoice": [numbers[1], ""],
                    "amount": ["30.00", ""],
                    "note": "customer said B",
                },
            )
            assert answer.status_code == 303 and "apply_to+sent" in answer.headers["location"]
            swept = f"sweep-{random.randrange(10**9)}"
            await sweep(stack, swept)
            other = await web.get(f"/ops/attention/{swept}")  # a workflow that parks nothing
            assert other.status_code == 200 and "no needs-attention queue" in other.text
        result = await stack.handle(txn).result()
        assert result.outcome.value == "posted"
        assert stack.balance(numbers[1]) == Decimal("0.00")
        assert stack.balance(numbers[0]) == Decimal("30.00")
