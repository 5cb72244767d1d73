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
from connectors.erp.xref import IN_CHUNK
from domain.erp_documents import (
    AccountState,
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
from domain.models import Application, CashReceipt, PaymentSource, ReceiptStatus, paytrace_tag
from tests.erp_helpers import captured, race
from tests.erp_rows import posted_payments, receipt_cash_accounts, set_gl_account_active

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
        reference=paytrace_tag(pt_id, kw.get("source", PaymentSource.CARD)),
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


ACH = PaymentSource.ACH
CARD = PaymentSource.CARD


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


# --- ACH payments: numbered apart from card transactions ------------------------------------


def test_ach_and_card_receipts_with_one_number_are_two_documents(erp: Erp) -> None:
    c = erp.connector
    card = receipt(5701, "C0001", "50.00", app("1001", "50.00"))
    ach = receipt(5701, "C0001", "25.00", app("1001", "25.00"), source=ACH)
    card_written = c.write_receipt(card)
    ach_written = c.write_receipt(ach)
    assert card_written.created and ach_written.created
    assert (card_written.source, ach_written.source) == (CARD, ACH)
    assert card_written.erp_document != ach_written.erp_document
    assert ach_written.paytrace_transaction_id == 5701
    # Repeats are read back, each by its own source.
    assert not c.write_receipt(ach).created and not c.write_receipt(card).created
    assert c.find_receipt(5701) == card_written.model_copy(update={"created": False})
    assert c.find_receipt(5701, ACH) == ach_written.model_copy(update={"created": False})
    assert c.find_document(DocumentKind.RECEIPT, "ach-5701") is not None
    assert balance(erp, "1001") == Decimal("50.00")  # both applications pending
    posted = c.post_receipt(5701, ACH)
    assert (posted.status, posted.source, posted.erp_document) == (
        ReceiptStatus.POSTED,
        ACH,
        ach_written.erp_document,
    )
    card_record = c.find_receipt(5701)
    assert card_record is not None and card_record.status is ReceiptStatus.PENDING
    assert c.post_receipt(5701).status is ReceiptStatus.POSTED
    assert c.post_receipt(5701, ACH).status is ReceiptStatus.POSTED  # idempotent
    # The ERP's own rows: one posted payment tagged "PT 5701", one "PT ACH 5701".
    assert posted_payments(erp.engine, erp.name, 5701) == 1
    assert posted_payments(erp.engine, erp.name, 5701, ACH) == 1
    assert [d.key for d in c.documents_for_transaction(5701)] == ["5701"]
    assert [d.key for d in c.documents_for_transaction(5701, ACH)] == ["ach-5701"]
    assert c.find_receipt(5702, ACH) is None
    with pytest.raises(DocumentNotFoundError):
        c.post_receipt(5702, ACH)


def test_ach_return_reopens_its_invoice_and_leaves_the_card_payment(erp: Erp) -> None:
    c = erp.connector
    paid_and_posted(erp, 5711, "C0001", "125.00", app("1001", "125.00"))
    c.write_receipt(receipt(5711, "C0001", "30.50", app("1002", "30.50"), source=ACH))
    c.post_receipt(5711, ACH)
    assert (balance(erp, "1001"), balance(erp, "1002")) == (Decimal("0.00"), Decimal("50.00"))
    returned = ReceiptReversal(
        key="ach-return:5711",
        paytrace_transaction_id=5711,
        reason=ReversalReason.ACH_RETURN,
        reversal_date=TODAY,
        reference="R01 insufficient funds",
        source=ACH,
    )
    written = c.reverse_receipt(returned)
    assert written.created and normalized(written.applied_to) == {"1002"}
    assert not c.reverse_receipt(returned).created
    c.post_document(DocumentKind.REVERSAL, "ach-return:5711")
    assert (balance(erp, "1001"), balance(erp, "1002")) == (Decimal("0.00"), Decimal("80.50"))
    card = c.find_receipt(5711)
    assert card is not None and card.status is ReceiptStatus.POSTED
    assert [d.kind for d in c.documents_for_transaction(5711)] == [DocumentKind.RECEIPT]
    assert {d.kind for d in c.documents_for_transaction(5711, ACH)} == {
        DocumentKind.RECEIPT,
        DocumentKind.REVERSAL,
    }
    # The ACH payment is reversed once; the card payment with its number is not reversed yet.
    with pytest.raises(ErpBusinessError, match="5711"):
        c.reverse_receipt(returned.model_copy(update={"key": "ach-return:5711:again"}))
    void = ReceiptReversal(
        key="void:5711",
        paytrace_transaction_id=5711,
        reason=ReversalReason.VOID,
        reversal_date=TODAY,
    )
    assert normalized(c.reverse_receipt(void).applied_to) == {"1001"}
    c.post_document(DocumentKind.REVERSAL, "void:5711")
    assert (balance(erp, "1001"), balance(erp, "1002")) == (Decimal("125.00"), Decimal("80.50"))


def test_reversing_an_ach_payment_never_written_is_refused(erp: Erp) -> None:
    paid_and_posted(erp, 5721, "C0001", "125.00", app("1001", "125.00"))
    returned = ReceiptReversal(
        key="ach-return:5721",
        paytrace_transaction_id=5721,
        reason=ReversalReason.ACH_RETURN,
        reversal_date=TODAY,
        source=ACH,
    )
    with pytest.raises(DocumentNotFoundError, match="5721"):
        erp.connector.reverse_receipt(returned)
    assert balance(erp, "1001") == Decimal("0.00")


# --- a receipt's own cash account -------------------------------------------------------------


def test_receipt_cash_account_replaces_the_configured_one(erp: Erp) -> None:
    c = erp.connector
    bank, clearing = erp.account("bank"), erp.account("undeposited")
    own = c.write_receipt(receipt(5731, "C0001", "25.00", app("1001", "25.00"), cash_account=bank))
    default = c.write_receipt(receipt(5732, "C0001", "25.00", app("1001", "25.00")))
    assert receipt_cash_accounts(erp.engine, erp.name, own.erp_document) == {bank}
    assert receipt_cash_accounts(erp.engine, erp.name, default.erp_document) == {clearing}
    c.post_receipt(5731)
    assert receipt_cash_accounts(erp.engine, erp.name, own.erp_document) == {bank}


def test_receipt_to_a_missing_or_inactive_cash_account_is_refused(erp: Erp) -> None:
    c = erp.connector
    with pytest.raises(MissingGlAccountError, match="99999"):
        c.write_receipt(receipt(5741, "C0001", "25.00", app("1001", "25.00"), cash_account="99999"))
    bank = erp.account("bank")
    set_gl_account_active(erp.engine, erp.name, bank, active=False)
    with pytest.raises(MissingGlAccountError, match=bank):
        c.write_receipt(receipt(5741, "C0001", "25.00", app("1001", "25.00"), cash_account=bank))
    assert c.find_receipt(5741) is None
    assert balance(erp, "1001") == Decimal("125.00")
    # Blank keeps the configured cash account, which is still fine.
    assert c.write_receipt(receipt(5741, "C0001", "25.00", app("1001", "25.00"))).created


# --- bulk read-back -----------------------------------------------------------------------------


def test_documents_by_keys_reads_back_exactly_the_written_ones_in_chunks(erp: Erp) -> None:
    c = erp.connector
    written = {
        "5751": c.write_receipt(receipt(5751, "C0001", "10.00")),
        "ach-5751": c.write_receipt(receipt(5751, "C0002", "11.00", source=ACH)),
        "5753": c.write_receipt(receipt(5753, "C0002", "12.00")),
    }
    c.post_receipt(5753)
    keys = [str(900000 + i) for i in range(1200)]
    keys[0], keys[600], keys[1199] = "5753", "ach-5751", "5751"
    keys.append("5751")  # asked twice, returned once
    with captured(erp.engine) as statements:
        found = c.documents_by_keys(DocumentKind.RECEIPT, keys)
    assert [d.key for d in found] == ["5753", "ach-5751", "5751"]
    for doc in found:
        record = written[doc.key]
        assert (doc.erp_document, doc.batch, doc.amount, doc.customer_id) == (
            record.erp_document,
            record.batch,
            record.amount,
            record.customer_id,
        )
    assert found[0].status is DocumentStatus.POSTED
    # 1,200 distinct keys: at least three statements, none with more than IN_CHUNK keys.
    reads = [s for s in statements if isinstance(s, sa.Select)]
    assert len(reads) >= 3
    for stmt in reads:
        params = stmt.compile().params.values()
        values = sum(len(v) if isinstance(v, list | tuple) else 1 for v in params)
        assert values <= IN_CHUNK + 1  # the keys and the kind
    assert c.documents_by_keys(DocumentKind.CREDIT_MEMO, keys) == []
    assert c.documents_by_keys(DocumentKind.RECEIPT, []) == []


def test_documents_dated_includes_both_ends_in_date_then_key_order(erp: Erp) -> None:
    c = erp.connector
    days = {5761: -1, 5762: 0, 5763: 1, 5764: 1, 5765: 2}
    for pt_id, offset in days.items():
        c.write_receipt(receipt(pt_id, "C0001", "5.00", receipt_date=TODAY + timedelta(offset)))
    c.write_receipt(receipt(5760, "C0001", "5.00", receipt_date=TODAY, source=ACH))
    dated = c.documents_dated(DocumentKind.RECEIPT, TODAY, TODAY + timedelta(1))
    assert [(d.key, d.document_date) for d in dated] == [
        ("5762", TODAY),
        ("ach-5760", TODAY),
        ("5763", TODAY + timedelta(1)),
        ("5764", TODAY + timedelta(1)),
    ]
    single = c.documents_dated(DocumentKind.RECEIPT, TODAY - timedelta(1), TODAY - timedelta(1))
    assert [d.key for d in single] == ["5761"]
    assert c.documents_dated(DocumentKind.RECEIPT, TODAY + timedelta(1), TODAY) == []
    assert c.documents_dated(DocumentKind.JOURNAL, TODAY - timedelta(9), TODAY + timedelta(9)) == []


# --- GL accounts a mapping names ----------------------------------------------------------------


def test_gl_account_states_tell_active_inactive_and_missing(erp: Erp) -> None:
    c = erp.connector
    fees, bank = erp.account("card_fees"), erp.account("bank")
    set_gl_account_active(erp.engine, erp.name, fees, active=False)
    states = c.gl_account_states([bank, fees, "99999", " ", bank])
    assert states == {
        bank: AccountState.ACTIVE,
        fees: AccountState.INACTIVE,
        "99999": AccountState.MISSING,
        " ": AccountState.MISSING,
    }
    set_gl_account_active(erp.engine, erp.name, fees, active=True)
    assert c.gl_account_states([fees]) == {fees: AccountState.ACTIVE}
    assert c.gl_account_states([]) == {}


# --- credit memos an ERP user flagged for a card refund -----------------------------------------


def user_memo(erp: Erp, number: str, amount: str, day: date, comment: str, **kw: Any) -> None:
    erp.standin.add_credit_memo(
        erp.engine,
        company_id=erp.company,
        customer_id=kw.pop("customer", "C0001"),
        number=number,
        amount=Decimal(amount),
        memo_date=day,
        comment=comment,
        **kw,
    )


def test_flagged_refund_memos(erp: Erp) -> None:
    c = erp.connector
    yesterday = TODAY - timedelta(days=1)
    user_memo(erp, "9101", "10.00", TODAY, "REFUND PT 5801 damaged", apply_to="1001")
    user_memo(erp, "9102", "5.00", TODAY, "   refund pt 5802", customer="C0002")
    user_memo(erp, "9103", "7.00", yesterday, "Refund PT 5803")
    user_memo(erp, "9104", "3.00", TODAY, "goodwill credit, no refund PT")
    # tracepost's own memo of a PayTrace refund, posted: never an ERP-initiated refund.
    c.write_credit_memo(
        CreditMemo(
            paytrace_transaction_id=5804,
            customer_id="C0001",
            amount=Decimal("4.00"),
            memo_date=TODAY,
            reference="refund",
        )
    )
    c.post_document(DocumentKind.CREDIT_MEMO, "5804")
    assert balance(erp, "1001") == Decimal("115.00")  # the user's memo paid part of 1001

    flagged = c.flagged_refund_memos("refund pt", TODAY)
    assert [(m.customer_id, m.amount, m.memo_date, m.comment) for m in flagged] == [
        ("C0001", Decimal("10.00"), TODAY, "REFUND PT 5801 damaged"),
        ("C0002", Decimal("5.00"), TODAY, "refund pt 5802"),
    ]
    assert [normalized(m.applied_to) for m in flagged] == [{"1001"}, set()]
    assert [normalize_invoice_number(m.erp_document) for m in flagged] != []
    # since is inclusive; order is memo date, then number.
    earlier = c.flagged_refund_memos("REFUND PT", yesterday)
    assert [m.comment for m in earlier] == [
        "Refund PT 5803",
        "REFUND PT 5801 damaged",
        "refund pt 5802",
    ]
    assert c.flagged_refund_memos("REFUND PT", TODAY + timedelta(days=1)) == []
    # tracepost's memo comment starts "PT 5804": listed for the marker "PT" only if it were not
    # tracepost's own; a user's memo starting "PT" is listed.
    user_memo(erp, "9190", "2.00", TODAY, "PT 5805 typed by a clerk")
    assert [m.comment for m in c.flagged_refund_memos("PT", TODAY)] == ["PT 5805 typed by a clerk"]
    with pytest.raises(ErpBusinessError, match="blank"):
        c.flagged_refund_memos("  ", TODAY)


def test_add_credit_memo_refuses_what_an_erp_user_could_not_enter(erp: Erp) -> None:
    with pytest.raises(ValueError, match="424242"):
        user_memo(erp, "9201", "1.00", TODAY, "x", apply_to="424242")
    with pytest.raises(ValueError, match="NOBODY"):
        user_memo(erp, "9202", "1.00", TODAY, "x", customer="NOBODY")
    with pytest.raises(ValueError):
        user_memo(erp, "9203", "0.00", TODAY, "x")
    paid_and_posted(erp, 5901, "C0001", "80.50", app("1002", "80.50"))
    with pytest.raises(ValueError, match="not open"):
        user_memo(erp, "9204", "1.00", TODAY, "x", apply_to="1002")
    assert erp.connector.flagged_refund_memos("x", TODAY) == []
    # A memo larger than the invoice pays it off and keeps the rest as open credit.
    user_memo(erp, "9205", "200.00", TODAY, "REFUND PT 5902", apply_to="1001")
    assert balance(erp, "1001") == Decimal("0.00")
    (memo,) = erp.connector.flagged_refund_memos("REFUND PT", TODAY)
    assert memo.amount == Decimal("200.00") and normalized(memo.applied_to) == {"1001"}


def test_racing_card_and_ach_writers_of_one_number_make_two_documents(erp: Erp) -> None:
    if not is_postgres(erp):
        pytest.skip("row-lock races need PostgreSQL")
    c = erp.connector
    card = receipt(5771, "C0002", "9.00")
    ach = receipt(5771, "C0002", "8.00", source=ACH)
    results = race(8, lambda i: c.write_receipt(card if i % 2 else ach))
    assert not [x for x in results if isinstance(x, BaseException)], results
    assert sum(1 for x in results if x.created) == 2
    documents = {(x.source, x.erp_document) for x in results}
    assert len(documents) == 2 and {s for s, _ in documents} == {CARD, ACH}
    c.post_receipt(5771)
    c.post_receipt(5771, ACH)
    assert posted_payments(erp.engine, erp.name, 5771) == 1
    assert posted_payments(erp.engine, erp.name, 5771, ACH) == 1
