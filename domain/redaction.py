"""Redaction of secrets and card data from any text that may reach a log or an error message."""

from __future__ import annotations

import re

# 13-19 digits, optionally separated by single spaces or dashes (how card numbers get typed),
# including the no-break, thin and other Unicode spaces and dashes a pasted number may carry.
_SEPARATOR = "[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000\u2010-\u2015\u2212-]"
_PAN = re.compile(rf"(?<!\d)(?:\d{_SEPARATOR}?){{12,18}}\d(?!\d)")
_SECRET_FIELDS = re.compile(
    r"""(?ix)
    (["']?(?:password|passwd|pwd|csc|cvv|cvv2|cvc|access_token|refresh_token|client_secret|
    account_number|number|encrypted_number|encrypted_csc|token|secret|authorization)["']?
    \s*[:=]\s*)
    (?:"[^"]*"|'[^']*'|[^\s,&}]+)
    """
)
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
_SECRET_PATH = re.compile(r"(/silent-post/)[^/\s\"'?]+")


def luhn_valid(digits: str) -> bool:
    """Tell whether a string of digits passes the Luhn check used by card numbers.

    Args:
        digits: only digits, no separators.

    Returns:
        True when the checksum is valid.
    """
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def mask_pan(digits: str) -> str:
    """Mask a card number the way PayTrace does, keeping only the last four digits.

    Args:
        digits: the card number.

    Returns:
        ``x`` for every digit but the last four.
    """
    clean = re.sub(r"\D", "", digits)
    return "x" * max(len(clean) - 4, 0) + clean[-4:]


def _is_card_number(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


def _mask_match(match: re.Match[str]) -> str:
    return mask_pan(match.group(0)) if _is_card_number(match.group(0)) else match.group(0)


def contains_card_number(text: str) -> bool:
    """Tell whether a text holds something that looks like a full card number.

    Args:
        text: any text, e.g. a webhook field.

    Returns:
        True when it has 13-19 digits (spaces or dashes allowed between) passing the Luhn check.
    """
    return any(_is_card_number(m.group(0)) for m in _PAN.finditer(text))


def redact(text: str) -> str:
    """Remove card numbers, CSCs, passwords and tokens from a text.

    Args:
        text: any text: a log message, an exception, a request body.

    Returns:
        The text with Luhn-valid card numbers masked and secret fields replaced by ``[REDACTED]``.
    """
    text = _BEARER.sub(r"\1 [REDACTED]", text)
    text = _SECRET_PATH.sub(r"\1[REDACTED]", text)
    text = _SECRET_FIELDS.sub(r"\1[REDACTED]", text)
    return _PAN.sub(_mask_match, text)
