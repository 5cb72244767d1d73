"""Reading the processor's dispute report (CSV) into chargeback cases and decisions.

PayTrace has no dispute API: the processor's portal exports a report of cases. Each row names a
case, the disputed PayTrace transaction, the amount, and (once decided) won or lost. The report
is imported again and again as cases move; importing the same row twice changes nothing.

Headers are matched case-insensitively and a few common spellings are understood; other columns
are ignored and never read into tracepost. A row that holds anything looking like a full card
number is refused whole, without echoing it.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, ValidationError

from domain.chargeback_io import ChargebackCase, DisputeOutcome
from domain.redaction import contains_card_number

COLUMNS: dict[str, tuple[str, ...]] = {
    "case_id": ("case_id", "case", "case number", "case_number", "dispute id", "dispute_id"),
    "transaction_id": ("transaction_id", "transaction", "transaction id", "txn", "txn_id"),
    "amount": ("amount", "dispute amount", "chargeback amount"),
    "fee": ("fee", "chargeback fee"),
    "reason": ("reason", "reason code", "reason_code"),
    "opened_on": ("opened_on", "opened", "date", "case date", "received"),
    "respond_by": ("respond_by", "respond by", "due", "due date", "deadline", "reply by"),
    "status": ("status", "outcome", "result"),
    "decided_on": ("decided_on", "decided", "decision date", "resolved"),
}
REQUIRED = ("case_id", "transaction_id", "amount", "opened_on", "respond_by")
OPEN_WORDS = frozenset(
    {"open", "new", "pending", "in", "progress", "represented", "received", "under", "review"}
)
MAX_ROWS = 50_000


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class ReportRow(_Frozen):
    """One case of the report, with its decision when the report has one."""

    line: int
    case: ChargebackCase
    outcome: DisputeOutcome | None = None
    decided_on: date | None = None


class ReportProblem(_Frozen):
    """A row that could not be read: its line and why (never its content)."""

    line: int
    reason: str


class DisputeReport(_Frozen):
    """What a report holds: the readable rows and the problems of the others."""

    rows: tuple[ReportRow, ...] = ()
    problems: tuple[ReportProblem, ...] = ()


class ReportFormatError(ValueError):
    """The file is not a dispute report at all (no header, missing columns, too large)."""


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The moment a merchant-local day ends, as an aware datetime.

    Args:
        day: the merchant-local day.
        tz: the merchant's time zone.

    Returns:
        Midnight after ``day`` in ``tz``.
    """
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)


def parse_day(text: str, field: str = "date") -> date:
    """Read ``YYYY-MM-DD``, ``M/D/YYYY`` or ``M/D/YY`` (20YY).

    Raises:
        ValueError: none of these forms, or a year before 2000 (the text is not echoed).
    """
    text = text.strip()
    try:
        if "/" in text:
            month, day, year = (int(p) for p in text.split("/"))
            if year < 100:
                year += 2000
            parsed = date(year, month, day)
        else:
            parsed = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{field} is not a date (YYYY-MM-DD or M/D/YYYY)") from None
    if parsed.year < 2000:
        raise ValueError(f"{field} is before 2000")
    return parsed


def _number(text: str, field: str) -> int:
    if not text.strip().isdigit():
        raise ValueError(f"{field} is not a whole number")
    return int(text.strip())


def _money(text: str, field: str) -> Decimal:
    try:
        return Decimal(text.replace("$", "").replace(",", "").strip())
    except InvalidOperation:
        raise ValueError(f"{field} is not an amount") from None


def _outcome(status: str) -> DisputeOutcome | None:
    words = set(re.findall(r"[a-z]+", status.lower()))
    if "won" in words and "lost" not in words:
        return DisputeOutcome.WON
    if "lost" in words and "won" not in words:
        return DisputeOutcome.LOST
    if words <= OPEN_WORDS:
        return None
    raise ValueError("status is not open, pending, won or lost")


def read_report(
    text: str, tz: ZoneInfo, default_fee: Decimal, source: str = "import"
) -> DisputeReport:
    """Read a dispute report.

    Args:
        text: the CSV file's text (a header row first).
        tz: the merchant's time zone: a case's deadline is the end of its respond-by day there.
        default_fee: the fee of rows that name none (the mapping's ``chargebacks.default_fee``).
        source: recorded as the cases' source.

    Returns:
        The rows read and the problems of the rows that could not be.

    Raises:
        ReportFormatError: no header, a required column missing, or more than 50,000 rows.
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if header is None:
        raise ReportFormatError("the file is empty")
    index = _columns(header)
    rows: list[ReportRow] = []
    problems: list[ReportProblem] = []
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if number - 1 > MAX_ROWS:
            raise ReportFormatError(f"more than {MAX_ROWS} rows: split the report")
        if any(contains_card_number(cell) for cell in cells):
            problems.append(
                ReportProblem(
                    line=number,
                    reason="holds what looks like a full card number; the row was not read",
                )
            )
            continue
        values = {name: cells[i].strip() if i < len(cells) else "" for name, i in index.items()}
        try:
            rows.append(_row(number, values, tz, default_fee, source))
        except (ValueError, InvalidOperation, ValidationError) as exc:
            problems.append(ReportProblem(line=number, reason=_why(exc)))
    return DisputeReport(rows=tuple(rows), problems=tuple(problems))


def _columns(header: list[str]) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    index: dict[str, int] = {}
    for name, spellings in COLUMNS.items():
        for spelling in spellings:
            if spelling in names:
                index[name] = names.index(spelling)
                break
    missing = [name for name in REQUIRED if name not in index]
    if missing:
        raise ReportFormatError(
            "the report lacks the column(s) "
            + ", ".join(missing)
            + " (header: "
            + ", ".join(h.strip() for h in header)
            + ")"
        )
    return index


def _row(
    line: int, values: dict[str, str], tz: ZoneInfo, default_fee: Decimal, source: str
) -> ReportRow:
    outcome = _outcome(values.get("status", ""))
    respond_by = parse_day(values["respond_by"], "respond_by")
    fee_text = values.get("fee", "")
    case = ChargebackCase(
        case_id=values["case_id"],
        transaction_id=_number(values["transaction_id"], "transaction_id"),
        amount=_money(values["amount"], "amount"),
        fee=_money(fee_text, "fee") if fee_text else default_fee,
        reason=values.get("reason", "")[:200],
        opened_on=parse_day(values["opened_on"], "opened_on"),
        respond_by=respond_by,
        deadline=end_of_day(respond_by, tz),
        source=source,
    )
    decided = values.get("decided_on", "")
    return ReportRow(
        line=line,
        case=case,
        outcome=outcome,
        decided_on=parse_day(decided, "decided_on") if decided else None,
    )


def _why(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'row'}: {err['msg']}" for err in exc.errors()
        )
    if isinstance(exc, InvalidOperation):
        return "an amount is not a number"
    return str(exc)
