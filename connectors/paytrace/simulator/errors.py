"""PayTrace error codes and the error envelope.

Codes 35, 43, 44 and 58 and their messages are PayTrace's own (seen in public transcripts). The
others are simulator choices, since PayTrace's full list was not readable: see the package
docstring.
"""

from __future__ import annotations

from collections.abc import Mapping

INVALID_REQUEST_BODY = 1
INVALID_CARD_NUMBER = 35
INVALID_AMOUNT = 39
INVALID_TAX_AMOUNT = 40
INVALID_EXPIRATION_MONTH = 43
INVALID_EXPIRATION_YEAR = 44
INVALID_INVOICE_ID = 47
INVALID_TRANSACTION_ID = 58
INVALID_START_DATE = 70
INVALID_END_DATE = 71
INVALID_DATE_RANGE = 72

MESSAGES: dict[int, str] = {
    INVALID_REQUEST_BODY: "Please provide a valid JSON request body.",
    INVALID_CARD_NUMBER: "Please provide a valid Credit Card Number.",
    INVALID_AMOUNT: "Please provide a valid Transaction Amount.",
    INVALID_TAX_AMOUNT: "Please provide a valid Tax Amount.",
    INVALID_EXPIRATION_MONTH: "Please provide a valid Expiration Month.",
    INVALID_EXPIRATION_YEAR: "Please provide a valid Expiration Year.",
    INVALID_INVOICE_ID: "Please provide a valid Invoice ID. It must be 50 characters or less.",
    INVALID_TRANSACTION_ID: "Please provide a valid Transaction ID.",
    INVALID_START_DATE: "Please provide a valid Start Date in the format MM/DD/YYYY.",
    INVALID_END_DATE: "Please provide a valid End Date in the format MM/DD/YYYY.",
    INVALID_DATE_RANGE: "The End Date must be on or after the Start Date.",
}

ERROR_STATUS_MESSAGE = "One or more errors has occurred."


class ApiError(Exception):
    """A PayTrace validation error: HTTP 400 with ``response_code`` 1 and an ``errors`` map.

    Args:
        codes: the error codes, in the order they were found; messages come from ``MESSAGES``.
    """

    def __init__(self, codes: list[int]) -> None:
        super().__init__(", ".join(str(code) for code in codes))
        self.codes = list(dict.fromkeys(codes))

    def body(self) -> dict[str, object]:
        """Return the PayTrace error envelope for these codes."""
        return error_envelope({code: MESSAGES[code] for code in self.codes})


def error_envelope(errors: Mapping[int, str]) -> dict[str, object]:
    """Build PayTrace's error body.

    Args:
        errors: error code to message.

    Returns:
        ``{"success": false, "response_code": 1, "status_message": ..., "errors": {...}}``.
    """
    return {
        "success": False,
        "response_code": 1,
        "status_message": ERROR_STATUS_MESSAGE,
        "errors": {str(code): [message] for code, message in errors.items()},
    }
