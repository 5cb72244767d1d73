"""Calling an ERP's own stored procedures (the ``procedures`` posting strategy, SQL Server only).

A posting is a list of ``ProcedureCall`` values built by a pure function, so unit tests can check
the exact calls that would be issued without a SQL Server; ``run_calls`` executes them in order on
a connection of their own outside tracepost's transactions (``run_autocommit``), reading OUTPUT
parameters back with one batch per call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from connectors.erp.errors import ErpBusinessError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ProcedureCall:
    """One ``EXEC`` of a stored procedure with named parameters.

    Attributes:
        name: the procedure, e.g. ``spciPrePost``.
        params: input parameters in call order, ``(name without @, value)``.
        outputs: OUTPUT parameters as ``(name without @, SQL type)``, e.g. ``("oRetVal", "int")``.
        ok: for each OUTPUT that signals success, the values that mean success; any other value
            stops the posting with an ``ErpBusinessError``.
    """

    name: str
    params: tuple[tuple[str, Any], ...] = ()
    outputs: tuple[tuple[str, str], ...] = ()
    ok: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse names that are not plain identifiers: they end up in SQL text."""
        names = [self.name, *(n for n, _ in self.params), *(n for n, _ in self.outputs)]
        for name in names:
            if not _NAME.match(name):
                raise ValueError(f"not a plain SQL identifier: {name!r}")
        for _, sql_type in self.outputs:
            if not re.match(r"^[A-Za-z]+(\(\d+(,\s*\d+)?\))?$", sql_type):
                raise ValueError(f"not a plain SQL type: {sql_type!r}")

    def sql(self) -> str:
        """The T-SQL batch: declare outputs, ``EXEC`` with bound inputs, select the outputs.

        Returns:
            Text with ``:name`` bind parameters for the inputs.
        """
        declares = "".join(f"DECLARE @{n} {t}; " for n, t in self.outputs)
        args = [f"@{n} = :{n}" for n, _ in self.params]
        args += [f"@{n} = @{n} OUTPUT" for n, _ in self.outputs]
        select = (
            "; SELECT " + ", ".join(f"@{n} AS {n}" for n, _ in self.outputs) if self.outputs else ""
        )
        return f"SET NOCOUNT ON; {declares}EXEC {self.name} {', '.join(args)}{select}"


Runner = Callable[[sa.Connection, ProcedureCall], dict[str, Any]]


def execute_call(conn: sa.Connection, call: ProcedureCall) -> dict[str, Any]:
    """Execute one call on SQL Server and return its OUTPUT parameters.

    Args:
        conn: the connection of ``run_autocommit`` (outside any transaction).
        call: the call.

    Returns:
        OUTPUT parameter values by name (empty when it has none).
    """
    result = conn.execute(sa.text(call.sql()), dict(call.params))
    if not call.outputs:
        return {}
    row = result.mappings().first()
    return dict(row) if row is not None else {}


def run_calls(
    conn: sa.Connection, calls: Sequence[ProcedureCall], runner: Runner = execute_call
) -> list[dict[str, Any]]:
    """Run calls in order; stop at the first whose success outputs say it failed.

    Args:
        conn: the connection to run them on (``run_autocommit`` gives one outside any
            transaction, as the ERPs' own screens call these procedures).
        calls: the calls.
        runner: executes one call (tests pass a recorder).

    Returns:
        Each call's outputs.

    Raises:
        ErpBusinessError: when a call reports failure through an ``ok`` output.
    """
    results = []
    for call in calls:
        outputs = runner(conn, call)
        for name, good in call.ok.items():
            if outputs.get(name) not in good:
                raise ErpBusinessError(
                    f"{call.name} reported {name}={outputs.get(name)!r}; the ERP refused the"
                    " posting (see its error log)"
                )
        results.append(outputs)
    return results


def require_mssql(conn: sa.Connection, erp_label: str) -> None:
    """Refuse the ``procedures`` strategy on anything but SQL Server.

    Raises:
        ErpBusinessError: on another database.
    """
    if conn.dialect.name != "mssql":
        raise ErpBusinessError(
            f"posting strategy 'procedures' calls {erp_label}'s own stored procedures and needs"
            f" SQL Server; this database is {conn.dialect.name}: use 'manual' or 'emulated'"
        )


def run_autocommit(
    engine: sa.Engine,
    calls: Sequence[ProcedureCall],
    *,
    erp_label: str,
    runner: Runner = execute_call,
) -> list[dict[str, Any]]:
    """Run an ERP's own posting procedures on a connection of their own, outside any transaction.

    The ERPs' posting and release procedures open and commit their own transactions, as they do
    when the ERP's screens call them; nested in a caller's transaction, a failure inside them
    would roll the caller back too (SQL Server error 266). So the caller commits what it wrote
    first, runs the procedures here, and checks the batch's status afterwards in a new
    transaction.

    Args:
        engine: the ERP database (SQL Server).
        calls: the calls, in order.
        erp_label: the ERP's display name, for messages.
        runner: executes one call (tests pass a recorder).

    Returns:
        Each call's outputs.

    Raises:
        ErpBusinessError: on another database than SQL Server, or when a call reports failure.
    """
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        require_mssql(conn, erp_label)
        return run_calls(conn, calls, runner)
