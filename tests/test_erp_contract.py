"""The ``ErpConnector`` contract, run against every ERP adapter on SQLite and PostgreSQL.

These tests use only the protocol and the stand-in (``StandIn``), never an ERP's tables: what they
check holds for Sage 500 and Dynamics SL alike, so the workflows can rely on it whatever the ERP.
Each ERP's own test files check the exact rows written.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.erp.errors import (
    ClosedPeriodError,
    CustomerNotUsableError,
    DocumentNotFoundError,
    ErpBusinessError,
    InvoiceNotOpenError,
    MissingGlAccountError,
    UnbalancedEntryError,
)
from connectors.erp.protocol import ErpConnector, PostingStrategy
from connectors.erp.standin import ERP_NAMES, ConnectorOptions, StandIn, stand_in
from domain.erp_documents import (
    CreditMemo,
    CustomerProfile,
    Deposit,
    DocumentKind,
    DocumentStatus,
    JournalEntry,
    JournalLine,
    PostalAddress,
    Reapplication,
    ReceiptReversal,
    ReversalReason,
    SalesOrder,
    SalesOrderLine,
)
from domain.matching import normalize_invoice_number
from domain.models import Application, CashReceipt, ReceiptStatus
from tests.erp_helpers import race

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite\\+pysqlite does \\*not\\* support")

TODAY = date(2025, 6, 2)
NOW = datetime(2025, 6, 2, 14, 30, 0)


class Erp:
    """One seeded stand-in and its connector."""

    def __init__(self, name: str, engine: sa.Engine) -> None:
        self.name = name
        self.engine = engine
        self.standin: StandIn = stand_in(name)
        self.company = self.standin.default_company
        self.standin.seed_demo(engine, customers=12, invoices=30, today=TODAY)
        self.connector = self.build()

    def build(self, **options: Any) -> ErpConnector:
        options.setdefault("clock", lambda: NOW)
        return self.standin.build_connector(self.engine, ConnectorOptions(**options))

    def account(self, purpose: str) -> str:
        accounts: dict[str, str] = dict(self.standin.demo_accounts)
        return accounts[purpose]


@pytest.fixture(params=ERP_NAMES)
def erp(request: pytest.FixtureRequest, erp_url: str) -> Iterator[Erp]:
    engine = sa.create_engine(erp_url)
    try:
        yield Erp(request.param, engine)
    finally:
        engine.dispose()


def is_postgres(erp: Erp) -> bool:
    return erp.engine.dialect.name == "postgresql"


def receipt(pt_id: int, customer: str, amount: str, *apps: Application, **kw: Any) -> CashReceipt:
    applied = sum((a.amount for a in apps), Decimal(0))
    return CashReceipt(
        paytrace_transaction_id=pt_id,
        customer_id=customer,
        amount=Decimal(amount),
        receipt_date=kw.pop("receipt_date", TODAY),
        reference=f"PT {pt_id}",
        applications=apps,
        on_account=Decimal(amount) - applied,
        **kw,
    )


def app(number: str, amount: str, write_off: str = "0.00") -> Application:
    return Application(invoice_number=number, amount=Decimal(amount), write_off=Decimal(write_off))


def normalized(numbers: tuple[str, ...]) -> set[str]:
    return {normalize_invoice_number(n) for n in numbers}


def balance(erp: Erp, number: str) -> Decimal:
    invoice = erp.connector.invoice_by_number(number)
    assert invoice is not None, number
    return invoice.balance


def paid_and_posted(erp: Erp, pt_id: int, customer: str, amount: str, *apps: Application) -> None:
    erp.connector.write_receipt(receipt(pt_id, customer, amount, *apps))
    assert erp.connector.post_receipt(pt_id).status is ReceiptStatus.POSTED


# --- reads ------------------------------------------------------------------------------------


def test_well_known_customers_and_invoices(erp: Erp) -> None:
    c = erp.connector
    assert c.erp_name == erp.name
    assert isinstance(c, ErpConnector)
    invoice = c.invoice_by_number("1001")
    assert invoice is not None
    assert (invoice.customer_id, invoice.amount, invoice.balance) == (
        "C0001",
        Decimal("125.00"),
        Decimal("125.00"),
    )
    assert c.invoice_by_number(" 0001001 ") == invoice
    assert c.invoice_by_number("999999") is None
    # Each ERP shows numbers its own way (Sage "1001", SL "001001"); they normalize alike.
    numbers = [normalize_invoice_number(i.invoice_number) for i in c.open_invoices("C0001")]
    assert numbers == ["1002", "1001"]
    assert c.open_balance("C0001") == Decimal("205.50")
    assert c.open_balance("C0002") == Decimal("1290.00")
    assert c.open_invoices("NOBODY") == []
    found = c.find_customer(paytrace_customer_id="acme-supply")
    assert found is not None and found.customer_id == "C0001"
    assert [d.customer_id for d in c.find_customers(paytrace_customer_id="birch-hardware")] == [
        "C0002"
    ]


def test_fiscal_period_opens_and_closes(erp: Erp) -> None:
    period = erp.connector.fiscal_period(TODAY)
    assert period is not None and period.open
    assert period.start <= TODAY <= period.end
    erp.standin.set_period_open(erp.engine, company_id=erp.company, day=TODAY, is_open=False)
    closed = erp.connector.fiscal_period(TODAY)
    assert closed is not None and not closed.open
    with pytest.raises(ClosedPeriodError):
        erp.connector.write_receipt(receipt(7001, "C0001", "125.00", app("1001", "125.00")))
    assert erp.connector.find_receipt(7001) is None


# --- cash receipts ----------------------------------------------------------------------------


def test_receipt_written_once_then_posted(erp: Erp) -> None:
    c = erp.connector
    r = receipt(5001, "C0001", "300.00", app("1001", "125.00"), app("1002", "80.50"))
    written = c.write_receipt(r)
    assert written.created and written.status is ReceiptStatus.PENDING
    assert written.amount == Decimal("300.00") and written.customer_id == "C0001"
    again = c.write_receipt(r)
    assert not again.created
    assert (again.erp_document, again.batch) == (written.erp_document, written.batch)
    # A pending receipt already takes what it applies: nothing is left to pay twice.
    assert balance(erp, "1001") == Decimal("0.00")
    assert c.open_balance("C0001") == Decimal("0.00")
    posted = c.post_receipt(5001)
    assert posted.status is ReceiptStatus.POSTED
    assert c.post_receipt(5001).status is ReceiptStatus.POSTED
    assert (balance(erp, "1001"), balance(erp, "1002")) == (Decimal("0.00"), Decimal("0.00"))
    docs = c.documents_for_transaction(5001)
    assert [(d.kind, d.status) for d in docs] == [(DocumentKind.RECEIPT, DocumentStatus.POSTED)]
    assert c.find_document(DocumentKind.RECEIPT, "5001") == docs[0]


def test_short_pay_write_off_closes_the_invoice(erp: Erp) -> None:
    paid_and_posted(erp, 5002, "C0001", "120.00", app("1001", "120.00", write_off="5.00"))
    assert balance(erp, "1001") == Decimal("0.00")


def test_manual_strategy_leaves_the_batch_pending(erp: Erp) -> None:
    manual = erp.build(strategy=PostingStrategy.MANUAL)
    manual.write_receipt(receipt(5003, "C0001", "125.00", app("1001", "125.00")))
    assert manual.post_receipt(5003).status is ReceiptStatus.PENDING


@pytest.mark.parametrize(
    ("customer", "apps", "error"),
    [
        ("C0001", (app("1003", "10.00"),), InvoiceNotOpenError),  # another customer's
        ("C0001", (app("1001", "125.01"),), InvoiceNotOpenError),  # more than its balance
        ("C0001", (app("424242", "1.00"),), InvoiceNotOpenError),  # no such invoice
        ("NOBODY", (), CustomerNotUsableError),
    ],
)
def test_receipt_business_errors(
    erp: Erp, customer: str, apps: tuple[Application, ...], error: type[Exception]
) -> None:
    with pytest.raises(error) as caught:
        amount = str(sum((a.amount for a in apps), Decimal(0)) or Decimal("10.00"))
        erp.connector.write_receipt(receipt(5004, customer, amount, *apps))
    assert not getattr(caught.value, "retryable", True)
    assert erp.connector.find_receipt(5004) is None


def test_paid_invoice_and_unusable_customers_are_refused(erp: Erp) -> None:
    paid_and_posted(erp, 5005, "C0001", "125.00", app("1001", "125.00"))
    with pytest.raises(InvoiceNotOpenError, match="1001"):
        erp.connector.write_receipt(receipt(5006, "C0001", "1.00", app("1001", "1.00")))
    for customer_id, active, on_hold in (("X0001", False, False), ("X0002", True, True)):
        erp.standin.add_customer(
            erp.engine,
            company_id=erp.company,
            customer_id=customer_id,
            name="Gone",
            active=active,
            on_hold=on_hold,
        )
        with pytest.raises(CustomerNotUsableError, match=customer_id):
            erp.connector.write_receipt(receipt(5007, customer_id, "10.00"))


# --- credit memos, reversals, re-application --------------------------------------------------


def test_credit_memo_applies_to_the_open_invoice_once(erp: Erp) -> None:
    c = erp.connector
    paid_and_posted(erp, 5101, "C0001", "100.00", app("1001", "100.00"))
    memo = CreditMemo(
        paytrace_transaction_id=5102,
        customer_id="C0001",
        amount=Decimal("10.00"),
        memo_date=TODAY,
        reference="PT 5102 refund",
        apply_to_invoice="1001",
        original_transaction_id=5101,
    )
    written = c.write_credit_memo(memo)
    assert written.created and written.kind is DocumentKind.CREDIT_MEMO
    assert normalized(written.applied_to) == {"1001"}
    assert not c.write_credit_memo(memo).created
    posted = c.post_document(DocumentKind.CREDIT_MEMO, "5102")
    assert posted.status is DocumentStatus.POSTED
    assert balance(erp, "1001") == Decimal("15.00")


def test_credit_memo_for_a_paid_invoice_stays_open(erp: Erp) -> None:
    c = erp.connector
    paid_and_posted(erp, 5103, "C0001", "80.50", app("1002", "80.50"))
    memo = CreditMemo(
        paytrace_transaction_id=5104,
        customer_id="C0001",
        amount=Decimal("20.00"),
        memo_date=TODAY,
        reference="PT 5104 refund",
        apply_to_invoice="1002",
    )
    written = c.write_credit_memo(memo)
    assert written.applied_to == ()
    c.post_document(DocumentKind.CREDIT_MEMO, "5104")
    assert balance(erp, "1002") == Decimal("0.00")
    assert c.open_balance("C0001") == Decimal("125.00")


def test_reversal_reopens_and_reapplication_pays_again(erp: Erp) -> None:
    c = erp.connector
    paid_and_posted(erp, 5201, "C0002", "1290.00", app("1003", "1250.00"), app("1004", "40.00"))
    reversal = ReceiptReversal(
        key="cb-77",
        paytrace_transaction_id=5201,
        reason=ReversalReason.CHARGEBACK,
        reversal_date=TODAY,
        reference="chargeback 77",
    )
    written = c.reverse_receipt(reversal)
    assert written.created and written.kind is DocumentKind.REVERSAL
    assert normalized(written.applied_to) == {"1003", "1004"}
    assert not c.reverse_receipt(reversal).created
    c.post_document(DocumentKind.REVERSAL, "cb-77")
    assert (balance(erp, "1003"), balance(erp, "1004")) == (Decimal("1250.00"), Decimal("40.00"))
    with pytest.raises(ErpBusinessError, match="5201"):
        c.reverse_receipt(reversal.model_copy(update={"key": "cb-78"}))
    again = Reapplication(key="cb-77:won", paytrace_transaction_id=5201, reapply_date=TODAY)
    reapplied = c.reapply_receipt(again)
    assert reapplied.created and normalized(reapplied.applied_to) == {"1003", "1004"}
    assert not c.reapply_receipt(again).created
    c.post_document(DocumentKind.REAPPLICATION, "cb-77:won")
    assert (balance(erp, "1003"), balance(erp, "1004")) == (Decimal("0.00"), Decimal("0.00"))
    kinds = [d.kind for d in c.documents_for_transaction(5201)]
    assert set(kinds) == {DocumentKind.RECEIPT, DocumentKind.REVERSAL, DocumentKind.REAPPLICATION}


def test_reversing_what_was_never_posted_is_refused(erp: Erp) -> None:
    c = erp.connector
    reversal = ReceiptReversal(
        key="void-1", paytrace_transaction_id=5301, reason=ReversalReason.VOID, reversal_date=TODAY
    )
    with pytest.raises(DocumentNotFoundError, match="5301"):
        c.reverse_receipt(reversal)
    assert c.find_document(DocumentKind.REVERSAL, "void-1") is None


# --- GL, deposits, sales orders ---------------------------------------------------------------


def fee_entry(erp: Erp, key: str, debit: str, credit: str, **kw: Any) -> JournalEntry:
    return JournalEntry(
        key=key,
        entry_date=kw.pop("entry_date", TODAY),
        description="PayTrace fees batch 77",
        lines=(
            JournalLine(
                account=kw.pop("fee_account", erp.account("card_fees")), debit=Decimal(debit)
            ),
            JournalLine(account=erp.account("undeposited"), credit=Decimal(credit)),
        ),
    )


def test_journal_entry_written_once_and_posted(erp: Erp) -> None:
    c = erp.connector
    written = c.write_journal(fee_entry(erp, "fees:batch:77", "12.34", "12.34"))
    assert written.created and written.amount == Decimal("12.34")
    assert written.kind is DocumentKind.JOURNAL and written.status is DocumentStatus.PENDING
    assert not c.write_journal(fee_entry(erp, "fees:batch:77", "12.34", "12.34")).created
    assert c.post_document(DocumentKind.JOURNAL, "fees:batch:77").status is DocumentStatus.POSTED


def test_journal_errors_are_typed(erp: Erp) -> None:
    c = erp.connector
    with pytest.raises(UnbalancedEntryError):
        c.write_journal(fee_entry(erp, "j1", "12.34", "12.33"))
    with pytest.raises(MissingGlAccountError, match="99999"):
        c.write_journal(fee_entry(erp, "j2", "1.00", "1.00", fee_account="99999"))
    erp.standin.set_period_open(erp.engine, company_id=erp.company, day=TODAY, is_open=False)
    with pytest.raises(ClosedPeriodError):
        c.write_journal(fee_entry(erp, "j3", "1.00", "1.00"))
    assert [c.find_document(DocumentKind.JOURNAL, k) for k in ("j1", "j2", "j3")] == [None] * 3


def test_deposit_links_written_receipts_once(erp: Erp) -> None:
    c = erp.connector
    paid_and_posted(erp, 5401, "C0001", "125.00", app("1001", "125.00"))
    paid_and_posted(erp, 5402, "C0001", "80.50", app("1002", "80.50"))
    deposit = Deposit(
        batch_number=77,
        deposit_date=TODAY + timedelta(days=1),
        amount=Decimal("205.50"),
        receipt_transaction_ids=(5401, 5402),
        reference="PayTrace batch 77",
    )
    written = c.write_deposit(deposit)
    assert written.created and written.kind is DocumentKind.DEPOSIT
    assert written.amount == Decimal("205.50")
    assert not c.write_deposit(deposit).created
    c.post_document(DocumentKind.DEPOSIT, "77")
    with pytest.raises(DocumentNotFoundError, match="5499"):
        c.write_deposit(
            deposit.model_copy(update={"batch_number": 78, "receipt_transaction_ids": (5499,)})
        )


def test_sales_order_written_once(erp: Erp) -> None:
    c = erp.connector
    order = SalesOrder(
        order_id="WEB-1001",
        customer_id="C0001",
        order_date=TODAY,
        lines=(
            SalesOrderLine(item_id="WIDGET", quantity=Decimal("3"), unit_price=Decimal("9.99")),
            SalesOrderLine(item_id="GADGET", quantity=Decimal("1"), unit_price=Decimal("20.00")),
        ),
    )
    written = c.write_sales_order(order)
    assert written.created and written.amount == Decimal("49.97")
    assert written.customer_id == "C0001" and written.kind is DocumentKind.SALES_ORDER
    assert not c.write_sales_order(order).created
    with pytest.raises(CustomerNotUsableError):
        c.write_sales_order(order.model_copy(update={"order_id": "WEB-1002", "customer_id": "NO"}))


# --- customers --------------------------------------------------------------------------------


def test_customer_create_update_link_and_changes(erp: Erp) -> None:
    c = erp.connector
    start = c.customers_changed_since("", limit=1000)
    while start.more:
        start = c.customers_changed_since(start.cursor, limit=1000)
    profile = CustomerProfile(
        customer_id="N0001",
        name="Northwind Traders",
        email="ap@northwind.example",
        phone="555-0100",
        address=PostalAddress(
            line1="1 Main St", city="Spokane", state="WA", postal_code="99201", country="USA"
        ),
    )
    created = c.upsert_customer(profile)
    assert (created.customer_id, created.name, created.email) == (
        "N0001",
        "Northwind Traders",
        "ap@northwind.example",
    )
    assert created.address.city == "Spokane"
    updated = c.upsert_customer(profile.model_copy(update={"name": "Northwind Traders Inc"}))
    assert updated.name == "Northwind Traders Inc"
    assert c.get_customer("N0001") == updated
    assert [d.customer_id for d in c.find_customers(email=" AP@Northwind.example ")] == ["N0001"]
    linked = c.link_paytrace_customer("N0001", "pt-northwind")
    assert linked.paytrace_customer_id == "pt-northwind"
    assert c.link_paytrace_customer("N0001", "pt-northwind") == linked
    with pytest.raises(ErpBusinessError, match="pt-northwind"):
        c.link_paytrace_customer("C0001", "pt-northwind")
    changes = c.customers_changed_since(start.cursor, limit=1000)
    assert "N0001" in [d.customer_id for d in changes.customers]
    # Nothing changed since: a later page brings nothing new. (An ERP that keeps change times
    # to the minute may hand back the cursor's own minute again: at least once, never skipped.)
    later = c.customers_changed_since(changes.cursor, limit=1000)
    assert set(later.customers) <= set(changes.customers)


def test_changed_customers_page_without_gaps(erp: Erp) -> None:
    c = erp.connector
    seen: list[str] = []
    page = c.customers_changed_since("", limit=5)
    seen += [d.customer_id for d in page.customers]
    while page.more:
        page = c.customers_changed_since(page.cursor, limit=5)
        seen += [d.customer_id for d in page.customers]
    assert len(seen) == len(set(seen)) >= 12


# --- concurrency (PostgreSQL) ----------------------------------------------------------------


def test_racing_writers_make_one_document(erp: Erp) -> None:
    if not is_postgres(erp):
        pytest.skip("row-lock races need PostgreSQL")
    c = erp.connector
    r = receipt(5501, "C0001", "125.00", app("1001", "125.00"))
    results = race(8, lambda _: c.write_receipt(r))
    assert not [x for x in results if isinstance(x, BaseException)], results
    assert sum(1 for x in results if not isinstance(x, BaseException) and x.created) == 1
    entry = fee_entry(erp, "fees:race", "5.00", "5.00")
    journals = race(8, lambda _: c.write_journal(entry))
    assert not [x for x in journals if isinstance(x, BaseException)], journals
    assert sum(1 for x in journals if not isinstance(x, BaseException) and x.created) == 1
    assert len(c.documents_for_transaction(5501)) == 1


def test_two_payments_racing_for_one_invoice_never_over_apply(erp: Erp) -> None:
    if not is_postgres(erp):
        pytest.skip("row-lock races need PostgreSQL")
    c = erp.connector
    ids = iter(range(5601, 5700))
    lock = threading.Lock()

    def pay(_: int) -> object:
        with lock:
            pt_id = next(ids)
        return c.write_receipt(receipt(pt_id, "C0002", "1250.00", app("1003", "1250.00")))

    results = race(6, pay)
    written = [x for x in results if not isinstance(x, BaseException)]
    refused = [x for x in results if isinstance(x, InvoiceNotOpenError)]
    assert len(written) == 1 and len(refused) == 5, results
    assert balance(erp, "1003") == Decimal("0.00")
