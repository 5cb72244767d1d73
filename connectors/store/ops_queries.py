"""What the ops pages read: postings search and the dashboard's figures."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from connectors.store.schema import (
    alerts,
    audit_events,
    chargebacks,
    dead_letters,
    decisions,
    postings,
    settlements,
    sweep_cursors,
)
from connectors.store.times import utc, utc_or_none

ZERO = Decimal("0.00")
PAYMENT_OUTCOMES = ("apply", "needs_attention")


@dataclass(frozen=True)
class PostingQuery:
    """A postings search; blank fields do not filter.

    Attributes:
        customer_id: the ERP customer (exact, case-insensitive).
        invoice: an invoice the payment was applied to.
        transaction_id: the PayTrace transaction.
        day_from: first day posted (UTC), inclusive.
        day_to: last day posted (UTC), inclusive.
        limit: at most this many rows.
    """

    customer_id: str = ""
    invoice: str = ""
    transaction_id: int | None = None
    day_from: date | None = None
    day_to: date | None = None
    limit: int = 200


@dataclass(frozen=True)
class DayCount:
    """Postings of one day."""

    day: date
    count: int
    amount: Decimal


@dataclass(frozen=True)
class Dashboard:
    """The dashboard's figures at one moment."""

    now: datetime
    postings_today: int
    amount_today: Decimal
    postings_week: int
    amount_week: Decimal
    decisions_week: int
    auto_applied_week: int
    attention_open: int
    attention_oldest: datetime | None
    parked_week: int
    last_sweep: datetime | None
    last_settlement: datetime | None
    last_settlement_batch: int | None
    undelivered_alerts: int
    days: list[DayCount] = field(default_factory=list)
    alerts_week: dict[str, int] = field(default_factory=dict)
    """Alerts raised this week by kind (needs_attention, repeated_failure …)."""

    @property
    def auto_applied_rate(self) -> float | None:
        """Share of this week's payment decisions applied without a person (None: none)."""
        if not self.decisions_week:
            return None
        return self.auto_applied_week / self.decisions_week

    @property
    def park_rate(self) -> float | None:
        """Parks this week per payment decision this week (None: no decisions)."""
        if not self.decisions_week:
            return None
        return self.parked_week / self.decisions_week


class OpsQueriesMixin:
    """Read-only queries for the ops pages."""

    engine: sa.Engine

    def search_postings(self, query: PostingQuery) -> list[dict[str, Any]]:
        """Postings (every kind of ERP document tracepost wrote), newest first.

        Args:
            query: the filters.

        Returns:
            One dict per posting: the posting's columns plus ``invoices`` (the invoice numbers
            its matching decision, or the operator who resolved it, applied it to).
        """
        p = postings.c
        stmt = sa.select(postings).order_by(p.created_at.desc()).limit(query.limit)
        if query.customer_id:
            stmt = stmt.where(sa.func.upper(p.customer_id) == query.customer_id.strip().upper())
        if query.transaction_id is not None:
            stmt = stmt.where(p.paytrace_transaction_id == query.transaction_id)
        if query.day_from is not None:
            stmt = stmt.where(p.created_at >= _day_start(query.day_from))
        if query.day_to is not None:
            stmt = stmt.where(p.created_at < _day_start(query.day_to + timedelta(days=1)))
        with self.engine.connect() as conn:
            if query.invoice:
                wanted = query.invoice.strip()
                paid = _invoice_transactions(conn, wanted)
                stmt = stmt.where(p.paytrace_transaction_id.in_(sorted(paid) or [-1]))
            rows = [dict(r) for r in conn.execute(stmt).mappings()]
            invoices = _invoices_of(conn, sorted({r["paytrace_transaction_id"] for r in rows}))
        for row in rows:
            row["created_at"] = utc(row["created_at"])
            row["updated_at"] = utc(row["updated_at"])
            row["invoices"] = invoices.get(row["paytrace_transaction_id"], [])
        return rows

    def settlement_overview(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest settlement batches with their discrepancy counts, newest batch first.

        Args:
            limit: at most this many batches.

        Returns:
            One dict per batch: the ``tp_settlement`` columns.
        """
        query = sa.select(settlements).order_by(settlements.c.batch_number.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        for row in rows:
            row["settled_at"] = utc_or_none(row["settled_at"])
        return rows

    def chargeback_cases(
        self, *, open_only: bool = False, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Chargeback cases from the case register, the latest changed first.

        Args:
            open_only: only cases still open.
            limit: at most this many.

        Returns:
            One dict per case: the ``tp_chargeback`` columns.
        """
        c = chargebacks.c
        query = sa.select(chargebacks).order_by(c.updated_at.desc()).limit(limit)
        if open_only:
            query = query.where(c.open.is_(True))
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        for row in rows:
            row["updated_at"] = utc(row["updated_at"])
        return rows

    def dashboard(self, now: datetime, days: int = 14) -> Dashboard:
        """The dashboard's figures.

        Args:
            now: the current moment (UTC); "today" and "this week" are UTC days.
            days: how many days the per-day series covers.

        Returns:
            The figures.
        """
        now = utc(now)
        today = _day_start(now.date())
        week = today - timedelta(days=6)
        series_from = today - timedelta(days=days - 1)
        p, d, dl = postings.c, decisions.c, dead_letters.c
        receipts = p.kind == "receipt"
        with self.engine.connect() as conn:
            count_today, amount_today = _count_amount(conn, receipts & (p.created_at >= today))
            count_week, amount_week = _count_amount(conn, receipts & (p.created_at >= week))
            outcome_rows = conn.execute(
                sa.select(d.outcome, sa.func.count())
                .where((d.at >= week) & d.outcome.in_(PAYMENT_OUTCOMES))
                .group_by(d.outcome)
            ).all()
            by_outcome = {str(outcome): int(n) for outcome, n in outcome_rows}
            attention_open, oldest = conn.execute(
                sa.select(sa.func.count(), sa.func.min(dl.created_at)).where(
                    dl.resolved_at.is_(None)
                )
            ).one()
            parked_week = conn.execute(
                sa.select(sa.func.count()).where(dl.created_at >= week)
            ).scalar_one()
            last_sweep = conn.execute(sa.select(sa.func.max(sweep_cursors.c.updated_at))).scalar()
            last_batch = conn.execute(
                sa.select(settlements.c.batch_number, settlements.c.updated_at)
                .order_by(settlements.c.updated_at.desc())
                .limit(1)
            ).first()
            undelivered = conn.execute(
                sa.select(sa.func.count()).where(alerts.c.delivered_at.is_(None))
            ).scalar_one()
            alert_kinds = conn.execute(
                sa.select(alerts.c.kind, sa.func.count())
                .where(alerts.c.at >= week)
                .group_by(alerts.c.kind)
            ).all()
            recent = conn.execute(
                sa.select(p.created_at, p.amount).where(receipts & (p.created_at >= series_from))
            ).all()
        per_day: dict[date, list[Decimal]] = {}
        for created_at, amount in recent:
            per_day.setdefault(utc(created_at).date(), []).append(Decimal(amount))
        series = [
            DayCount(
                day=day,
                count=len(per_day.get(day, [])),
                amount=sum(per_day.get(day, []), ZERO),
            )
            for day in (series_from.date() + timedelta(days=n) for n in range(days))
        ]
        return Dashboard(
            now=now,
            postings_today=count_today,
            amount_today=amount_today,
            postings_week=count_week,
            amount_week=amount_week,
            decisions_week=sum(by_outcome.values()),
            auto_applied_week=by_outcome.get("apply", 0),
            attention_open=int(attention_open),
            attention_oldest=utc_or_none(oldest),
            parked_week=int(parked_week),
            last_sweep=utc_or_none(last_sweep),
            last_settlement=utc_or_none(last_batch[1]) if last_batch else None,
            last_settlement_batch=int(last_batch[0]) if last_batch else None,
            undelivered_alerts=int(undelivered),
            days=series,
            alerts_week={str(kind): int(n) for kind, n in sorted(alert_kinds)},
        )


def _applied_to(decision_applications: Any, resolution: Any) -> list[str]:
    """Invoice numbers of a decision's applications or of an operator's resolution."""
    found = list(decision_applications or []) + list((resolution or {}).get("invoices", []))
    return [str(a.get("invoice_number", "")) for a in found if isinstance(a, dict)]


def _invoice_rows(
    conn: sa.Connection, transaction_ids: list[int] | None, like: str = ""
) -> Iterator[tuple[int, list[str]]]:
    """(transaction id, invoice numbers) of matching decisions and of operators' resolutions."""
    d, a = decisions.c, audit_events.c
    chosen = sa.select(d.paytrace_transaction_id, d.applications).where(d.outcome == "apply")
    resolved = sa.select(a.paytrace_transaction_id, a.detail).where(
        (a.event == "resolved") & a.paytrace_transaction_id.is_not(None)
    )
    if transaction_ids is not None:
        chosen = chosen.where(d.paytrace_transaction_id.in_(transaction_ids))
        resolved = resolved.where(a.paytrace_transaction_id.in_(transaction_ids))
    if like:
        # A coarse filter in SQL (the JSON text holds the quoted number); exact in Python.
        chosen = chosen.where(sa.cast(d.applications, sa.Text).like(like, escape="\\"))
        resolved = resolved.where(sa.cast(a.detail, sa.Text).like(like, escape="\\"))
    for txn, applications in conn.execute(chosen.order_by(d.id)):
        yield int(txn), _applied_to(applications, None)
    for txn, detail in conn.execute(resolved.order_by(a.id)):
        yield int(txn), _applied_to(None, detail)


def _invoice_transactions(conn: sa.Connection, invoice: str) -> set[int]:
    like = f'%"{_like_escape(invoice)}"%'
    return {txn for txn, numbers in _invoice_rows(conn, None, like) if invoice in numbers}


def _invoices_of(conn: sa.Connection, transaction_ids: list[int]) -> dict[int, list[str]]:
    invoices: dict[int, list[str]] = {}
    for start in range(0, len(transaction_ids), 500):
        for txn, numbers in _invoice_rows(conn, transaction_ids[start : start + 500]):
            listed = invoices.setdefault(txn, [])
            listed.extend(n for n in numbers if n and n not in listed)
    return invoices


def _day_start(day: date) -> datetime:
    return utc(datetime(day.year, day.month, day.day))


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _count_amount(conn: sa.Connection, where: Any) -> tuple[int, Decimal]:
    count, amount = conn.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(postings.c.amount), 0)).where(where)
    ).one()
    return int(count), Decimal(amount).quantize(ZERO)
