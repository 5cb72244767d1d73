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

sync_cursors = sa.Table(
    "tp_sync_cursor",
    metadata,
    sa.Column("name", sa.String(60), primary_key=True),
    sa.Column("cursor", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
"""Opaque cursors another system makes (e.g. the ERP's customer-change cursor): saved as given."""

decisions = sa.Table(
    "tp_decision",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("decision_key", sa.String(250), nullable=False, unique=True),
    sa.Column("workflow_id", sa.String(200), nullable=False, index=True),
    sa.Column("paytrace_transaction_id", sa.BigInteger, nullable=True, index=True),
    sa.Column("source", sa.String(10), nullable=False),
    sa.Column("outcome", sa.String(30), nullable=False),
    sa.Column("rule", sa.String(60), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("customer_id", sa.String(30), nullable=False),
    sa.Column("amount", sa.Numeric(15, 2), nullable=False),
    sa.Column("applied", sa.Numeric(15, 2), nullable=False),
    sa.Column("written_off", sa.Numeric(15, 2), nullable=False),
    sa.Column("on_account", sa.Numeric(15, 2), nullable=False),
    sa.Column("applications", sa.JSON, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
)

alerts = sa.Table(
    "tp_alert",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_key", sa.String(250), nullable=False, unique=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("severity", sa.String(10), nullable=False),
    sa.Column("subject", sa.String(250), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("workflow_id", sa.String(200), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True, index=True),
)
"""``delivered_at``: every channel the alert is routed to has it (see ``tp_alert_delivery``)."""

alert_deliveries = sa.Table(
    "tp_alert_delivery",
    metadata,
    sa.Column(
        "alert_id", sa.Integer, sa.ForeignKey("tp_alert.id"), primary_key=True, autoincrement=False
    ),
    sa.Column("channel", sa.String(20), primary_key=True),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_tp_alert_delivery_due", "status", "next_attempt_at"),
)
"""One row per alert and channel it is routed to: a channel that is down holds up no other, and
a delivered row is never sent again. ``status`` pending (due at ``next_attempt_at``), delivered,
or failed (permanently, ``last_error`` says why)."""

attention_items = sa.Table(
    "tp_attention",
    metadata,
    sa.Column("dead_letter_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("workflow_type", sa.String(60), nullable=False),
    sa.Column("subject", sa.String(250), nullable=False),
    sa.Column("escalations", sa.Integer, nullable=False),
    sa.Column("last_escalated_at", sa.DateTime(timezone=True), nullable=True),
)

card_refunds = sa.Table(
    "tp_card_refund",
    metadata,
    sa.Column("memo_key", sa.String(40), primary_key=True),
    sa.Column("workflow_id", sa.String(200), nullable=False),
    sa.Column("original_transaction_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("invoice_id", sa.String(50), nullable=False),
    sa.Column("masked_card", sa.String(30), nullable=False),
    sa.Column("customer_id", sa.String(30), nullable=False),
    sa.Column("amount", sa.Numeric(15, 2), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("refund_transaction_id", sa.BigInteger, nullable=True, unique=True),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

settlements = sa.Table(
    "tp_settlement",
    metadata,
    sa.Column("batch_number", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("deposit_date", sa.Date, nullable=True),
    sa.Column("transaction_count", sa.Integer, nullable=False),
    sa.Column("sales_count", sa.Integer, nullable=False),
    sa.Column("sales_amount", sa.Numeric(15, 2), nullable=False),
    sa.Column("refund_count", sa.Integer, nullable=False),
    sa.Column("refund_amount", sa.Numeric(15, 2), nullable=False),
    sa.Column("net_amount", sa.Numeric(15, 2), nullable=False),
    sa.Column("fees", sa.Numeric(15, 2), nullable=False),
    sa.Column("deposit_amount", sa.Numeric(15, 2), nullable=False),
    sa.Column("deposit_document", sa.String(40), nullable=False),
    sa.Column("fee_document", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("discrepancies", sa.Integer, nullable=False),
    sa.Column("notes", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

settlement_lines = sa.Table(
    "tp_settlement_line",
    metadata,
    sa.Column("batch_number", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("transaction_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("transaction_type", sa.String(20), primary_key=True),
    sa.Column("paytrace_amount", sa.Numeric(15, 2), nullable=False),
    sa.Column("erp_document", sa.String(40), nullable=False),
    sa.Column("erp_amount", sa.Numeric(15, 2), nullable=True),
    sa.Column("erp_status", sa.String(20), nullable=False),
    sa.Column("status", sa.String(30), nullable=False, index=True),
    sa.Column("note", sa.Text, nullable=False),
)

chargebacks = sa.Table(
    "tp_chargeback",
    metadata,
    sa.Column("case_id", sa.String(20), primary_key=True),
    sa.Column("workflow_id", sa.String(200), nullable=False),
    sa.Column("transaction_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("customer_id", sa.String(30), nullable=False, index=True),
    sa.Column("amount", sa.Numeric(15, 2), nullable=False),
    sa.Column("respond_by", sa.Date, nullable=False),
    sa.Column("stage", sa.String(30), nullable=False),
    sa.Column("ledger", sa.String(20), nullable=False),
    sa.Column("outcome", sa.String(10), nullable=False),
    sa.Column("open", sa.Boolean, nullable=False, index=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
