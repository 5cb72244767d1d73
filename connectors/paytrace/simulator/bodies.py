"""Reading request bodies and the id fields shared by every route."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import Request

from connectors.paytrace.simulator import errors
from connectors.paytrace.simulator.jsonio import JsonBodyError, loads_object
from connectors.paytrace.simulator.sales import parse_amount


async def read_body(request: Request) -> dict[str, Any]:
    """Read a JSON object body with Decimal numbers.

    Args:
        request: the incoming request.

    Returns:
        The body.

    Raises:
        ApiError: code 1 when the body is not a JSON object.
    """
    try:
        return loads_object(await request.body())
    except JsonBodyError as exc:
        raise errors.ApiError([errors.INVALID_REQUEST_BODY]) from exc


def parse_transaction_id(value: object) -> int | None:
    """Read an id given as a JSON integer or digit string; None if missing or malformed."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip()) or None
    return None


def require_id(body: dict[str, Any], name: str, code: int) -> int:
    """Read a required id field.

    Args:
        body: the JSON body.
        name: the field, e.g. ``transaction_id``.
        code: the error code for a missing or malformed id.

    Returns:
        The id.

    Raises:
        ApiError: with ``code``.
    """
    found = parse_transaction_id(body.get(name))
    if found is None:
        raise errors.ApiError([code])
    return found


def optional_amount(body: dict[str, Any]) -> Decimal | None:
    """Read an optional ``amount``: None when absent, else a positive cent amount.

    Raises:
        ApiError: 39 when present but not a positive amount in whole cents.
    """
    raw = body.get("amount")
    if raw in (None, ""):
        return None
    amount = parse_amount(raw)
    if amount is None:
        raise errors.ApiError([errors.INVALID_AMOUNT])
    return amount
