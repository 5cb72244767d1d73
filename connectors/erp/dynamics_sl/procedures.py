"""Releasing an SL batch with SL's own stored procedures (the ``procedures`` strategy).

SL's release screens (01.400 GL, 08.400 AR) and SL's own debugging procedures (``GLDebug``,
``ARDebug``) release a batch in five steps, keyed by a workstation id, ``UserAddress``:

1. delete the ``WrkRelease``/``WrkReleaseBad`` rows of that ``UserAddress``;
2. ``INSERT WrkRelease (BatNbr, Module, UserAddress)``;
3. ``EXEC pp_01400 @UserAddress, @Sol_User`` (GL) or ``EXEC pp_08400 @UserAddress, @Sol_User``
   (AR; it calls the ``pp_08400*`` family itself);
4. read ``WrkReleaseBad``: a row there is a batch the procedure refused (with a ``MsgID``);
5. delete the work rows again.

Steps 1, 2, 4 and 5 are plain SQL, which no SL procedure wraps; ``release_calls`` issues them
through ``sp_executesql`` with a constant statement text and bound parameters, so the whole
release is one list of ``ProcedureCall`` values that ``connectors.erp.procedures.run_calls``
executes in order. Step 4 returns the number of refused batches as an OUTPUT parameter whose only
good value is 0: ``run_calls`` raises ``ErpBusinessError`` otherwise (step 5 is then skipped; the
next release of the batch clears the rows in step 1, or the caller's rollback removes them).

The release procedures ``BEGIN``/``COMMIT`` their own transaction. Inside a caller's transaction
that nests fine when they succeed; when one aborts it rolls back the caller's transaction too
(SQL Server error 266 follows). SL's screens call them outside a transaction: an AUTOCOMMIT
connection is the faithful way to run these calls (docs/erp/dynamics_sl_ledger.md).
"""

from __future__ import annotations

from connectors.erp.dynamics_sl.base import SlContext, pad
from connectors.erp.errors import ErpBusinessError
from connectors.erp.procedures import ProcedureCall

RELEASE_PROCEDURES = {"GL": "pp_01400", "AR": "pp_08400"}
"""The release procedure of each module (``@UserAddress varchar(21), @Sol_User varchar(10)``)."""

USER_ADDRESS_WIDTH = 21
RESERVED_ADDRESSES = ("GLDebug", "ARDebug", "APDebug")

CLEAR_WORK_SQL = (
    "DELETE FROM WrkRelease WHERE UserAddress = @UserAddress;"
    " DELETE FROM WrkReleaseBad WHERE UserAddress = @UserAddress"
)
CLEAR_WORK_PARAMS = "@UserAddress char(21)"
LIST_BATCH_SQL = (
    "INSERT INTO WrkRelease (BatNbr, Module, UserAddress) VALUES (@BatNbr, @Module, @UserAddress)"
)
LIST_BATCH_PARAMS = "@BatNbr char(10), @Module char(2), @UserAddress char(21)"
COUNT_REFUSED_SQL = "SELECT @Refused = COUNT(*) FROM WrkReleaseBad WHERE UserAddress = @UserAddress"
COUNT_REFUSED_PARAMS = "@UserAddress char(21), @Refused int OUTPUT"


def user_address(module: str, bat_nbr: str) -> str:
    """The ``UserAddress`` tracepost releases one batch under: ``TP`` + module + ``BatNbr``.

    One address per batch keeps two tracepost workers from releasing each other's batches (the
    procedures process every ``WrkRelease`` row of the address) and never equals the addresses
    that switch the procedures to debug output (``GLDebug``, ``ARDebug``).

    Args:
        module: ``GL`` or ``AR``.
        bat_nbr: the batch number.

    Returns:
        E.g. ``TPGL000124`` (at most 14 characters).
    """
    address = f"TP{module.strip()}{bat_nbr.strip()}"
    assert len(address) <= USER_ADDRESS_WIDTH and address not in RESERVED_ADDRESSES
    return address


def _check(module: str, bat_nbr: str) -> tuple[str, str]:
    mod, number = module.strip().upper(), bat_nbr.strip()
    if mod not in RELEASE_PROCEDURES:
        raise ErpBusinessError(
            f"no Dynamics SL release procedure is known for module {module!r}"
            f" (supported: {', '.join(RELEASE_PROCEDURES)})"
        )
    if not number or len(number) > 10:
        raise ErpBusinessError(f"{bat_nbr!r} is not a Dynamics SL batch number")
    return mod, number


def _sql(statement: str, declared: str, *params: tuple[str, str]) -> ProcedureCall:
    """Plain SQL as an ``EXEC sp_executesql`` call with bound parameters."""
    return ProcedureCall(
        name="sp_executesql", params=(("stmt", statement), ("params", declared), *params)
    )


def release_calls(module: str, bat_nbr: str, ctx: SlContext) -> list[ProcedureCall]:
    """Every call that releases one batch on a real SL database, in order.

    Args:
        module: ``GL`` (``pp_01400``) or ``AR`` (``pp_08400``).
        bat_nbr: the batch number.
        ctx: ``user_id`` becomes ``@Sol_User`` (char 10).

    Returns:
        Clear the work rows, list the batch in ``WrkRelease``, ``EXEC`` the release procedure,
        count ``WrkReleaseBad`` rows (must be 0), clear the work rows.

    Raises:
        ErpBusinessError: for another module or a blank/too long batch number.
    """
    mod, number = _check(module, bat_nbr)
    address = pad(user_address(mod, number), USER_ADDRESS_WIDTH)
    clear = _sql(CLEAR_WORK_SQL, CLEAR_WORK_PARAMS, ("UserAddress", address))
    return [
        clear,
        _sql(
            LIST_BATCH_SQL,
            LIST_BATCH_PARAMS,
            ("BatNbr", pad(number, 10)),
            ("Module", mod),
            ("UserAddress", address),
        ),
        ProcedureCall(
            name=RELEASE_PROCEDURES[mod],
            params=(("UserAddress", address.strip()), ("Sol_User", ctx.user_id.strip()[:10])),
        ),
        ProcedureCall(
            name="sp_executesql",
            params=(
                ("stmt", COUNT_REFUSED_SQL),
                ("params", COUNT_REFUSED_PARAMS),
                ("UserAddress", address),
            ),
            outputs=(("Refused", "int"),),
            ok={"Refused": (0,)},
        ),
        clear,
    ]
