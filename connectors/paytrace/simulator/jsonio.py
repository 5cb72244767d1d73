"""JSON in and out with ``Decimal`` amounts: never a float between the wire and the books."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from starlette.responses import Response


class JsonBodyError(ValueError):
    """Raised when a request body is not a JSON object."""


def _reject_constant(name: str) -> object:
    raise JsonBodyError(f"{name} is not valid JSON")


def loads_object(raw: bytes | str) -> dict[str, Any]:
    """Parse a JSON object, reading every non-integer number as ``Decimal``.

    Args:
        raw: the request body.

    Returns:
        The parsed object.

    Raises:
        JsonBodyError: if the body is not valid JSON or not an object.
    """
    try:
        value = json.loads(raw or b"{}", parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise JsonBodyError("body is not valid JSON") from exc
    if not isinstance(value, dict):
        raise JsonBodyError("body is not a JSON object")
    return value


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


class PayTraceJSONResponse(Response):
    """A JSON response rendered by :func:`dumps`, with PayTrace's content type."""

    media_type = "application/json; charset=utf-8"

    def render(self, content: Any) -> bytes:
        """Render the content as JSON bytes.

        Args:
            content: the body.

        Returns:
            UTF-8 JSON.
        """
        return dumps(content).encode("utf-8")
