"""Sage 500 customers, periods, balances and the stand-in, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.erp.errors import CustomerNotUsableError, ErpBusinessError
from connectors.erp.sage500 import STAND_IN, Sage500Connector
from connectors.erp.sage500.schema import (
    tarBatch,
    tarCustAddr,
    tarCustomer,
    tciAddress,
    tciContact,
    tciPaymentTerms,
)
from connectors.erp.standin import ConnectorOptions, stand_in
from domain.erp_documents import CustomerProfile, PostalAddress
from tests.erp_helpers import rows
from tests.test_erp_sage500 import NOW, TODAY, receipt

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite\\+pysqlite does \\*not\\* support")

LATER = datetime(2025, 6, 3, 9, 15, 0)


@pytest.fixture
def engine(erp_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(erp_url)
    STAND_IN.seed_demo(eng, customers=50, invoices=196, today=TODAY)
    yield eng
    eng.dispose()


def connector(engine: sa.Engine, clock: datetime = LATER, **kwargs: Any) -> Sage500Connector:
    return Sage500Connector(engine, clock=lambda: clock, **kwargs)


def plan_of(engine: sa.Engine, call: Any, table: str) -> str:
    """The query plan of the statement a call issues against a table."""
    seen: list[tuple[str, Any]] = []

    def before_cursor(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        seen.append((statement, params))

    sa.event.listen(engine, "before_cursor_execute", before_cursor)
    try:
        call()
    finally:
        sa.event.remove(engine, "before_cursor_execute", before_cursor)
    statement, params = next(s for s in seen if table in s[0])
    with engine.connect() as conn:
        for name in ("tarCustomer", "tciContact"):  # statistics, as a real database has them
            conn.exec_driver_sql(f'ANALYZE "{name}"')
        if engine.dialect.name == "sqlite":
            explain = f"EXPLAIN QUERY PLAN {statement}"
        else:
            conn.exec_driver_sql("SET enable_seqscan = off")
            explain = f"EXPLAIN {statement}"
        return " ".join(str(r[-1]) for r in conn.exec_driver_sql(explain, params))


# --- reads ---------------------------------------------------------------------------------------


def test_get_customer_reads_every_erp_owned_field(engine: sa.Engine) -> None:
    acme = connector(engine).get_customer("C0001")
    assert acme is not None
    assert (acme.customer_id, acme.name, acme.active, acme.on_hold) == (
        "C0001",
        "Acme Supply Co.",
        True,
        False,
    )
    assert acme.email == "ap@acmesupply.example"
    assert acme.phone == "509-555-0000"
    assert acme.address == PostalAddress(
        line1="100 Main St",
        line2="Suite 100",
        city="Spokane",
        state="WA",
        postal_code="99201",
        country="USA",
    )
    assert acme.terms == "NET30"
    assert acme.paytrace_customer_id == "acme-supply"
    assert acme.updated_at == datetime(2025, 6, 2)
    assert connector(engine).get_customer("NOPE") is None


def test_find_customers_by_each_criterion(engine: sa.Engine) -> None:
    erp = connector(engine)
    assert [c.customer_id for c in erp.find_customers(paytrace_customer_id="birch-hardware")] == [
        "C0002"
    ]
    by_mail = erp.find_customers(email="  AP@AcmeSupply.EXAMPLE ")
    assert [c.customer_id for c in by_mail] == ["C0001"]
    assert [c.customer_id for c in erp.find_customers(name=" birch hardware llc ")] == ["C0002"]
    # The first criterion given wins.
    both = erp.find_customers(paytrace_customer_id="acme-supply", name="Birch Hardware LLC")
    assert [c.customer_id for c in both] == ["C0001"]
    assert erp.find_customers() == []
    assert erp.find_customers(email="nobody@nowhere.example") == []


def test_find_customers_by_email_matches_any_contact(engine: sa.Engine) -> None:
    with engine.begin() as conn:  # a second contact of C0002, added in Sage
        conn.execute(
            sa.insert(tciContact),
            [
                {
                    "CntctKey": 900,
                    "CntctOwnerKey": 2,
                    "EntityType": 501,
                    "Name": "Owner",
                    "EMailAddr": "Owner@Birch.example",
                    "UpdateCounter": 0,
                }
            ],
        )
    found = connector(engine).find_customers(email="owner@birch.example")
    assert [c.customer_id for c in found] == ["C0002"]
    assert found[0].email == "billing@birchhardware.example"  # the primary contact's


@pytest.mark.parametrize(
    ("kwargs", "table", "index"),
    [
        ({"email": "ap@acmesupply.example"}, "tciContact", "ix_tciContact_EMailAddr_ci"),
        ({"name": "Acme Supply Co."}, "tarCustomer", "ix_tarCustomer_CustName_ci"),
        ({"paytrace_customer_id": "acme-supply"}, "tarCustomer", "ix_tarCustomer_UserFld1"),
    ],
)
def test_find_customers_uses_an_index(
    engine: sa.Engine, kwargs: dict[str, str], table: str, index: str
) -> None:
    erp = connector(engine)
    plan = plan_of(engine, lambda: erp.find_customers(**kwargs), table)
    assert index in plan, plan


def test_open_balance_deducts_pending_applications(engine: sa.Engine) -> None:
    erp = connector(engine)
    assert erp.open_balance("C0001") == Decimal("205.50")
    erp.write_receipt(receipt(("1001", "100.00")))
    assert erp.open_balance("C0001") == Decimal("105.50")
    assert erp.open_balance("NOPE") == Decimal("0.00")


def test_fiscal_period(engine: sa.Engine) -> None:
    erp = connector(engine)
    june = erp.fiscal_period(TODAY)
    assert june is not None
    assert (june.fiscal_year, june.period, june.start, june.end, june.open) == (
        "2025",
        6,
        date(2025, 6, 1),
        date(2025, 6, 30),
        True,
    )
    assert june.label == "2025-06"
    last_year = erp.fiscal_period(date(2024, 12, 31))
    assert last_year is not None and not last_year.open
    assert erp.fiscal_period(date(2040, 1, 1)) is None


# --- upsert ------------------------------------------------------------------------------------


PROFILE = CustomerProfile(
    customer_id="C9001",
    name="Willow Creek Farms",
    email="AP@willowcreek.example",
    phone="208-555-0199",
    address=PostalAddress(
        line1="12 Orchard Ln",
        line2="Unit 4",
        city="Boise",
        state="ID",
        postal_code="83702",
        country="USA",
    ),
    terms="NET15",
    paytrace_customer_id="willow-creek",
)


def test_upsert_creates_customer_address_and_contact_golden(engine: sa.Engine) -> None:
    detail = connector(engine).upsert_customer(PROFILE)
    (cust,) = rows(engine, tarCustomer, tarCustomer.c.CustID == "C9001")
    assert cust == {
        "CustKey": 51,
        "CompanyID": "SOA",
        "CustID": "C9001",
        "CustName": "Willow Creek Farms",
        "Status": 1,
        "Hold": 0,
        "CustClassKey": None,
        "CreditLimit": Decimal("0.000"),
        "PrimaryAddrKey": 51,
        "DfltBillToAddrKey": 51,
        "DfltShipToAddrKey": 51,
        "PrimaryCntctKey": 51,
        "CustRefNo": None,
        "UserFld1": "willow-creek",
        "UserFld2": None,
        "UserFld3": None,
        "UserFld4": None,
        "DateEstab": datetime(2025, 6, 3),
        "CreateDate": LATER,
        "CreateUserID": "tracepost",
        "UpdateDate": LATER,
        "UpdateUserID": "tracepost",
        "UpdateCounter": 0,
        "CreateType": 1,
    }
    assert rows(engine, tciAddress, tciAddress.c.AddrKey == 51) == [
        {
            "AddrKey": 51,
            "AddrName": "Willow Creek Farms",
            "AddrLine1": "12 Orchard Ln",
            "AddrLine2": "Unit 4",
            "AddrLine3": None,
            "AddrLine4": None,
            "AddrLine5": None,
            "City": "Boise",
            "StateID": "ID",
            "PostalCode": "83702",
            "CountryID": "USA",
            "UpdateCounter": 0,
        }
    ]
    net15 = rows(engine, tciPaymentTerms, tciPaymentTerms.c.PmtTermsID == "NET15")[0]
    assert rows(engine, tarCustAddr, tarCustAddr.c.AddrKey == 51) == [
        {"AddrKey": 51, "CustKey": 51, "CustAddrID": "C9001", "PmtTermsKey": net15["PmtTermsKey"]}
    ]
    assert rows(engine, tciContact, tciContact.c.CntctKey == 51) == [
        {
            "CntctKey": 51,
            "CntctOwnerKey": 51,
            "EntityType": 501,
            "Name": "Willow Creek Farms",
            "Title": None,
            "Phone": "208-555-0199",
            "Fax": None,
            "EMailAddr": "AP@willowcreek.example",
            "CreateDate": LATER,
            "CreateUserID": "tracepost",
            "UpdateDate": LATER,
            "UpdateUserID": "tracepost",
            "UpdateCounter": 0,
        }
    ]
    assert detail.model_dump() == {
        "customer_id": "C9001",
        "name": "Willow Creek Farms",
        "active": True,
        "on_hold": False,
        "email": "AP@willowcreek.example",
        "phone": "208-555-0199",
        "address": PROFILE.address.model_dump(),
        "terms": "NET15",
        "paytrace_customer_id": "willow-creek",
        "updated_at": LATER,
        "autopay": False,
        "card_on_file": "",
    }


def test_upsert_updates_only_erp_owned_fields_it_carries(engine: sa.Engine) -> None:
    erp = connector(engine)
    with engine.begin() as conn:  # set in Sage by the credit department
        conn.execute(
            sa.update(tarCustomer)
            .where(tarCustomer.c.CustID == "C0001")
            .values(Hold=1, CreditLimit=Decimal("900.000"), UserFld2="keep")
        )
    before = rows(engine, tarCustomer, tarCustomer.c.CustID == "C0001")[0]
    detail = erp.upsert_customer(
        CustomerProfile(
            customer_id="C0001",
            name="Acme Supply Company",
            address=PostalAddress(line1="1 New Rd", city="Boise"),
        )
    )
    after = rows(engine, tarCustomer, tarCustomer.c.CustID == "C0001")[0]
    changed = {k: (before[k], after[k]) for k in after if before[k] != after[k]}
    assert changed == {
        "CustName": ("Acme Supply Co.", "Acme Supply Company"),
        "UpdateDate": (datetime(2025, 6, 2), LATER),
        "UpdateUserID": ("admin", "tracepost"),
        "UpdateCounter": (0, 1),
    }
    addr = rows(engine, tciAddress, tciAddress.c.AddrKey == after["DfltBillToAddrKey"])[0]
    assert (addr["AddrLine1"], addr["City"], addr["StateID"], addr["UpdateCounter"]) == (
        "1 New Rd",
        "Boise",
        "WA",  # not carried by the profile: kept
        1,
    )
    # Blank e-mail, phone and terms keep what Sage has.
    assert detail.email == "ap@acmesupply.example" and detail.terms == "NET30"
    assert detail.on_hold is True and detail.paytrace_customer_id == "acme-supply"
    # The same profile again changes nothing.
    erp.upsert_customer(
        CustomerProfile(
            customer_id="C0001",
            name="Acme Supply Company",
            address=PostalAddress(line1="1 New Rd", city="Boise"),
        )
    )
    assert rows(engine, tarCustomer, tarCustomer.c.CustID == "C0001")[0] == after


def test_upsert_changes_contact_and_terms(engine: sa.Engine) -> None:
    erp = connector(engine)
    detail = erp.upsert_customer(
        CustomerProfile(
            customer_id="C0002",
            name="Birch Hardware LLC",
            email="ar@birch.example",
            phone="509-555-7777",
            terms="NET60",
        )
    )
    assert (detail.email, detail.phone, detail.terms) == (
        "ar@birch.example",
        "509-555-7777",
        "NET60",
    )
    cust = rows(engine, tarCustomer, tarCustomer.c.CustID == "C0002")[0]
    assert (cust["UpdateCounter"], cust["UpdateDate"]) == (1, LATER)
    contact = rows(engine, tciContact, tciContact.c.CntctKey == cust["PrimaryCntctKey"])[0]
    assert (contact["UpdateCounter"], contact["UpdateUserID"]) == (1, "tracepost")


def test_upsert_refusals(engine: sa.Engine) -> None:
    erp = connector(engine)
    before = rows(engine, tarCustomer)
    with pytest.raises(ErpBusinessError, match="already linked to Sage customer C0001"):
        erp.upsert_customer(PROFILE.model_copy(update={"paytrace_customer_id": "acme-supply"}))
    with pytest.raises(ErpBusinessError, match="payment terms 'NET999'"):
        erp.upsert_customer(PROFILE.model_copy(update={"terms": "NET999"}))
    with pytest.raises(ErpBusinessError, match="1 to 12 characters"):
        erp.upsert_customer(PROFILE.model_copy(update={"customer_id": "C" * 13}))
    assert rows(engine, tarCustomer) == before


# --- PayTrace link -----------------------------------------------------------------------------


def test_link_paytrace_customer(engine: sa.Engine) -> None:
    erp = connector(engine)
    linked = erp.link_paytrace_customer("C0003", "pt-new")
    assert linked.paytrace_customer_id == "pt-new"
    counter = rows(engine, tarCustomer, tarCustomer.c.CustID == "C0003")[0]["UpdateCounter"]
    again = erp.link_paytrace_customer("C0003", "pt-new")  # idempotent: nothing written
    assert again == linked
    assert rows(engine, tarCustomer, tarCustomer.c.CustID == "C0003")[0]["UpdateCounter"] == counter
    with pytest.raises(ErpBusinessError, match="already linked to Sage customer C0003"):
        erp.link_paytrace_customer("C0005", "pt-new")
    with pytest.raises(CustomerNotUsableError, match="NOPE"):
        erp.link_paytrace_customer("NOPE", "pt-x")
    with pytest.raises(ErpBusinessError, match="1 to 15"):
        erp.link_paytrace_customer("C0003", "x" * 16)


def test_link_uses_the_configured_user_field(engine: sa.Engine) -> None:
    erp = connector(engine, paytrace_id_field="UserFld3")
    erp.link_paytrace_customer("C0002", "birch-hardware")  # UserFld1 holds it: another field
    cust = rows(engine, tarCustomer, tarCustomer.c.CustID == "C0002")[0]
    assert (cust["UserFld1"], cust["UserFld3"]) == ("birch-hardware", "birch-hardware")
    assert [c.customer_id for c in erp.find_customers(paytrace_customer_id="birch-hardware")] == [
        "C0002"
    ]


# --- changes since a cursor --------------------------------------------------------------------


def test_customers_changed_since_pages_equal_timestamps_without_gaps(engine: sa.Engine) -> None:
    erp = connector(engine)
    seen: list[str] = []
    cursor = ""
    pages = 0
    while True:
        page = erp.customers_changed_since(cursor, limit=7)
        seen += [c.customer_id for c in page.customers]
        cursor = page.cursor
        pages += 1
        if not page.more:
            break
    assert seen == [f"C{i:04d}" for i in range(1, 51)]  # all seeded at the same instant
    assert pages == 8
    # Nothing new: an empty page and the same cursor.
    empty = erp.customers_changed_since(cursor, limit=7)
    assert (empty.customers, empty.cursor, empty.more) == ((), cursor, False)
    # A change made later shows up after the cursor, alone.
    erp.upsert_customer(CustomerProfile(customer_id="C0017", name="Renamed Co."))
    changed = erp.customers_changed_since(cursor, limit=7)
    assert [c.customer_id for c in changed.customers] == ["C0017"]
    assert changed.customers[0].updated_at == LATER


def test_customers_changed_since_includes_never_stamped_rows_first(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(tarCustomer).where(tarCustomer.c.CustID == "C0009").values(UpdateDate=None)
        )
    erp = connector(engine)
    first = erp.customers_changed_since("", limit=2)
    assert [c.customer_id for c in first.customers] == ["C0009", "C0001"]
    second = erp.customers_changed_since(first.cursor, limit=2)
    assert [c.customer_id for c in second.customers] == ["C0002", "C0003"]
    with pytest.raises(ValueError, match="cursor"):
        erp.customers_changed_since("garbage")


# --- stand-in ----------------------------------------------------------------------------------


def test_stand_in_is_registered_and_builds_sage_defaults(engine: sa.Engine) -> None:
    assert stand_in("sage500") is STAND_IN
    assert (STAND_IN.erp_name, STAND_IN.default_company) == ("sage500", "SOA")
    assert STAND_IN.demo_accounts["card_fees"] == "6100"
    erp = STAND_IN.build_connector(engine, ConnectorOptions(clock=lambda: NOW))
    assert isinstance(erp, Sage500Connector)
    assert erp.find_customer(paytrace_customer_id="acme-supply") is not None  # UserFld1
    record = erp.write_receipt(receipt(("1001", "125.00")))
    assert record.batch == "ARCR-0000001"
    (batch,) = rows(engine, tarBatch, tarBatch.c.CashAcctKey.is_not(None))
    assert batch["CashAcctKey"] == 2  # CARD-CLEARING, GL 1010


def test_stand_in_helpers(engine: sa.Engine) -> None:
    STAND_IN.add_customer(
        engine, company_id="SOA", customer_id="C7000", name="Held Co.", on_hold=True, email="h@x.ex"
    )
    STAND_IN.add_invoice(
        engine,
        company_id="SOA",
        customer_id="C7000",
        number="7001",
        amount=Decimal("10.50"),
        invoice_date=TODAY,
        due_date=date(2025, 7, 2),
    )
    erp = connector(engine)
    held = erp.get_customer("C7000")
    assert held is not None and held.on_hold and held.active and held.email == "h@x.ex"
    invoice = erp.invoice_by_number("7001")
    assert invoice is not None and invoice.balance == Decimal("10.50")
    STAND_IN.set_period_open(engine, company_id="SOA", day=TODAY, is_open=False)
    period = erp.fiscal_period(TODAY)
    assert period is not None and not period.open
    with pytest.raises(ValueError, match="no fiscal period"):
        STAND_IN.set_period_open(engine, company_id="SOA", day=date(2040, 1, 1), is_open=True)


def test_seed_demo_takes_totals_and_is_realistic(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(tarCustomer)).scalar()
        contacts = conn.execute(
            sa.select(sa.func.count()).select_from(tciContact).where(tciContact.c.EMailAddr != "")
        ).scalar()
        terms = conn.execute(
            sa.select(sa.func.count(sa.distinct(tarCustAddr.c.PmtTermsKey)))
        ).scalar()
    assert (count, contacts, terms) == (50, 50, 5)
    with pytest.raises(ValueError, match="invoices >= 4"):
        STAND_IN.seed_demo(engine, company_id="XYZ", customers=5, invoices=3)


# --- races (PostgreSQL) ------------------------------------------------------------------------


def test_racing_creates_of_one_customer_make_one(engine: sa.Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("race exercised on PostgreSQL")
    from tests.erp_helpers import race

    erp = connector(engine)
    results = race(8, lambda _: erp.upsert_customer(PROFILE))
    assert [r for r in results if isinstance(r, Exception)] == []
    assert len({r.model_dump_json() for r in results}) == 1
    assert len(rows(engine, tarCustomer, tarCustomer.c.CustID == "C9001")) == 1
    assert len(rows(engine, tciContact, tciContact.c.CntctOwnerKey == 51)) == 1


def test_racing_links_of_one_paytrace_id_link_one_customer(engine: sa.Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("race exercised on PostgreSQL")
    import itertools
    import threading

    from tests.erp_helpers import race

    erp = connector(engine)
    ids = itertools.count(3)
    lock = threading.Lock()

    def link() -> Any:
        with lock:
            cust = f"C{next(ids):04d}"
        return erp.link_paytrace_customer(cust, "pt-contested")

    results = race(6, lambda _: link())
    linked = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(linked) == 1 and len(refused) == 5
    assert all(isinstance(r, ErpBusinessError) and "already linked" in str(r) for r in refused)
    assert len(erp.find_customers(paytrace_customer_id="pt-contested")) == 1
