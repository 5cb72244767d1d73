"""Sage 500 GL journal entries (fees, chargeback fees), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.erp.errors import ClosedPeriodError, MissingGlAccountError, UnbalancedEntryError
from connectors.erp.sage500 import STAND_IN, Sage500Connector
from connectors.erp.sage500.schema import tciBatchLog, tglPosting, tglTransaction, tptPaytraceXref
from domain.erp_documents import DocumentKind, DocumentStatus, JournalEntry, JournalLine
from tests.erp_helpers import race, rows
from tests.test_erp_sage500 import NOW, TODAY

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite\\+pysqlite does \\*not\\* support")


@pytest.fixture
def engine(erp_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(erp_url)
    STAND_IN.seed_demo(eng, customers=50, invoices=196, today=TODAY)
    yield eng
    eng.dispose()


def connector(engine: sa.Engine) -> Sage500Connector:
    return Sage500Connector(engine, clock=lambda: NOW)


def fees(*lines: tuple[str, str, str], key: str = "fees:batch:77") -> JournalEntry:
    return JournalEntry(
        key=key,
        entry_date=TODAY,
        description="PayTrace batch 77 card fees",
        lines=tuple(
            JournalLine(account=a, debit=Decimal(d), credit=Decimal(c), memo=f"acct {a}")
            for a, d, c in lines
        )
        or (
            JournalLine(account="6100", debit=Decimal("12.34"), memo="card fees"),
            JournalLine(account="1010", credit=Decimal("12.34")),
        ),
    )


def counts(engine: sa.Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in (tciBatchLog, tglPosting, tglTransaction, tptPaytraceXref)
        )


def test_golden_rows_of_a_journal(engine: sa.Engine) -> None:
    doc = connector(engine).write_journal(fees())
    assert (doc.kind, doc.erp_document, doc.batch, doc.amount, doc.created, doc.status) == (
        DocumentKind.JOURNAL,
        "0000000001-JE",
        "GLJE-0000001",
        Decimal("12.34"),
        True,
        DocumentStatus.PENDING,
    )
    assert rows(engine, tciBatchLog, tciBatchLog.c.BatchType == 301) == [
        {
            "BatchKey": 2,
            "BatchID": "GLJE-0000001",
            "BatchNo": 1,
            "BatchType": 301,
            "Status": 4,
            "PostStatus": 0,
            "SourceCompanyID": "SOA",
            "PostCompanyID": "SOA",
            "BatchCmnt": "PayTrace batch 77 card fees",
            "PostDate": datetime(2025, 6, 2),
            "NextSeqNo": 3,
            "RgstrPrinted": 0,
            "CreateDate": NOW,
            "CreateUserID": "tracepost",
            "UpdateCounter": 0,
        }
    ]
    common = {
        "BatchKey": 2,
        "CurrID": "USD",
        "PostQty": Decimal("0E-8"),
        "ExtCmnt": "PayTrace batch 77 card fees",
        "JrnlNo": None,
        "TranDate": datetime(2025, 6, 2),
        "TranKey": None,
        "TranNo": "0000000001",
        "TranType": 301,
        "PostDate": datetime(2025, 6, 2),
        "SourceModuleNo": 3,
    }
    postings = sorted(rows(engine, tglPosting), key=lambda r: r["PostingKey"])
    for posting in postings:
        posting["PostQty"] = Decimal(posting["PostQty"]).quantize(Decimal("0E-8"))
    assert postings == [
        {
            "PostingKey": 1,
            "GLAcctKey": 7,  # 6100 Credit Card Processing Fees
            "PostAmt": Decimal("12.340"),
            "PostAmtHC": Decimal("12.340"),
            "PostCmnt": "card fees",
            **common,
        },
        {
            "PostingKey": 2,
            "GLAcctKey": 2,  # 1010 Undeposited Funds - Card
            "PostAmt": Decimal("-12.340"),
            "PostAmtHC": Decimal("-12.340"),
            "PostCmnt": "PayTrace batch 77 card fees",
            **common,
        },
    ]
    (xref,) = rows(engine, tptPaytraceXref)
    assert xref == {
        "DocKind": "journal",
        "SourceKey": "fees:batch:77",
        "PaytraceTranID": None,
        "CompanyID": "SOA",
        "CustID": "",
        "DocKey": None,
        "DocNo": "0000000001-JE",
        "BatchKey": 2,
        "BatchID": "GLJE-0000001",
        "Amount": Decimal("12.340"),
        "DocDate": date(2025, 6, 2),
        "AppliedTo": "",
        "Status": "pending",
        "CreateDate": NOW,
        "UpdateDate": None,
        "PaymentSource": None,
    }


def test_journal_is_written_once_and_posts_to_its_period(engine: sa.Engine) -> None:
    erp = connector(engine)
    first = erp.write_journal(fees())
    assert erp.write_journal(fees()) == first.model_copy(update={"created": False})
    posted = erp.post_document(DocumentKind.JOURNAL, "fees:batch:77")
    assert posted.status is DocumentStatus.POSTED
    assert rows(engine, tglPosting) == []
    gl = sorted(rows(engine, tglTransaction), key=lambda r: r["glTranKey"])
    assert [(r["glTranKey"], r["GLAcctKey"], r["PostAmt"]) for r in gl] == [
        (1, 7, Decimal("12.340")),
        (2, 2, Decimal("-12.340")),
    ]
    assert {(r["CompanyID"], r["FiscYear"], r["FiscPer"]) for r in gl} == {("SOA", "2025", 6)}
    assert sum(r["PostAmt"] for r in gl) == 0
    before = counts(engine)
    assert erp.post_document(DocumentKind.JOURNAL, "fees:batch:77") == posted
    assert counts(engine) == before


@pytest.mark.parametrize(
    ("entry", "error", "message"),
    [
        (fees(("6100", "10.00", "0"), ("1010", "0", "9.99")), UnbalancedEntryError, "differ"),
        (fees(("6100", "10.00", "10.00"), ("1010", "0", "0")), UnbalancedEntryError, "line 1"),
        (fees(("6100", "-1.00", "0"), ("1010", "0", "-1.00")), UnbalancedEntryError, "line 1"),
        (fees(("6100", "1.00", "0")), UnbalancedEntryError, "at least two lines"),
        (fees(("9999", "1.00", "0"), ("1010", "0", "1.00")), MissingGlAccountError, "9999"),
        (fees(("6990", "1.00", "0"), ("1010", "0", "1.00")), MissingGlAccountError, "not active"),
    ],
)
def test_journal_refusals_write_nothing(
    engine: sa.Engine, entry: JournalEntry, error: type[Exception], message: str
) -> None:
    before = counts(engine)
    with pytest.raises(error, match=message) as caught:
        connector(engine).write_journal(entry)
    assert not getattr(caught.value, "retryable", True)
    assert counts(engine) == before


def test_journal_in_a_closed_period_is_refused(engine: sa.Engine) -> None:
    before = counts(engine)
    with pytest.raises(ClosedPeriodError, match="2024-12 of company SOA is closed"):
        connector(engine).write_journal(fees().model_copy(update={"entry_date": date(2024, 12, 5)}))
    assert counts(engine) == before


def test_racing_journal_writers_write_one(engine: sa.Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("race exercised on PostgreSQL")
    erp = connector(engine)
    results: list[Any] = race(8, lambda _: erp.write_journal(fees()))
    assert [r for r in results if isinstance(r, Exception)] == []
    assert sum(1 for r in results if r.created) == 1
    assert counts(engine)[1:] == (2, 0, 1)
    assert len(rows(engine, tciBatchLog, tciBatchLog.c.BatchType == 301)) == 1
