"""Every statement the Sage 500 connector issues compiles for SQL Server; faults are retryable."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mssql

from connectors.erp.errors import ErpUnavailableError
from connectors.erp.sage500 import STAND_IN, Sage500Connector
from connectors.erp.sage500.schema import metadata
from domain.erp_documents import (
    AccountState,
    CreditMemo,
    CustomerProfile,
    Deposit,
    DocumentKind,
    JournalEntry,
    JournalLine,
    Reapplication,
    ReceiptReversal,
    ReversalReason,
    SalesOrder,
    SalesOrderLine,
)
from domain.models import PaymentSource
from tests.dbs import PG_URL
from tests.erp_helpers import captured
from tests.test_erp_sage500 import NOW, PT_ID, TODAY, receipt

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite\\+pysqlite does \\*not\\* support")

MEMO = CreditMemo(
    paytrace_transaction_id=2000456,
    customer_id="C0002",
    amount=Decimal("10.00"),
    memo_date=TODAY,
    reference="refund",
    apply_to_invoice="1003",
)
JOURNAL = JournalEntry(
    key="fees:batch:77",
    entry_date=TODAY,
    description="fees",
    lines=(
        JournalLine(account="6100", debit=Decimal("3.10")),
        JournalLine(account="1010", credit=Decimal("3.10")),
    ),
)
DEPOSIT = Deposit(
    batch_number=77, deposit_date=TODAY, amount=Decimal("120.00"), receipt_transaction_ids=(PT_ID,)
)
ORDER = SalesOrder(
    order_id="WEB-1",
    customer_id="C0001",
    order_date=TODAY,
    lines=(SalesOrderLine(item_id="BOLT-316", quantity=Decimal("1"), unit_price=Decimal("2")),),
)


@pytest.fixture
def engine(erp_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(erp_url)
    STAND_IN.seed_demo(eng, customers=50, invoices=196, today=TODAY)
    yield eng
    eng.dispose()


def connector(engine: sa.Engine) -> Sage500Connector:
    return Sage500Connector(engine, clock=lambda: NOW)


def every_operation(erp: Sage500Connector) -> None:
    """Each protocol operation at least once, writes twice (the read-back path too)."""
    erp.get_customer("C0001")
    erp.find_customers(paytrace_customer_id="acme-supply")
    erp.find_customers(email="ap@acmesupply.example")
    erp.find_customers(name="acme supply co.")
    erp.upsert_customer(CustomerProfile(customer_id="C9000", name="New Co", email="n@x.ex"))
    erp.upsert_customer(CustomerProfile(customer_id="C9000", name="New Co 2", phone="1"))
    erp.link_paytrace_customer("C0003", "pt-link")
    page = erp.customers_changed_since("", limit=3)
    erp.customers_changed_since(page.cursor, limit=3)
    erp.open_balance("C0001")
    erp.fiscal_period(TODAY)
    for _ in range(2):
        erp.write_receipt(receipt(("1001", "120.00")))
        erp.post_receipt(PT_ID)
        erp.write_credit_memo(MEMO)
        erp.post_document(DocumentKind.CREDIT_MEMO, "2000456")
        reversal = ReceiptReversal(
            key="void:1",
            paytrace_transaction_id=PT_ID,
            reason=ReversalReason.VOID,
            reversal_date=TODAY,
        )
        erp.reverse_receipt(reversal)
        erp.post_document(DocumentKind.REVERSAL, "void:1")
        erp.reapply_receipt(
            Reapplication(key="won:1", paytrace_transaction_id=PT_ID, reapply_date=TODAY)
        )
        erp.post_document(DocumentKind.REAPPLICATION, "won:1")
        erp.write_journal(JOURNAL)
        erp.post_document(DocumentKind.JOURNAL, JOURNAL.key)
        erp.write_deposit(DEPOSIT)
        erp.post_document(DocumentKind.DEPOSIT, "77")
        erp.write_sales_order(ORDER)
        erp.post_document(DocumentKind.SALES_ORDER, "WEB-1")
    erp.find_document(DocumentKind.JOURNAL, JOURNAL.key)
    erp.documents_for_transaction(PT_ID)
    every_new_operation(erp)


ACH_ID = 5000001


def every_new_operation(erp: Sage500Connector) -> None:
    """ACH receipts and returns, a receipt's own cash account, bulk reads, memos, accounts."""
    ach = receipt(("1002", "80.50"), pt_id=ACH_ID).model_copy(
        update={"source": PaymentSource.ACH, "cash_account": "1000"}
    )
    for _ in range(2):
        erp.write_receipt(ach)
        erp.post_receipt(ACH_ID, PaymentSource.ACH)
        erp.reverse_receipt(
            ReceiptReversal(
                key="ach-return:1",
                paytrace_transaction_id=ACH_ID,
                reason=ReversalReason.ACH_RETURN,
                reversal_date=TODAY,
                source=PaymentSource.ACH,
            )
        )
        erp.post_document(DocumentKind.REVERSAL, "ach-return:1")
    erp.find_receipt(ACH_ID, PaymentSource.ACH)
    erp.documents_for_transaction(ACH_ID, PaymentSource.ACH)
    keys = [f"ach-{ACH_ID}", *(str(n) for n in range(1200))]
    assert [d.key for d in erp.documents_by_keys(DocumentKind.RECEIPT, keys)] == keys[:1]
    assert erp.documents_dated(DocumentKind.RECEIPT, TODAY, TODAY)
    states = erp.gl_account_states(["1000", "6990", "99999"])
    assert list(states.values()) == [
        AccountState.ACTIVE,
        AccountState.INACTIVE,
        AccountState.MISSING,
    ]
    STAND_IN.add_credit_memo(
        erp._engine,
        company_id="SOA",
        customer_id="C0002",
        number="9001",
        amount=Decimal("5.00"),
        memo_date=TODAY,
        comment="REFUND PT 1000123",
        apply_to="1004",
    )
    assert len(erp.flagged_refund_memos("refund pt", TODAY)) == 1


def test_every_statement_of_every_operation_compiles_for_mssql(engine: sa.Engine) -> None:
    erp = connector(engine)
    with captured(engine) as statements:
        every_operation(erp)
    assert len(statements) > 200
    dialect = mssql.dialect()
    compiled = []
    for stmt in statements:
        assert isinstance(stmt, sa.Select | sa.Insert | sa.Update | sa.Delete), type(stmt)
        compiled.append(str(stmt.compile(dialect=dialect)))
    locked = {
        table
        for s in compiled
        for table in metadata.tables
        if f"[{table}] WITH (UPDLOCK, ROWLOCK)" in s
    }
    assert locked >= {
        "tarInvoice",
        "tciBatchLog",
        "tptPaytraceXref",
        "tarCustomer",
        "tarCustPmt",
        "tsmCompany",
    }, locked
    assert not any("FOR UPDATE" in s or "LIMIT" in s for s in compiled)
    # Keyset paging becomes TOP on SQL Server.
    assert any("SELECT TOP" in s and "[tarCustomer].[UpdateDate]" in s for s in compiled)
    # The new reads: bulk read-back, dated documents, flagged memos, account states.
    assert any("[tptPaytraceXref].[SourceKey] IN" in s for s in compiled)
    assert any("[tptPaytraceXref].[DocDate] >=" in s for s in compiled)
    assert any("[tptPaytraceXref].[PaymentSource]" in s for s in compiled)
    memo_reads = [s for s in compiled if "lower(ltrim([tarInvoice].[TranCmnt])) LIKE" in s]
    assert memo_reads and all("NOT (EXISTS" in s for s in memo_reads)
    assert any("FROM [tglAccount]" in s and "[tglAccount].[GLAcctNo] IN" in s for s in compiled)


# --- faults (PostgreSQL) -----------------------------------------------------------------------


def _reverse_posted(erp: Sage500Connector) -> Any:
    return erp.reverse_receipt(
        ReceiptReversal(
            key="ach:R01",
            paytrace_transaction_id=PT_ID + 50,
            reason=ReversalReason.ACH_RETURN,
            reversal_date=TODAY,
        )
    )


def _deposit_written(erp: Sage500Connector) -> Any:
    return erp.write_deposit(DEPOSIT.model_copy(update={"receipt_transaction_ids": (PT_ID + 50,)}))


WRITES: dict[str, Callable[[Sage500Connector], Any]] = {
    "receipt": lambda erp: erp.write_receipt(receipt(("1001", "125.00"))),
    "reversal": _reverse_posted,
    "deposit": _deposit_written,
    "memo": lambda erp: erp.write_credit_memo(MEMO),
    "journal": lambda erp: erp.write_journal(JOURNAL),
    "sales_order": lambda erp: erp.write_sales_order(ORDER),
}


def row_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for name, table in metadata.tables.items()
        }


@pytest.mark.parametrize("operation", sorted(WRITES))
def test_connection_killed_mid_transaction_leaves_nothing_and_retry_succeeds(
    engine: sa.Engine, operation: str
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("pg_terminate_backend needs PostgreSQL")
    admin = sa.create_engine(PG_URL)
    paid = connector(engine)  # a posted receipt for the reversal and the deposit
    paid.write_receipt(receipt(("1003", "100.00"), customer="C0002", pt_id=PT_ID + 50))
    paid.post_receipt(PT_ID + 50)
    before = row_counts(engine)
    killed: list[int] = []

    def kill_before_xref(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not killed and statement.startswith('INSERT INTO "tptPaytraceXref"'):
            pid = conn.connection.dbapi_connection.info.backend_pid
            with admin.begin() as other:
                other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            killed.append(pid)

    sa.event.listen(engine, "before_cursor_execute", kill_before_xref)
    try:
        with pytest.raises(ErpUnavailableError) as caught:
            WRITES[operation](connector(engine))
    finally:
        sa.event.remove(engine, "before_cursor_execute", kill_before_xref)
        admin.dispose()
    assert killed and caught.value.retryable
    assert row_counts(engine) == before  # the document rows died with the transaction
    retried = WRITES[operation](connector(engine))
    assert retried.created


def test_deadlock_victim_is_retryable(engine: sa.Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("deadlock exercised on PostgreSQL")
    erp = connector(engine)
    outcome: list[Any] = []
    with engine.connect() as blocker:
        blocker.exec_driver_sql("SET deadlock_timeout = '20s'")  # the connector is the victim
        blocker.commit()
        with blocker.begin():
            # Hold the document-number row the connector takes second...
            blocker.exec_driver_sql(
                'UPDATE "tciTranTypeCompany" SET "NextTranNo" = "NextTranNo" WHERE "TranType" = 510'
            )

            def write() -> None:
                try:
                    outcome.append(erp.write_receipt(receipt(("1001", "125.00"))))
                except Exception as exc:  # noqa: BLE001 - asserted below
                    outcome.append(exc)

            thread = threading.Thread(target=write)
            thread.start()
            _wait_for_lock_wait(engine, outcome)
            # ...then want the batch-number row it took first: a cycle.
            blocker.exec_driver_sql(
                'UPDATE "tciBatchTypCompany" SET "NextBatchNo" = "NextBatchNo"'
                ' WHERE "BatchType" = 503'
            )
            thread.join(timeout=30)
            blocker.rollback()
    (error,) = outcome
    assert isinstance(error, ErpUnavailableError) and error.retryable, error
    assert "deadlock" in str(error).lower()
    assert erp.write_receipt(receipt(("1001", "125.00"))).created


def _wait_for_lock_wait(engine: sa.Engine, outcome: list[Any]) -> None:
    deadline = time.monotonic() + 10
    with engine.connect() as conn:
        while time.monotonic() < deadline and not outcome:
            waiting = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database() AND position('tciTranTypeCompany' in query) > 0"
            ).scalar()
            conn.rollback()  # pg_stat_activity is a per-transaction snapshot: take a new one
            if waiting:
                return
            time.sleep(0.05)
    raise AssertionError(f"the connector never waited for the lock: {outcome}")


def test_fiscal_period_boundaries(engine: sa.Engine) -> None:
    erp = connector(engine)
    first = erp.fiscal_period(date(2025, 6, 1))
    last = erp.fiscal_period(date(2025, 6, 30))
    assert first is not None and last is not None and first == last
