"""The ``procedures`` posting strategy: the exact stored procedure calls Sage's AR posting makes.

The sequence and parameters are those of the Net4Sage library's ``Batch.cs`` and
``ARUtils/PaymentApplicationBatch.cs`` (see ``docs/erp/sage500.md``): validate, pre-post,
validate GL currencies, check the batch balances, set the register-printed flag, check the
register status, module post, GL post, check the register status again, module clean-up. Each
call's OUTPUT return value says whether to go on. A pure builder, so tests check the calls
without SQL Server; ``run_calls`` executes them.
"""

from __future__ import annotations

from connectors.erp.errors import ErpBusinessError
from connectors.erp.procedures import ProcedureCall
from connectors.erp.sage500 import codes

# Modules whose batches go through spciModPost / spciGLPost (AP 4, AR 5).
MODULE_POSTED = (4, codes.MODULE_AR)
AR_BATCH_TYPES = (
    codes.BATCH_TYPE_AR_INVOICE,
    codes.BATCH_TYPE_CASH_RECEIPT,
    codes.BATCH_TYPE_WRITE_OFF,
)


def _register_status(company_id: str, batch_key: int, batch_type: int) -> ProcedureCall:
    return ProcedureCall(
        "sparCheckRgstrStatus2",
        params=(("iCompanyID", company_id), ("iBatchKey", batch_key), ("iBatchType", batch_type)),
        outputs=(
            ("oPrintStatus", "int"),
            ("oErrorStatus", "int"),
            ("oStatus", "int"),
            ("oRecordsExist", "int"),
        ),
        ok={"oPrintStatus": (1,)},
    )


def ar_posting_calls(
    *,
    batch_key: int,
    batch_type: int,
    company_id: str,
    home_currency: str = "USD",
    session_id: int | None = None,
) -> list[ProcedureCall]:
    """The calls that post one balanced AR batch (501 invoices/memos, 503 cash receipts).

    Args:
        batch_key: ``tciBatchLog.BatchKey``.
        batch_type: ``tciBatchLog.BatchType``.
        company_id: the Sage company.
        home_currency: the company's home currency (``spARValGLCurr``).
        session_id: the posting session; default the batch key, so that two postings never
            share Sage's session-keyed work rows (Net4Sage passes a constant 1).

    Returns:
        The calls, in order.

    Raises:
        ErpBusinessError: for a batch type this strategy does not post (GL journals).
    """
    if batch_type not in AR_BATCH_TYPES:
        raise ErpBusinessError(
            f"posting strategy 'procedures' posts AR batches (types 501, 503, 506) only, not batch"
            f" type {batch_type}: use 'manual' or 'emulated'"
        )
    module = codes.MODULE_AR
    session = batch_key if session_id is None else session_id
    ret = (("oRetVal", "int"),)
    return [
        ProcedureCall(
            "spciValidatePosting",
            params=(
                ("iBatchKey", batch_key),
                ("iSessionID", session),
                ("iSourceModule", module),
                ("iBatchType", batch_type),
            ),
            outputs=ret,
            ok={"oRetVal": (0, 1)},  # 1: warnings only
        ),
        ProcedureCall(
            "spciPrePost",
            params=(("iBatchKey", batch_key), ("iSessionID", session), ("iSourceModule", module)),
            outputs=ret,
            ok={"oRetVal": (0,)},
        ),
        ProcedureCall(
            "spARValGLCurr",
            params=(
                ("_iBatchKey", batch_key),
                ("_iHomeCurrency", home_currency),
                ("_iCompanyID", company_id),
            ),
            outputs=(("_oRetVal", "int"),),
            ok={"_oRetVal": (0,)},
        ),
        ProcedureCall(
            "sparCheckBalance",
            params=(("BatchKey", batch_key), ("SessionID", session)),
            outputs=(("RetVal", "smallint"),),
            ok={"RetVal": (1,)},
        ),
        ProcedureCall(
            "sparSetRegPrintFlg",
            params=(("iBatchKey", batch_key), ("iFlagValue", 1), ("iCompanyID", company_id)),
            outputs=(("iRetVal", "int"),),
            ok={"iRetVal": (0,)},
        ),
        _register_status(company_id, batch_key, batch_type),
        ProcedureCall(
            "spciModPost",
            params=(("iBatchKey", batch_key), ("iSessionID", session), ("iSourceModule", module)),
            outputs=ret,
            ok={"oRetVal": (0,)},
        ),
        ProcedureCall(
            "spciGLPost",
            params=(("iBatchKey", batch_key), ("iSourceModule", module)),
            outputs=ret,
            ok={"oRetVal": (0,)},
        ),
        _register_status(company_id, batch_key, batch_type),
        ProcedureCall(
            "spciModCleanup",
            params=(("iBatchKey", batch_key), ("iSourceModule", module)),
            outputs=ret,
            ok={"oRetVal": (0,)},
        ),
    ]
