"""PayTrace response codes the simulator answers with, and their status messages."""

from __future__ import annotations

APPROVED = 101
DECLINED = 102
REFUNDED = 106
VOIDED = 109
CAPTURED = 112
CHECK_PROCESSED = 120
CHECK_REFUNDED = 122
CHECK_MANAGED = 124
CHECK_DECLINED = 125
CUSTOMER_CREATED = 160
CUSTOMER_UPDATED = 161
CUSTOMER_DELETED = 162
LEVEL3_ADDED = 170
REQUEST_COMPLETED = 1  # the success envelope of exports, settle and recurrences

STATUS: dict[int, str] = {
    APPROVED: "Your transaction was successfully approved.",
    DECLINED: "Your transaction was not approved.",
    REFUNDED: "Your transaction was successfully refunded.",
    VOIDED: "Your transaction was successfully voided.",
    CAPTURED: "Your transaction was successfully captured.",
    CHECK_PROCESSED: "Your check was successfully processed.",
    CHECK_REFUNDED: "Your check was successfully refunded.",
    CHECK_MANAGED: "Your check was successfully managed.",
    CHECK_DECLINED: "Your check was NOT successfully processed.",
    CUSTOMER_CREATED: "The customer profile for {customer_id} was successfully created.",
    CUSTOMER_UPDATED: "The customer profile for {customer_id} was successfully updated.",
    CUSTOMER_DELETED: "The customer profile for {customer_id} was successfully deleted.",
    LEVEL3_ADDED: "Visa/MasterCard enhanced data was successfully added to Transaction ID {tid}.",
    REQUEST_COMPLETED: "Your request has been successfully completed.",
}

SETTLEABLE_CODES = frozenset({APPROVED, REFUNDED, CAPTURED})
"""A card transaction with one of these codes joins the next batch (declines and voids never)."""
