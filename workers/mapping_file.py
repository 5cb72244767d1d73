"""Loading the deployment's mapping file (TOML) and checking it against the ERP.

``load_mapping`` turns every problem of the file itself (missing, not TOML, an unknown key, a
wrong value) into one ``MappingError`` that names each field; ``check_mapping`` then asks the ERP
whether the accounts exist and are active and whether the periods tracepost will post into exist,
and explains every problem it finds. ``tracepost mapping check`` prints both; the worker refuses
to start when either finds an error.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from pydantic import ValidationError

from connectors.erp.errors import ErpError
from connectors.erp.protocol import ErpConnector
from domain.erp_documents import AccountState
from domain.mapping import FeeMode, Mapping

STARTERS = Path(__file__).parent / "mappings"
LOOK_AHEAD = timedelta(days=35)


class MappingError(ValueError):
    """The mapping file cannot be used; the message names every problem."""


@dataclass(frozen=True)
class Problem:
    """One problem of a mapping: ``error`` stops the worker, ``warning`` does not."""

    severity: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.where}: {self.message}"


def starter_path(erp: str) -> Path:
    """The starter mapping shipped for an ERP (``workers/mappings/<erp>.toml``)."""
    return STARTERS / f"{erp}.toml"


def load_mapping(path: Path) -> Mapping:
    """Read and validate a mapping file.

    Args:
        path: the TOML file.

    Returns:
        The mapping.

    Raises:
        MappingError: the file is missing or unreadable, not TOML, or not a valid mapping; the
            message lists each problem with its field.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"mapping file {path}: cannot be read ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"mapping file {path}: not valid TOML: {exc}") from None
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "(file)"
            problems.append(f"  {where}: {error['msg']}")
        raise MappingError(f"mapping file {path} is not valid:\n" + "\n".join(problems)) from None


def structural_problems(mapping: Mapping, erp: str) -> list[Problem]:
    """Problems visible without the ERP: the wrong ERP, accounts a feature needs left blank.

    Args:
        mapping: the mapping.
        erp: the configured ERP (``TRACEPOST_ERP``).

    Returns:
        The problems found.
    """
    problems = []
    if mapping.erp != erp:
        problems.append(
            Problem(
                "error",
                "erp",
                f"the mapping is for {mapping.erp!r} but TRACEPOST_ERP is {erp!r}",
            )
        )
    accounts = mapping.accounts
    if mapping.settlement.fees is FeeMode.DAILY:
        for purpose in ("card_fees", "undeposited"):
            if not getattr(accounts, purpose):
                problems.append(
                    Problem(
                        "error",
                        f"accounts.{purpose}",
                        "settlement.fees = 'daily' posts the fees from the card clearing account"
                        " to the fee expense account: set both accounts.card_fees and"
                        " accounts.undeposited",
                    )
                )
    if not accounts.bank:
        problems.append(
            Problem(
                "warning",
                "accounts.bank",
                "blank: deposits go to the ERP adapter's default bank account",
            )
        )
    if mapping.refunds.from_erp and mapping.documents.refund.value == "ignore":
        problems.append(
            Problem(
                "warning",
                "documents.refund",
                "refunds.from_erp is on while PayTrace refunds are ignored: refunds tracepost"
                " issues for ERP memos are fine, other PayTrace refunds get no ERP document",
            )
        )
    return problems


def check_mapping(mapping: Mapping, erp_name: str, erp: ErpConnector, today: date) -> list[Problem]:
    """Check a mapping against the ERP it will write to.

    Args:
        mapping: the mapping.
        erp_name: the configured ERP (``TRACEPOST_ERP``).
        erp: the connector built from it.
        today: the merchant's date today (periods are checked from it).

    Returns:
        Every problem found (empty: the mapping is usable).

    Raises:
        ErpError: when the ERP cannot be reached (retryable) — no verdict then.
    """
    problems = structural_problems(mapping, erp_name)
    named = mapping.accounts.named()
    cash = {
        "receipts.card_cash_account": mapping.receipts.card_cash_account,
        "receipts.ach_cash_account": mapping.receipts.ach_cash_account,
    }
    every = {f"accounts.{k}": v for k, v in named.items()} | {k: v for k, v in cash.items() if v}
    states = erp.gl_account_states(sorted(set(every.values()))) if every else {}
    for where, account in sorted(every.items()):
        state = states.get(account, AccountState.MISSING)
        if state is AccountState.MISSING:
            problems.append(
                Problem("error", where, f"account {account!r} does not exist in the ERP")
            )
        elif state is AccountState.INACTIVE:
            problems.append(Problem("error", where, f"account {account!r} is inactive in the ERP"))
    problems += _period_problems(erp, today)
    return problems


def _period_problems(erp: ErpConnector, today: date) -> list[Problem]:
    problems = []
    period = erp.fiscal_period(today)
    if period is None:
        problems.append(
            Problem("error", "periods", f"no fiscal period covers today ({today.isoformat()})")
        )
    elif not period.open:
        problems.append(
            Problem(
                "warning",
                "periods",
                f"today's period {period.label} is closed: documents dated today will park",
            )
        )
    ahead = today + LOOK_AHEAD
    if period is not None and erp.fiscal_period(ahead) is None:
        problems.append(
            Problem(
                "warning",
                "periods",
                f"no fiscal period covers {ahead.isoformat()} yet: set up the next periods"
                " before month end",
            )
        )
    return problems


def errors_of(problems: list[Problem]) -> list[Problem]:
    """The problems that stop the worker."""
    return [p for p in problems if p.severity == "error"]


__all__ = [
    "ErpError",
    "MappingError",
    "Problem",
    "check_mapping",
    "errors_of",
    "load_mapping",
    "starter_path",
    "structural_problems",
]
