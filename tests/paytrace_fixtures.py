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

# -- recorded bodies of the operations added with the PayTrace issue --------------------------
# Codes and messages follow activemerchant's recorded PayTrace transcripts and help.paytrace.com;
# shapes PayTrace does not publish (batch summaries, recurrences) follow docs/paytrace.md.

AUTHORIZED = {**APPROVED_SALE, "transaction_id": 1000200}
CAPTURED = {
    "success": True,
    "response_code": 112,
    "status_message": "Your transaction was successfully captured.",
    "transaction_id": 1000200,
    "external_transaction_id": "",
}
VOIDED = {
    "success": True,
    "response_code": 109,
    "status_message": "Your transaction was successfully voided.",
    "transaction_id": 1000123,
}
REFUNDED = {
    "success": True,
    "response_code": 106,
    "status_message": "Your transaction was successfully refunded.",
    "transaction_id": 1000300,
    "external_transaction_id": "",
    "masked_card_number": "xxxxxxxxxxxx5439",
}
REFUND_UNSETTLED = {
    "success": False,
    "response_code": 1,
    "status_message": "One or more errors has occurred.",
    "errors": {
        "817": [
            "The Transaction ID that you provided could not be refunded. Only settled "
            "transactions can be refunded.  Please try to void the transaction instead."
        ]
    },
    "external_transaction_id": "",
}
SETTLED = {
    "success": True,
    "response_code": 1,
    "status_message": "Your request has been successfully completed.",
    "batch_number": 7,
    "transaction_count": 1,
}
CUSTOMER_CREATED = {
    "success": True,
    "response_code": 160,
    "status_message": "The customer profile for C0001/Acme Supply was successfully created.",
    "customer_id": "C0001",
    "masked_card_number": "xxxxxxxxxxxx5439",
}
CUSTOMER_DUPLICATE = {
    "success": False,
    "response_code": 1,
    "status_message": "One or more errors has occurred.",
    "errors": {"171": ["Please provide a unique customer ID."]},
}
CUSTOMER_UNKNOWN = {
    "success": False,
    "response_code": 1,
    "status_message": "One or more errors has occurred.",
    "errors": {"30": ["Customer ID, C0001, was not found or is incomplete."]},
}
CUSTOMER_UPDATED = {
    **CUSTOMER_CREATED,
    "response_code": 161,
    "status_message": "The customer profile for C0001/Acme Supply was successfully updated.",
}
CUSTOMER_DELETED = {
    "success": True,
    "response_code": 162,
    "status_message": "The customer profile for C0001/Acme Supply was successfully deleted.",
    "customer_id": "C0001",
}
CUSTOMER_EXPORT = {
    "success": True,
    "response_code": 1,
    "status_message": "Your request has been successfully completed.",
    "customers": [
        {
            "customer_id": "C0001",
            "credit_card": {
                "masked_number": "xxxxxxxxxxxx5439",
                "expiration_month": "12",
                "expiration_year": "2030",
            },
            "billing_address": {"name": "Acme Supply", "zip": "98101"},
            "email": "ap@acme.example",
            "phone": "",
        }
    ],
}
SALE_BY_CUSTOMER = {  # vault sales carry no masked card number (H)
    k: v
    for k, v in {**APPROVED_SALE, "transaction_id": 1000400}.items()
    if k != "masked_card_number"
}
CHECK_PROCESSED = {
    "success": True,
    "response_code": 120,
    "status_message": "Your check was successfully processed.",
    "check_transaction_id": 5000001,
}
CHECK_NOT_PROCESSED = {
    "success": False,
    "response_code": 125,
    "status_message": "Your check was NOT successfully processed.",
    "check_transaction_id": 5000002,
    "ach_code": 0,
    "ach_message": "",
}
CHECK_NOT_FOUND = {
    "success": False,
    "response_code": 1,
    "status_message": "One or more errors has occurred.",
    "errors": {
        "80": [
            "The Check ID that you have provided was not found in the PayTrace records. It may"
            " already be voided or settled."
        ]
    },
}
CHECK_VOIDED = {
    "success": True,
    "response_code": 124,
    "status_message": "Your check was successfully managed.",
    "check_transaction_id": 5000001,
}
BATCH_ONE = {
    "success": True,
    "response_code": 1,
    "status_message": "Your request has been successfully completed.",
    "batch": {
        "number": 7,
        "settled": "11/24/2026 3:00:00 AM",
        "transaction_count": 1,
        "net_amount": 125.00,
        "sales_count": 1,
        "sales_amount": 125.00,
        "refund_count": 0,
        "refund_amount": 0.00,
    },
}
BATCH_TRANSACTIONS = {
    **BATCH_ONE,
    "transactions": [
        {**EXPORT_ONE["transactions"][0], "settled": "11/24/2026 3:00:00 AM"},
    ],
}
RECURRENCE_CREATED = {
    "success": True,
    "response_code": 1,
    "status_message": "The recurring payment was successfully created.",
    "recurrence": {
        "id": 31,
        "customer_id": "C0001",
        "amount": 40.00,
        "start_date": "12/01/2026",
        "frequency": 3,
        "total_count": 0,
    },
}
RECURRENCE_DELETED = {
    "success": True,
    "response_code": 1,
    "status_message": "The recurring payment was successfully deleted.",
    "recurrence": {"id": 31},
}
LEVEL_THREE_ADDED = {
    "success": True,
    "response_code": 170,
    "status_message": "Visa/MasterCard enhanced data was successfully added to Transaction ID"
    " 1000123. 1 line item records were created.",
    "transaction_id": 1000123,
}

CHECK_HELD = {**CHECK_PROCESSED, "check_transaction_id": 5000003}
CHECK_FUNDED = {**CHECK_VOIDED, "check_transaction_id": 5000003}
CHECK_EXPORT = {
    "success": True,
    "response_code": 1,
    "status_message": "Your request has been successfully completed.",
    "checks": [
        {
            "check_transaction_id": 5000003,
            "transaction_type": "SALE",
            "status_code": 125,
            "status_message": "Your check was NOT successfully processed.",
            "ach_code": 1,
            "ach_message": "R01 Insufficient Funds",
            "amount": 50.00,
            "check": {"masked_account_number": "xxxxxxxx9012", "routing_number": "325070760"},
            "customer_id": "",
            "invoice_id": "1002",
            "description": "",
            "created": {"at": "11/23/2026 9:05:30 AM"},
            "settled": "",
            "original_check_transaction_id": None,
        }
    ],
}
