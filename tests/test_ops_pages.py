"""The ops pages over HTTP: sign-in, sessions, CSRF, roles, and what each page shows."""

import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.models import ReceiptRecord, ReceiptStatus
from domain.store_io import SettlementLine, SettlementLineStatus, SettlementReport
from tests.ops_helpers import PASSWORD, add_users, asgi_client, csrf_of, sign_in, sqlite_store
from workers.api import TemporalGateway, create_api
from workers.ops_auth import (
    MAX_TRACKED_NAMES,
    SESSION_COOKIE,
    LoginThrottle,
    OpsUser,
    Role,
    SessionSigner,
    hash_password,
    load_users,
    verify_password,
)
from workers.settings import Settings


@pytest.fixture
def settings(tmp_path):
    settings = Settings(var_dir=tmp_path, codec="off", task_queue=f"ops-{random.randrange(10**9)}")
    add_users(settings)
    return settings


@pytest.fixture
def store(tmp_path):
    return sqlite_store(tmp_path)


@pytest.fixture
async def web(dev_env, settings, store):
    app = create_api(settings, store, TemporalGateway(settings, dev_env.client))
    async with asgi_client(app) as client:
        yield client


def test_passwords_are_salted_scrypt_hashes():
    first, second = hash_password("a long password"), hash_password("a long password")
    assert first != second and first.startswith("scrypt$")
    assert verify_password("a long password", first) and not verify_password("another", first)
    assert not verify_password("a long password", "scrypt$garbage")


def test_the_users_file_holds_hashes_only(settings):
    text = settings.ops_users_file.read_text()
    assert PASSWORD not in text and text.count("scrypt$") == 2
    assert {u.name: u.role.value for u in load_users(settings.ops_users_file).values()} == {
        "ann": "operator",
        "vic": "viewer",
    }


def test_a_forged_or_expired_session_is_not_a_session():
    signer = SessionSigner(b"k" * 32, 3600)
    user = OpsUser("ann", Role.OPERATOR, "")
    cookie, session = signer.issue(user, now=1000)
    assert signer.read(cookie, now=1500) == session
    assert signer.read(cookie, now=1000 + 3601) is None
    body, mac = cookie.split(".")
    assert signer.read(body + "." + "0" * len(mac), now=1500) is None
    assert SessionSigner(b"x" * 32, 3600).read(cookie, now=1500) is None


@pytest.mark.parametrize(
    "path",
    ["/ops/dashboard", "/ops/attention", "/ops/postings", "/ops/settlements", "/ops/settlements/1"],
)
async def test_every_page_wants_a_session(web, path):
    resp = await web.get(path)
    assert resp.status_code == 303 and resp.headers["location"].startswith("/ops/login?next=")


async def test_sign_in_sets_a_strict_cookie_and_sign_out_ends_it(web):
    resp = await sign_in(web, "ann")
    assert resp.status_code == 303 and resp.headers["location"] == "/ops/dashboard"
    cookie = resp.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    page = await web.get("/ops/dashboard")
    assert page.status_code == 200 and "ann (operator)" in page.text
    out = await web.post("/ops/logout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303
    assert (await web.get("/ops/dashboard")).status_code == 303


async def test_wrong_password_unknown_user_and_a_missing_csrf_are_refused(web):
    assert (await sign_in(web, "ann", "wrong password!!")).status_code == 401
    assert (await sign_in(web, "nobody")).status_code == 401
    resp = await web.post("/ops/login", data={"username": "ann", "password": PASSWORD})
    assert resp.status_code == 403 and SESSION_COOKIE not in resp.headers.get("set-cookie", "")


async def test_repeated_failures_lock_the_name(web):
    for _ in range(5):
        await sign_in(web, "vic", "not the password")
    assert (await sign_in(web, "vic")).status_code == 429


async def test_next_never_leaves_the_site(web):
    page = await web.get("/ops/login?next=//evil.example/x")
    assert 'value="/ops/dashboard"' in page.text


async def test_resolving_needs_the_session_csrf_and_the_operator_role(web):
    await sign_in(web, "vic")
    page = await web.get("/ops/dashboard")
    token = csrf_of(page.text)
    missing = await web.post("/ops/attention/payment-1/resolve", data={"action": "retry"})
    assert missing.status_code == 403 and "did not come from this site" in missing.text
    viewer = await web.post(
        "/ops/attention/payment-1/resolve", data={"action": "retry", "csrf": token}
    )
    assert viewer.status_code == 403 and "may read but not resolve" in viewer.text


async def test_a_bad_resolution_goes_back_with_the_reason(web):
    await sign_in(web, "ann")
    token = csrf_of((await web.get("/ops/dashboard")).text)
    resp = await web.post(
        "/ops/attention/payment-1/resolve",
        data={"action": "apply_to", "csrf": token, "invoice": "1001", "amount": "-5"},
    )
    assert resp.status_code == 303 and "must+be+positive" in resp.headers["location"]
    resp = await web.post(
        "/ops/attention/payment-1/resolve", data={"action": "apply_to", "csrf": token}
    )
    assert "at+least+one+invoice" in resp.headers["location"]


async def test_a_card_number_in_a_form_is_refused_and_not_echoed(web):
    await sign_in(web, "ann")
    token = csrf_of((await web.get("/ops/dashboard")).text)
    for field, value in (("amount", "4111111111111111x"), ("note", "card 4111 1111 1111 1111")):
        resp = await web.post(
            "/ops/attention/payment-1/resolve",
            data={
                "action": "apply_to",
                "csrf": token,
                "invoice": "1001",
                "amount": "5",
                field: value,
            },
        )
        assert resp.status_code == 422 and "looks like a card number" in resp.text
        assert "1111 1111" not in resp.text and "4111111111111111" not in resp.text


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/ops/postings?transaction=9999999999999999999", 200, "a transaction id is a number"),
        ("/ops/postings?to=9999-12-31", 200, "outside 2000-01-01..2099-12-31"),
        ("/ops/postings?from=0001-01-01", 200, "outside"),
        ("/ops/settlements/99999999999999999999", 404, "No reconciliation report"),
        ("/ops/settlements/99999999999999999999/csv", 404, "no report"),
    ],
)
async def test_out_of_range_numbers_and_dates_get_a_reason(web, path, status, text):
    await sign_in(web, "ann")
    resp = await web.get(path)
    assert resp.status_code == status and text in resp.text


def test_a_flood_of_made_up_names_does_not_unlock_a_name():
    throttle = LoginThrottle(limit=5, lock_seconds=60)
    for _ in range(5):
        throttle.failed("ann", now=1000)
    for n in range(MAX_TRACKED_NAMES + 1):
        throttle.failed(f"junk{n}", now=1001)
    assert throttle.locked("ann", now=1002)
    assert not throttle.locked("ann", now=1061)


async def test_an_item_that_does_not_wait_says_so(web):
    await sign_in(web, "ann")
    page = await web.get("/ops/attention/payment-does-not-exist")
    assert page.status_code == 200 and "cannot be read (NOT_FOUND)" in page.text


async def test_postings_dashboard_and_settlement_pages_show_the_store(web, store):
    store.record_posting(
        ReceiptRecord(
            paytrace_transaction_id=4242,
            erp="sage500",
            customer_id="C0007",
            erp_document="CR-4242",
            batch="B9",
            amount=Decimal("1234.50"),
            status=ReceiptStatus.POSTED,
        ),
        workflow_id="payment-4242",
    )
    store.save_settlement_report(
        SettlementReport(
            batch_number=77,
            settled_at=datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
            transaction_count=2,
            sales_count=2,
            sales_amount=Decimal("1300.00"),
            net_amount=Decimal("1300.00"),
            deposit_amount=Decimal("1300.00"),
            status="discrepancies",
            lines=(
                SettlementLine(
                    transaction_id=4242,
                    transaction_type="SALE",
                    paytrace_amount=Decimal("1234.50"),
                    erp_document="CR-4242",
                    erp_amount=Decimal("1234.50"),
                    erp_status="posted",
                    status=SettlementLineStatus.MATCHED,
                ),
                SettlementLine(
                    transaction_id=4243,
                    transaction_type="SALE",
                    paytrace_amount=Decimal("65.50"),
                    status=SettlementLineStatus.MISSING_IN_ERP,
                    note="no receipt",
                ),
            ),
        )
    )
    await sign_in(web, "vic")
    dash = await web.get("/ops/dashboard")
    assert 'id="postings-today">1<' in dash.text and "1,234.50" in dash.text and "<svg" in dash.text
    found = await web.get("/ops/postings?customer=c0007")
    assert "CR-4242" in found.text
    assert "CR-4242" not in (await web.get("/ops/postings?customer=C0008")).text
    assert "not a date" in (await web.get("/ops/postings?from=12/01/2026")).text
    listing = await web.get("/ops/settlements")
    assert 'href="/ops/settlements/77"' in listing.text and 'class="bad"' in listing.text
    report = await web.get("/ops/settlements/77")
    assert report.text.index("4243") < report.text.index("CR-4242")  # discrepancies first
    assert '<tr class="bad"><td>4243' in report.text
    csv = await web.get("/ops/settlements/77/csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("transaction_id,type,paytrace_amount")
    assert "4243,SALE,65.50,,,missing_in_erp,no receipt" in csv.text
    assert (await web.get("/ops/settlements/78")).status_code == 404


async def test_pages_forbid_framing_and_caching(web):
    await sign_in(web, "ann")
    page = await web.get("/ops/dashboard")
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_the_dev_stack_creates_one_admin_and_shows_it_at_every_start(tmp_path):
    from workers.dev_users import ensure_dev_admin

    plain = Settings(var_dir=tmp_path / "dev", codec="off")
    admin = ensure_dev_admin(plain)
    assert admin is not None and plain.ops_users_file is not None
    name, password = admin
    assert name == "admin" and len(password) >= 12
    assert ensure_dev_admin(plain) == (name, password)  # the next start shows the same
    (user,) = load_users(plain.ops_users_file).values()
    assert user.role is Role.OPERATOR and verify_password(password, user.password_hash)
    assert oct((tmp_path / "dev" / "ops-admin-password").stat().st_mode & 0o777) == "0o600"


def test_the_dev_stack_leaves_a_users_file_it_did_not_write_alone(settings):
    from workers.dev_users import ensure_dev_admin

    assert ensure_dev_admin(settings) is None and settings.ops_users_file is not None
    assert set(load_users(settings.ops_users_file)) == {"ann", "vic"}
