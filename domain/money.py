"""Money arithmetic: ``Decimal`` everywhere, rounded only where a system's precision demands it."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from domain.redaction import redact

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class MoneyError(ValueError):
    """Raised when a value cannot be read as an amount of money."""


def _shown(value: object) -> str:
    """A refused value as an error message may quote it: short, and never a card number."""
    text = redact(str(value))
    return repr(text if len(text) <= 40 else text[:40] + "…")


def to_money(value: object) -> Decimal:
    """Read an amount as a two-place ``Decimal``.

    Floats are refused: they carry binary rounding error into the books. Strings and ints are read
    exactly and rounded half-up to the cent.

    Args:
        value: a ``Decimal``, ``int`` or decimal string such as ``"125.00"``.

    Returns:
        The amount quantized to cents.

    Raises:
        MoneyError: if the value is a float, empty, not a number, or not finite.
    """
    if isinstance(value, float) or isinstance(value, bool):
        raise MoneyError(f"amount must be a decimal string or Decimal, not {type(value).__name__}")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise MoneyError(f"not an amount: {_shown(value)}") from exc
    if not amount.is_finite():
        raise MoneyError(f"not a finite amount: {_shown(value)}")
    return quantize(amount, 2)


def exact_cents(value: object) -> Decimal:
    """Read an amount that must already be whole cents: money about to move is never rounded.

    Args:
        value: a ``Decimal``, ``int`` or decimal string.

    Returns:
        The amount with two places.

    Raises:
        MoneyError: as :func:`to_money`, or when the value has a fraction of a cent.
    """
    amount = to_money(value)
    exact = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    if amount != exact:
        raise MoneyError(f"amount has a fraction of a cent: {_shown(value)}")
    return amount


def quantize(amount: Decimal, places: int) -> Decimal:
    """Round an amount half-up to a number of decimal places (an ERP's stored precision).

    Args:
        amount: the amount to round.
        places: decimal places: 3 for Sage 500 ``decimal(15,3)``, 2 for a USD SL float.

    Returns:
        The rounded amount.

    Raises:
        MoneyError: the amount has more digits than a decimal of 28 places of precision holds.
    """
    try:
        return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise MoneyError(f"amount out of range: {_shown(amount)}") from None


def format_amount(amount: Decimal) -> str:
    """Format an amount the way PayTrace expects it in a request body (``"125.00"``).

    Args:
        amount: the amount.

    Returns:
        The amount as a two-place decimal string.
    """
    return str(to_money(amount))
