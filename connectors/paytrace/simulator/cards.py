"""Card rules: number checks, brand, masking and expiry. Nothing here keeps a card number."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.redaction import luhn_valid

_BRAND_LENGTHS: dict[str, tuple[int, ...]] = {
    "VISA": (13, 16, 19),
    "MASTERCARD": (16,),
    "AMEX": (15,),
    "DISCOVER": (16, 17, 18, 19),
    "JCB": (16, 17, 18, 19),
    "DINERS": (14, 15, 16, 17, 18, 19),
}


@dataclass(frozen=True)
class Expiry:
    """A card's expiration as PayTrace stores it: two-digit month, four-digit year."""

    month: int
    year: int

    @property
    def month_text(self) -> str:
        """The month zero-padded to two digits, e.g. ``"09"``."""
        return f"{self.month:02d}"

    @property
    def year_text(self) -> str:
        """The four-digit year, e.g. ``"2030"``."""
        return f"{self.year:04d}"

    def is_expired(self, today: date) -> bool:
        """Tell whether the card has expired: it is good through the last day of its month.

        Args:
            today: the merchant's local date.

        Returns:
            True when the expiration month is before today's month.
        """
        return (self.year, self.month) < (today.year, today.month)


def _digits(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if value >= 0 else None
    if isinstance(value, str):
        text = value.strip()
        return text if text.isascii() and text.isdigit() else None
    return None


def card_brand(number: str) -> str:
    """Name a card's brand from its leading digits.

    Args:
        number: the card number, digits only.

    Returns:
        ``VISA``, ``MASTERCARD``, ``AMEX``, ``DISCOVER``, ``JCB``, ``DINERS`` or ``UNKNOWN``.
    """
    two, four, six = int(number[:2] or 0), int(number[:4] or 0), int(number[:6] or 0)
    if number.startswith("4"):
        return "VISA"
    if 51 <= two <= 55 or 222100 <= six <= 272099:
        return "MASTERCARD"
    if two in (34, 37):
        return "AMEX"
    if four == 6011 or two == 65 or 644 <= int(number[:3] or 0) <= 649 or 622126 <= six <= 622925:
        return "DISCOVER"
    if 3528 <= four <= 3589:
        return "JCB"
    if two in (36, 38, 39) or 300 <= int(number[:3] or 0) <= 305:
        return "DINERS"
    return "UNKNOWN"


def valid_card_number(value: object) -> str | None:
    """Return the card number when it is well formed, else None.

    Well formed means digits only, a length the brand allows (13-19 for an unknown brand), and a
    good Luhn check digit.

    Args:
        value: the raw ``credit_card.number`` from the request.

    Returns:
        The digits, or None.
    """
    number = _digits(value)
    if number is None:
        return None
    lengths = _BRAND_LENGTHS.get(card_brand(number), tuple(range(13, 20)))
    if len(number) not in lengths or not luhn_valid(number):
        return None
    return number


def parse_month(value: object) -> int | None:
    """Read an expiration month, 1 to 12, given as a number or digit string."""
    digits = _digits(value)
    if digits is None or len(digits) > 2:
        return None
    month = int(digits)
    return month if 1 <= month <= 12 else None


def parse_year(value: object) -> int | None:
    """Read an expiration year given as four digits, or two digits meaning 20YY.

    A year in the past is well formed: that card is declined as expired, not rejected.
    """
    digits = _digits(value)
    if digits is None or len(digits) not in (2, 4):
        return None
    year = int(digits)
    return 2000 + year if len(digits) == 2 else year
