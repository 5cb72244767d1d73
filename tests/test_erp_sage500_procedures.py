"""The ``procedures`` posting strategy: the exact Sage stored procedure calls, recorded."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.erp import procedures as shared_procedures
from connectors.erp.errors import ErpBusinessError
from connectors.erp.procedures import ProcedureCall
from connectors.erp.protocol import PostingStrategy
from connectors.erp.sage500 import STAND_IN, Sage500Connector, post_flow
from connectors.erp.sage500.documents import FINISHERS, POSTERS
from connectors.erp.sage500.procedure_calls import ar_posting_calls
from connectors.erp.sage500.schema import tciBatchLog, tptPaytraceXref
from domain.erp_documents import DocumentKind, JournalEntry, JournalLine
from tests.erp_helpers import rows
from tests.test_erp_sage500 import NOW, PT_ID, TODAY, receipt

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite\\+pysqlite does \\*not\\* support")


def test_ar_posting_calls_are_the_sage_sequence() -> None:
    calls = ar_posting_calls(batch_key=42, batch_type=503, company_id="SOA")
    assert [(c.name, c.params, c.outputs, dict(c.ok)) for c in calls] == [
        (
            "spciValidatePosting",
            (("iBatchKey", 42), ("iSessionID", 42), ("iSourceModule", 5), ("iBatchType", 503)),
            (("oRetVal", "int"),),
            {"oRetVal": (0, 1)},
        ),
        (
            "spciPrePost",
            (("iBatchKey", 42), ("iSessionID", 42), ("iSourceModule", 5)),
            (("oRetVal", "int"),),
            {"oRetVal": (0,)},
        ),
        (
            "spARValGLCurr",
            (("_iBatchKey", 42), ("_iHomeCurrency", "USD"), ("_iCompanyID", "SOA")),
            (("_oRetVal", "int"),),
            {"_oRetVal": (0,)},
        ),
        (
            "sparCheckBalance",
            (("BatchKey", 42), ("SessionID", 42)),
            (("RetVal", "smallint"),),
            {"RetVal": (1,)},
        ),
        (
            "sparSetRegPrintFlg",
            (("iBatchKey", 42), ("iFlagValue", 1), ("iCompanyID", "SOA")),
            (("iRetVal", "int"),),
            {"iRetVal": (0,)},
        ),
        (
            "sparCheckRgstrStatus2",
            (("iCompanyID", "SOA"), ("iBatchKey", 42), ("iBatchType", 503)),
            (
                ("oPrintStatus", "int"),
                ("oErrorStatus", "int"),
                ("oStatus", "int"),
                ("oRecordsExist", "int"),
            ),
            {"oPrintStatus": (1,)},
        ),
        (
            "spciModPost",
            (("iBatchKey", 42), ("iSessionID", 42), ("iSourceModule", 5)),
            (("oRetVal", "int"),),
            {"oRetVal": (0,)},
        ),
        (
            "spciGLPost",
            (("iBatchKey", 42), ("iSourceModule", 5)),
            (("oRetVal", "int"),),
            {"oRetVal": (0,)},
        ),
        (
            "sparCheckRgstrStatus2",
            (("iCompanyID", "SOA"), ("iBatchKey", 42), ("iBatchType", 503)),
            (
                ("oPrintStatus", "int"),
                ("oErrorStatus", "int"),
                ("oStatus", "int"),
                ("oRecordsExist", "int"),
            ),
            {"oPrintStatus": (1,)},
        ),
        (
            "spciModCleanup",
            (("iBatchKey", 42), ("iSourceModule", 5)),
            (("oRetVal", "int"),),
            {"oRetVal": (0,)},
        ),
    ]
    assert calls[0].sql() == (
        "SET NOCOUNT ON; DECLARE @oRetVal int; EXEC spciValidatePosting @iBatchKey = :iBatchKey,"
        " @iSessionID = :iSessionID, @iSourceModule = :iSourceModule, @iBatchType = :iBatchType,"
        " @oRetVal = @oRetVal OUTPUT; SELECT @oRetVal AS oRetVal"
    )
    with pytest.raises(ErpBusinessError, match="batch type 301"):
        ar_posting_calls(batch_key=1, batch_type=301, company_id="SOA")


@pytest.fixture
def engine(erp_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(erp_url)
    STAND_IN.seed_demo(eng, customers=50, invoices=196, today=TODAY)
    yield eng
    eng.dispose()


SUCCESS: dict[str, dict[str, Any]] = {
    "spciValidatePosting": {"oRetVal": 1},
    "spARValGLCurr": {"_oRetVal": 0},
    "sparCheckBalance": {"RetVal": 1},
    "sparSetRegPrintFlg": {"iRetVal": 0},
    "sparCheckRgstrStatus2": {
        "oPrintStatus": 1,
        "oErrorStatus": 0,
        "oStatus": 1,
        "oRecordsExist": 1,
    },
}


class Recorder:
    """Stands in for SQL Server: records calls; spciModCleanup leaves the batch posted."""

    def __init__(self, fail_at: str = "") -> None:
        self.calls: list[ProcedureCall] = []
        self.fail_at = fail_at

    def __call__(self, conn: sa.Connection, call: ProcedureCall) -> dict[str, Any]:
        self.calls.append(call)
        # Sage's procedures manage their own transactions: never nested in tracepost's.
        assert conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
        if call.name == self.fail_at:
            return {name: 2 for name, _ in call.outputs}
        if call.name == "spciModCleanup":
            conn.execute(
                sa.update(tciBatchLog)
                .where(tciBatchLog.c.BatchKey == dict(call.params)["iBatchKey"])
                .values(Status=6, PostStatus=500)
            )
        return SUCCESS.get(call.name, {"oRetVal": 0})


def allow_any_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the stand-in play SQL Server (the recorder plays Sage's procedures)."""
    monkeypatch.setattr(post_flow, "require_mssql", lambda conn, label: None)
    monkeypatch.setattr(shared_procedures, "require_mssql", lambda conn, label: None)


def post_with(engine: sa.Engine, recorder: Recorder, kind: DocumentKind, key: str) -> Any:
    conn = Sage500Connector(engine, strategy=PostingStrategy.PROCEDURES, clock=lambda: NOW)
    return post_flow.post_document(
        engine, conn.settings, kind, key, POSTERS, FINISHERS, runner=recorder
    )


def test_procedures_strategy_runs_the_calls_then_marks_posted(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    allow_any_database(monkeypatch)
    erp = Sage500Connector(engine, clock=lambda: NOW)
    record = erp.write_receipt(receipt(("1001", "125.00")))
    recorder = Recorder()
    row = post_with(engine, recorder, DocumentKind.RECEIPT, str(PT_ID))
    assert row.Status == "posted"
    batch_key = rows(engine, tciBatchLog, tciBatchLog.c.BatchID == record.batch)[0]["BatchKey"]
    assert recorder.calls == ar_posting_calls(batch_key=batch_key, batch_type=503, company_id="SOA")
    # Posted batches are not posted again.
    again = Recorder()
    post_with(engine, again, DocumentKind.RECEIPT, str(PT_ID))
    assert again.calls == []


def test_procedures_stop_at_the_first_refusal(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    allow_any_database(monkeypatch)
    erp = Sage500Connector(engine, clock=lambda: NOW)
    erp.write_receipt(receipt(("1001", "125.00")))
    recorder = Recorder(fail_at="sparCheckBalance")
    with pytest.raises(ErpBusinessError, match="sparCheckBalance reported RetVal=2"):
        post_with(engine, recorder, DocumentKind.RECEIPT, str(PT_ID))
    assert [c.name for c in recorder.calls][-1] == "sparCheckBalance"
    assert len(recorder.calls) == 4
    assert rows(engine, tptPaytraceXref)[0]["Status"] == "pending"


def test_procedures_refuse_other_databases_and_gl_batches(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    erp = Sage500Connector(engine, strategy=PostingStrategy.PROCEDURES, clock=lambda: NOW)
    erp.write_journal(
        JournalEntry(
            key="j1",
            entry_date=TODAY,
            description="fees",
            lines=(
                JournalLine(account="6100", debit=Decimal("1.00")),
                JournalLine(account="1010", credit=Decimal("1.00")),
            ),
        )
    )
    with pytest.raises(ErpBusinessError, match="needs SQL Server"):
        erp.post_document(DocumentKind.JOURNAL, "j1")
    allow_any_database(monkeypatch)
    with pytest.raises(ErpBusinessError, match="AR batches"):
        post_with(engine, Recorder(), DocumentKind.JOURNAL, "j1")
