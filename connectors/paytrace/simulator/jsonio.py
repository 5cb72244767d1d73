"""JSON in and out with ``Decimal`` amounts: never a float between the wire and the books."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from starlette.responses import Response

from connectors.paytrace.simulator import codes
from connectors.paytrace.wire import dumps


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


def completed(message: str = "", **content: object) -> PayTraceJSONResponse:
    """PayTrace's plain success answer (``response_code`` 1) with the given content.

    Args:
        message: the ``status_message``; PayTrace's generic one when empty.
        **content: the answer's fields, e.g. ``customers=[...]``.

    Returns:
        HTTP 200 with ``success``, ``response_code``, ``status_message`` and the content.
    """
    return PayTraceJSONResponse(
        {
            "success": True,
            "response_code": codes.REQUEST_COMPLETED,
            "status_message": message or codes.STATUS[codes.REQUEST_COMPLETED],
            **content,
        }
    )
