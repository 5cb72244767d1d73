"""Example PayTrace bodies following the documented shapes (shared/reference/paytrace-api.md)."""

from typing import Any

TOKEN = {"access_token": "tok-1", "token_type": "bearer", "expires_in": 7200, "created_at": 1}
INVALID_GRANT = {
    "error": "invalid_grant",
    "error_description": "The provided authorization grant is invalid.",
}
INVALID_TOKEN = {
    "error": "invalid_token",
    "error_description": "The access token provided is expired, revoked, malformed, or invalid.",
}
APPROVED_SALE = {
    "success": True,
    "response_code": 101,
    "status_message": "Your transaction was successfully approved.",
    "transaction_id": 1000123,
    "approval_code": "TAS610",
    "approval_message": "  NO  MATCH - Approved and completed",
    "avs_response": "No Match",
    "csc_response": "",
    "external_transaction_id": "",
    "masked_card_number": "xxxxxxxxxxxx5439",
}
DECLINED_SALE = {
    "success": False,
    "response_code": 102,
    "status_message": "Your transaction was not approved.",
    "transaction_id": 1000124,
    "approval_code": "",
    "approval_message": "    DECLINE - Do not honor",
    "avs_response": "No Match",
    "csc_response": "",
    "external_transaction_id": "",
    "masked_card_number": "xxxxxxxxxxxx5439",
}
VALIDATION_ERRORS = {
    "success": False,
    "response_code": 1,
    "status_message": "One or more errors has occurred.",
    "errors": {
        "35": ["Please provide a valid Credit Card Number."],
        "43": ["Please provide a valid Expiration Month."],
    },
}
UNKNOWN_TRANSACTION = {
    "success": False,
    "response_code": 1,
    "status_message": "One or more errors has occurred.",
    "errors": {"58": ["Please provide a valid Transaction ID."]},
}
EXPORT_ONE: dict[str, Any] = {
    "success": True,
    "response_code": 1,
    "status_message": "Your request has been successfully completed.",
    "transactions": [
        {
            "transaction_id": 1000123,
            "created": {
                "through": "API",
                "at": "11/23/2026 9:05:30 AM",
                "by": "demo",
                "from_ip": "127.0.0.1",
            },
            "amount": 125.00,
            "tax_amount": "0.00",
            "transaction_type": "SALE",
            "status_code": 101,
            "status_message": "Your transaction was successfully approved.",
            "approval_code": "TAS610",
            "approval_message": "  NO  MATCH - Approved and completed",
            "credit_card": {
                "masked_number": "xxxxxxxxxxxx5439",
                "expiration_month": "12",
                "expiration_year": "2030",
            },
            "invoice_id": "1001",
            "customer_reference_id": "",
            "customer_id": "",
            "description": "",
            "email": "",
            "settled": "",
        }
    ],
}
