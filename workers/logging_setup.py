"""Process-wide logging: one format, and redaction on every handler."""

from __future__ import annotations

import logging

from domain.redaction import redact


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
        return True


def configure_logging(level: str = "INFO") -> None:
    """Configure the root logger once for a tracepost process.

    Args:
        level: the root level name, e.g. ``INFO``.
    """
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    # httpx logs every request URL at INFO; the Silent Post URL carries its secret path token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
