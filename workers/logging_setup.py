"""Process-wide logging: one format (text or JSON lines), and redaction on every handler.

``TRACEPOST_LOG_FORMAT=json`` writes one JSON object per line with the workflow id, run id and
PayTrace transaction id of the record when it has them: the Temporal SDK's activity and workflow
loggers put their context in the record's ``temporal_activity`` / ``temporal_workflow`` extras, a
caller may pass ``extra={"transaction_id": ...}``, and a business-key workflow id
(``payment-1000123``) names its transaction. The trace and span ids of the current OpenTelemetry
span tie a line to its trace. Whatever the format, every handler carries the ``RedactingFilter``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from temporalio import activity, workflow

from domain.redaction import redact
from domain.workflow_ids import transaction_of

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_CONTEXT_FIELDS = {
    "workflow_id": "workflow_id",
    "run_id": "run_id",
    "workflow_run_id": "run_id",
    "workflow_type": "workflow_type",
    "activity_type": "activity_type",
    "activity_id": "activity_id",
    "attempt": "attempt",
    "task_queue": "task_queue",
    "namespace": "namespace",
    "update_name": "update_name",
}


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with card numbers, secrets and tokens removed."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the formatted message in place; never drops a record."""
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg = cleaned
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and the Temporal context.

    Only the fields listed here are written (no arbitrary ``extra``), the message and the
    exception are taken after the ``RedactingFilter`` ran, and both are redacted again here, so a
    handler without the filter still writes no card number.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as one JSON line."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key in ("temporal_workflow", "temporal_activity"):
            details = record.__dict__.get(key)
            if isinstance(details, Mapping):
                for name, field in _CONTEXT_FIELDS.items():
                    value = details.get(name)
                    if value is not None and value != "":
                        entry.setdefault(field, value)
        transaction = record.__dict__.get("transaction_id")
        if transaction is None and isinstance(entry.get("workflow_id"), str):
            transaction = transaction_of(entry["workflow_id"])
        if isinstance(transaction, int) and not isinstance(transaction, bool):
            entry["transaction_id"] = transaction
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        if record.exc_info and record.exc_info[1] is not None:
            entry["exception"] = redact(record.exc_text or self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def secure_handlers(log_format: str = "text") -> int:
    """Put the ``RedactingFilter`` on every handler of every logger (and, in JSON, the formatter).

    A library that installs handlers of its own (uvicorn does, when its server is built) would
    otherwise write around the redaction; call this after building such a component.

    Args:
        log_format: ``text`` or ``json``.

    Returns:
        How many handlers there are.
    """
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers += [
        item
        for item in logging.Logger.manager.loggerDict.values()
        if isinstance(item, logging.Logger)
    ]
    seen: set[int] = set()
    for logger in loggers:
        for handler in logger.handlers:
            if id(handler) in seen:
                continue
            seen.add(id(handler))
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
            if log_format == "json":
                handler.setFormatter(JsonFormatter())
    return len(seen)


def configure_logging(level: str = "INFO", log_format: str = "text") -> None:
    """Configure the root logger once for a tracepost process.

    Args:
        level: the root level name, e.g. ``INFO``.
        log_format: ``text`` or ``json`` (``TRACEPOST_LOG_FORMAT``).

    Raises:
        ValueError: an unknown format.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"the log format is text or json, not {log_format!r}")
    logging.basicConfig(level=level.upper(), format=TEXT_FORMAT, force=True)
    secure_handlers(log_format)
    # In JSON the Temporal context is in fields of its own, not appended to the message.
    activity.logger.activity_info_on_message = log_format == "text"
    workflow.logger.workflow_info_on_message = log_format == "text"
    # httpx logs every request URL at INFO; the Silent Post URL carries its secret path token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
