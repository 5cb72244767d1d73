"""PayTrace error codes and the error envelope.

Codes 30, 35, 43, 44, 45, 46, 58, 80, 171 and 817 and their meanings are PayTrace's own (seen in
public client code and transcripts). The others are simulator choices, since PayTrace's full list
is not public; docs/paytrace.md lists which is which.
"""

from __future__ import annotations

from collections.abc import Mapping

INVALID_REQUEST_BODY = 1
CUSTOMER_NOT_FOUND = 30
INVALID_CARD_NUMBER = 35
INVALID_AMOUNT = 39
INVALID_TAX_AMOUNT = 40
INVALID_EXPIRATION_MONTH = 43
INVALID_EXPIRATION_YEAR = 44
INVALID_CHECK_ACCOUNT = 45
INVALID_ROUTING_NUMBER = 46
INVALID_INVOICE_ID = 47
INVALID_CUSTOMER_ID = 48
INVALID_RECURRENCE = 49
INVALID_TRANSACTION_ID = 58
INVALID_START_DATE = 70
INVALID_END_DATE = 71
INVALID_DATE_RANGE = 72
CHECK_NOT_FOUND = 80
INVALID_BATCH_NUMBER = 90
RECURRENCE_NOT_FOUND = 91
CUSTOMER_ID_NOT_UNIQUE = 171
CAPTURE_NOT_ALLOWED = 812
CAPTURE_AMOUNT_TOO_HIGH = 813
REFUND_AMOUNT_TOO_HIGH = 814
LEVEL3_NOT_ALLOWED = 815
VOID_NOT_ALLOWED = 816
REFUND_NOT_SETTLED = 817
REFUND_NOT_ALLOWED = 818

MESSAGES: dict[int, str] = {
    INVALID_REQUEST_BODY: "Please provide a valid JSON request body.",
    CUSTOMER_NOT_FOUND: "Customer ID, {customer_id}, was not found or is incomplete.",
    INVALID_CARD_NUMBER: "Please provide a valid Credit Card Number.",
    INVALID_AMOUNT: "Please provide a valid Transaction Amount.",
    INVALID_TAX_AMOUNT: "Please provide a valid Tax Amount.",
    INVALID_EXPIRATION_MONTH: "Please provide a valid Expiration Month.",
    INVALID_EXPIRATION_YEAR: "Please provide a valid Expiration Year.",
    INVALID_CHECK_ACCOUNT: "Please provide a valid Checking Account Number.",
    INVALID_ROUTING_NUMBER: "Please provide a valid Transit Routing Number.",
    INVALID_INVOICE_ID: "Please provide a valid Invoice ID. It must be 50 characters or less.",
    INVALID_CUSTOMER_ID: "Please provide a valid Customer ID. It must be 1 to 50 characters.",
    INVALID_RECURRENCE: "Please provide a valid recurrence: amount, start_date, frequency.",
    INVALID_TRANSACTION_ID: "Please provide a valid Transaction ID.",
    INVALID_START_DATE: "Please provide a valid Start Date in the format MM/DD/YYYY.",
    INVALID_END_DATE: "Please provide a valid End Date in the format MM/DD/YYYY.",
    INVALID_DATE_RANGE: "The End Date must be on or after the Start Date.",
    CHECK_NOT_FOUND: (
        "The Check ID that you have provided was not found in the PayTrace records. It may"
        " already be voided or settled."
    ),
    INVALID_BATCH_NUMBER: "Please provide a valid Batch Number.",
    RECURRENCE_NOT_FOUND: "Recurrence ID is invalid or does not exist.",
    CUSTOMER_ID_NOT_UNIQUE: "Please provide a unique customer ID.",
    CAPTURE_NOT_ALLOWED: "Only approved, unsettled authorizations can be captured.",
    CAPTURE_AMOUNT_TOO_HIGH: "The capture amount may not exceed the authorized amount.",
    REFUND_AMOUNT_TOO_HIGH: "The refund amount may not exceed the amount left to refund.",
    LEVEL3_NOT_ALLOWED: (
        "Level 3 data can only be added to an approved, unsettled sale of the same card network."
    ),
    VOID_NOT_ALLOWED: "Only unsettled transactions can be voided. Please refund instead.",
    REFUND_NOT_SETTLED: (
        "The Transaction ID that you provided could not be refunded. Only settled transactions"
        " can be refunded.  Please try to void the transaction instead."
    ),
    REFUND_NOT_ALLOWED: "Only approved sales and captures can be refunded.",
}

ERROR_STATUS_MESSAGE = "One or more errors has occurred."


class ApiError(Exception):
    """A PayTrace validation error: HTTP 400 with ``response_code`` 1 and an ``errors`` map.

    Args:
        codes: the error codes, in the order they were found; messages come from ``MESSAGES``.
        **details: values for placeholders in those messages (``customer_id``).
    """

    def __init__(self, codes: list[int], **details: str) -> None:
        super().__init__(", ".join(str(code) for code in codes))
        self.codes = list(dict.fromkeys(codes))
        self.details = details

    def body(self) -> dict[str, object]:
        """Return the PayTrace error envelope for these codes."""
        return error_envelope({code: self._message(code) for code in self.codes})

    def _message(self, code: int) -> str:
        message = MESSAGES[code]
        return message.format(**self.details) if "{" in message else message


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
