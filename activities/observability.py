"""What activities tell the operators' telemetry: span attributes and tracepost's own metrics.

Spans: the worker's tracing interceptor makes a ``RunActivity:<name>`` span current while an
activity runs; an activity that knows the PayTrace transaction or the ERP document adds them
here, through the OpenTelemetry API only (no SDK, no exporter: the process configures those).
Never a card number, a name or an e-mail: ids only.

Metrics: recorded on the activity's Temporal metric meter, so they are served by the worker's
Prometheus endpoint beside the SDK's own. Outside an activity (a unit test calling the method
directly) nothing is recorded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar

from opentelemetry import trace
from temporalio import activity

from domain.erp_documents import ErpDocument
from domain.models import ReceiptRecord
from domain.redaction import contains_card_number

SPAN_TRANSACTION_ID = "tracepost.paytrace.transaction_id"
SPAN_ERP_DOCUMENT = "tracepost.erp.document"
SPAN_ERP_BATCH = "tracepost.erp.batch"

POSTINGS = "tracepost_postings_total"
"""Posting workflows finished, by ``workflow_type`` and ``outcome`` (posted, declined, …)."""
MATCH_DECISIONS = "tracepost_match_decisions_total"
"""Matching decisions, by ``outcome`` (``apply``, ``needs_attention``) and ``rule``."""
SETTLEMENT_BATCHES = "tracepost_settlement_batches_total"
"""Settled batches reconciled, by ``status``."""
SETTLEMENT_DISCREPANCIES = "tracepost_settlement_discrepancies_total"
"""Discrepancies found by the reconciliations (a batch can have several)."""

Written = TypeVar("Written", bound=ReceiptRecord | ErpDocument | None)

_LABEL = re.compile(r"[A-Za-z0-9_.-]{1,60}")


def label(value: object) -> str:
    """A metric label value from a bounded vocabulary (an enum value, a rule name).

    Args:
        value: the value.

    Returns:
        The value when it looks like a name, else ``other`` (labels are never free text).
    """
    text = str(value).strip()
    return text if _LABEL.fullmatch(text) and not contains_card_number(text) else "other"


def tag_span(
    *, transaction_id: int | None = None, erp_document: str = "", erp_batch: str = ""
) -> None:
    """Add the PayTrace transaction and the ERP document to the current span.

    Args:
        transaction_id: the PayTrace transaction (or check) id.
        erp_document: the ERP's document number (Sage TranID, SL RefNbr).
        erp_batch: the ERP batch holding it.
    """
    span = trace.get_current_span()
    if not span.is_recording():
        return
    if transaction_id:
        span.set_attribute(SPAN_TRANSACTION_ID, int(transaction_id))
    if erp_document:
        span.set_attribute(SPAN_ERP_DOCUMENT, erp_document)
    if erp_batch:
        span.set_attribute(SPAN_ERP_BATCH, erp_batch)


def tag_written(written: Written) -> Written:
    """Add a receipt's or document's transaction, number and batch to the current span.

    Args:
        written: what the ERP holds (written now or read back), or None.

    Returns:
        ``written`` itself, so an activity can ``return tag_written(...)``.
    """
    if written is not None:
        tag_span(
            transaction_id=written.paytrace_transaction_id,
            erp_document=written.erp_document,
            erp_batch=written.batch,
        )
    return written


def count(name: str, description: str, attributes: Mapping[str, str], value: int = 1) -> None:
    """Add to a tracepost counter on the current activity's metric meter.

    Args:
        name: the metric name (one of this module's constants).
        description: its help text.
        attributes: its labels (bounded values only: see ``label``).
        value: how much to add (not negative).
    """
    if value <= 0 or not activity.in_activity():
        return
    activity.metric_meter().create_counter(name, description).add(value, dict(attributes))
