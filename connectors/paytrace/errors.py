"""PayTrace error taxonomy; activities map each class to Temporal retry behaviour.

| class | meaning | retry |
|---|---|---|
| PaytraceDeclined | the issuer declined (102, 107, 110, 113, 125 ...): a business outcome | never |
| PaytraceValidationError | code 1 with an ``errors`` map (35, 58, 171, 817 ...) | never |
| PaytraceAuthError | bad API user or password, or permission missing | never (fix the configuration) |
| PaytraceRateLimited | HTTP 429; ``retry_after`` from the Retry-After header | after that delay |
| PaytraceTransientError | connect error, timeout before sending, 5xx, unreadable body | with backoff |
| PaytraceAmbiguousError | a money-moving request was sent and its answer was lost | read back first |
"""

from __future__ import annotations

from domain.redaction import redact


class PaytraceError(Exception):
    """Base of every PayTrace failure; the message is always redacted."""

    retryable: bool = False
    kind: str = "paytrace_error"

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))
        self.message = redact(message)

    def scrub(self, values: tuple[str, ...]) -> None:
        """Remove exact values (this request's card or account number, CSC) from the error.

        ``redact`` catches what looks like a card number; an account number or a CSC echoed
        back by PayTrace looks like any other digits, so the client names them explicitly.

        Args:
            values: the sensitive values the request carried.
        """
        for value in values:
            if not value:
                continue
            self.message = self.message.replace(value, "[REDACTED]")
            for name, item in vars(self).items():
                if isinstance(item, str):
                    setattr(self, name, item.replace(value, "[REDACTED]"))
                elif isinstance(item, dict):
                    setattr(
                        self,
                        name,
                        {k: [m.replace(value, "[REDACTED]") for m in v] for k, v in item.items()},
                    )
        self.args = (self.message,)


class PaytraceDeclined(PaytraceError):
    """PayTrace (the issuer) declined the transaction."""

    kind = "paytrace_declined"

    def __init__(
        self, message: str, *, response_code: int, transaction_id: int | None, approval_message: str
    ) -> None:
        super().__init__(message)
        self.response_code = response_code
        self.transaction_id = transaction_id
        self.approval_message = approval_message.strip()


class PaytraceValidationError(PaytraceError):
    """PayTrace rejected the request's content; ``errors`` maps error codes to messages."""

    kind = "paytrace_validation"

    def __init__(self, message: str, *, errors: dict[str, list[str]]) -> None:
        detail = "; ".join(f"{code}: {' '.join(msgs)}" for code, msgs in sorted(errors.items()))
        super().__init__(f"{message} {detail}".strip())
        self.errors = {code: [redact(m) for m in msgs] for code, msgs in errors.items()}

    @property
    def codes(self) -> list[int]:
        """The numeric error codes, sorted."""
        return sorted(int(c) for c in self.errors if c.isdigit())


class PaytraceAuthError(PaytraceError):
    """The API user or password is wrong, or the user lacks a permission."""

    kind = "paytrace_auth"


class PaytraceRateLimited(PaytraceError):
    """PayTrace asked us to slow down."""

    retryable = True
    kind = "paytrace_rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PaytraceTransientError(PaytraceError):
    """A failure that a later attempt may not see: network, timeout, 5xx."""

    retryable = True
    kind = "paytrace_transient"


class PaytraceAmbiguousError(PaytraceError):
    """A money-moving request was sent but its outcome is unknown; read back before retrying."""

    retryable = True
    kind = "paytrace_ambiguous"
