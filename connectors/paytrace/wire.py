"""JSON on the wire with PayTrace: Decimal in and out, and small helpers both clients share."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol, TypeVar

import httpx


def dumps(value: object) -> str:
    """Serialize to compact JSON, writing a ``Decimal`` as its exact literal (``125.00``).

    Args:
        value: dicts, lists, tuples, strings, ints, bools, None and Decimals.

    Returns:
        The JSON text.

    Raises:
        TypeError: for any other type, floats included.
    """
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts)


def _encode(value: object, out: list[str]) -> None:
    if value is None or isinstance(value, bool | int | str):
        out.append(json.dumps(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError("a non-finite Decimal has no JSON form")
        out.append(format(value, "f"))
    elif isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(json.dumps(str(key)))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, Sequence):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot serialize {type(value).__name__} to JSON")


def json_or_none(resp: httpx.Response) -> dict[str, Any] | None:
    """Parse a JSON object body; numbers with a fraction become ``Decimal``, never float.

    Args:
        resp: the HTTP response.

    Returns:
        The object, or None when the body is not a JSON object.
    """
    try:
        data = json.loads(resp.content, parse_float=_decimal, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


MAX_EXPONENT = 1000
"""Number literals beyond 1e±1000 make a body unreadable: turning ``1E+99999999`` into an int
(a code or an id) would take the CPU for minutes."""
MAX_RETRY_AFTER = 86400.0
"""The longest wait a ``Retry-After`` can ask for (a day); longer is read as that."""


def _decimal(text: str) -> Decimal:
    value = Decimal(text)
    if abs(value.adjusted()) > MAX_EXPONENT:
        raise ValueError("number out of range")
    return value


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not an amount")


def retry_after(resp: httpx.Response) -> float:
    """Read ``Retry-After`` in seconds: 1 when missing, unreadable or not finite; at most a day."""
    try:
        seconds = float(resp.headers.get("Retry-After", "1"))
    except ValueError:
        return 1.0
    if not math.isfinite(seconds):
        return 1.0
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def as_int(value: Any) -> int:
    """Read an integer field; 0 when missing or malformed."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class _Exported(Protocol):
    @property
    def amount(self) -> Decimal: ...

    @property
    def invoice_id(self) -> str: ...


T = TypeVar("T", bound=_Exported)


def select_read_back(found: Iterable[T], *, amount: Decimal | None, invoice_id: str) -> list[T]:
    """Keep the exported transactions that match a lost request's amount and invoice.

    Args:
        found: the day's transactions.
        amount: the amount sent, if any.
        invoice_id: the invoice id sent, if any.

    Returns:
        The matches; empty means the first attempt did not happen.
    """
    return [
        t
        for t in found
        if (amount is None or t.amount == amount)
        and (not invoice_id or t.invoice_id.strip() == invoice_id.strip())
    ]
