"""tracepost's own tables: postings, audit events, dead letters (needs-attention), sweep cursors."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

postings = sa.Table(
    "tp_posting",
    metadata,
    sa.Column("paytrace_transaction_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("erp", sa.String(20), nullable=False),
    sa.Column("customer_id", sa.String(30), nullable=False),
    sa.Column("erp_document", sa.String(40), nullable=False),
    sa.Column("batch", sa.String(40), nullable=False),
    sa.Column("amount", sa.Numeric(15, 2), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("workflow_id", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

audit_events = sa.Table(
    "tp_audit_event",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_key", sa.String(250), nullable=False, unique=True),
    sa.Column("workflow_id", sa.String(200), nullable=False, index=True),
    sa.Column("paytrace_transaction_id", sa.BigInteger, nullable=True, index=True),
    sa.Column("event", sa.String(60), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

dead_letters = sa.Table(
    "tp_dead_letter",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("workflow_id", sa.String(200), nullable=False, index=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("paytrace_transaction_id", sa.BigInteger, nullable=True),
    sa.Column("reason_kind", sa.String(60), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("resolution", sa.Text, nullable=True),
    sa.UniqueConstraint("workflow_id", "run_id", "created_at", name="uq_dead_letter_once"),
)

sweep_cursors = sa.Table(
    "tp_sweep_cursor",
    metadata,
    sa.Column("name", sa.String(60), primary_key=True),
    sa.Column("cursor", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
