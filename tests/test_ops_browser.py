"""The ops pages in a real browser: Debian's chromium, driven headless by Playwright.

Sign in, look at the dashboard, open a parked payment, apply it to an invoice, see the invoice
paid in the ERP and the posting in the search. Screenshots of every page go to
tests/output/screenshots/.
"""

import asyncio
import os
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from activities.starter import start_payment_posting
from domain.activity_io import PostingOutcome
from tests.ops_helpers import PASSWORD, add_users
from tests.scenarios import parked
from tests.serving import served
from tests.stack import TEST_CARD, running_stack
from workers.api import TemporalGateway, create_api, transaction_reader

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).parent / "output" / "screenshots"


def require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("chromium is required in CI (.ci/run installs it with apt-get)")
    pytest.skip("chromium is not installed (make system-packages installs it)")


async def test_an_operator_resolves_a_parked_payment_in_the_browser(dev_env, tmp_path):
    require_chromium()
    from playwright.async_api import async_playwright, expect

    SHOTS.mkdir(parents=True, exist_ok=True)
    erp_url = f"sqlite:///{tmp_path}/erp.db"
    async with running_stack(dev_env.client, tmp_path, erp_url, codec="off") as stack:
        add_users(stack.settings)
        txn = await stack.sale("125.00", invoice="NO-SUCH-INVOICE")
        await start_payment_posting(stack.client, stack.settings.task_queue, txn, "test")
        await parked(stack, f"payment-{txn}")
        app = create_api(
            stack.settings,
            stack.store,
            TemporalGateway(stack.settings, dev_env.client),
            transaction_reader(stack.paytrace),
        )
        async with served(app, "api") as base:
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
                )
                page = await browser.new_page(viewport={"width": 1280, "height": 900})
                await page.goto(f"{base}/ops/dashboard")
                await expect(page).to_have_url(f"{base}/ops/login?next=%2Fops%2Fdashboard")
                await page.screenshot(path=SHOTS / "01-login.png", full_page=True)
                await page.fill("input[name=username]", "ann")
                await page.fill("input[name=password]", PASSWORD)
                await page.click("button[type=submit]")
                await expect(page).to_have_url(f"{base}/ops/dashboard")
                await expect(page.locator("#attention-open")).not_to_have_text("0")
                await page.screenshot(path=SHOTS / "02-dashboard.png", full_page=True)

                link = page.locator(f'a[href="/ops/attention/payment-{txn}"]')
                for _ in range(50):  # the Web UI's list (visibility) catches up within a second
                    await page.goto(f"{base}/ops/attention")
                    if await link.count():
                        break
                    await asyncio.sleep(0.2)
                await page.screenshot(path=SHOTS / "03-needs-attention.png", full_page=True)
                await link.click()
                await expect(page.locator("h1")).to_have_text(f"payment-{txn}")
                await expect(page.locator("#transaction")).to_contain_text("5439")
                await expect(page.locator("#transaction")).not_to_contain_text(TEST_CARD)
                await page.screenshot(path=SHOTS / "04-item.png", full_page=True)

                form = page.locator("#form-apply_to")
                await form.locator("input[name=invoice]").first.fill("1001")
                await form.locator("input[name=amount]").first.fill("125.00")
                await form.locator("input[name=note]").fill("customer called: invoice 1001")
                await form.locator("button[type=submit]").click()
                await expect(page.locator(".flash")).to_contain_text(
                    f"payment-{txn}: apply_to sent"
                )
                await page.screenshot(path=SHOTS / "05-resolved.png", full_page=True)

                result = await stack.handle(txn).result()
                assert result.outcome is PostingOutcome.POSTED
                assert stack.balance("1001") == Decimal("0.00")

                await page.goto(f"{base}/ops/postings?transaction={txn}")
                row = page.locator("#postings tr").nth(1)
                await expect(row).to_contain_text("1001")
                await expect(row).to_contain_text("125.00")
                await page.screenshot(path=SHOTS / "06-postings.png", full_page=True)
                await page.goto(f"{base}/ops/settlements")
                await page.screenshot(path=SHOTS / "07-settlements.png", full_page=True)
                await browser.close()
    for name in ("01-login", "02-dashboard", "04-item", "05-resolved", "06-postings"):
        assert (SHOTS / f"{name}.png").stat().st_size > 5_000
