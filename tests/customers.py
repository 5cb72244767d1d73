"""Helpers of the customer profile sync scenarios: vault profiles, ERP customers, one sync run."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import date
from typing import Any

from pydantic import SecretStr

from connectors.paytrace.models import BillingAddress, CreditCard, CustomerRequest
from domain.customer_io import CustomerSyncInput, CustomerSyncResult
from domain.erp_documents import CustomerDetail, CustomerProfile, PostalAddress
from tests.stack import Stack
from workflows.registry import CustomerProfileSync

VISA = "4111111111111111"
"""The published Visa test number: its full digits must never reach the ERP, store or history."""
ADDRESS = PostalAddress(
    line1="12 Main St", city="Springfield", state="IL", postal_code="62701", country="US"
)


def new_id(prefix: str) -> str:
    """A fresh id (upper case, 8 characters): workflow ids are global on the shared server."""
    return f"{prefix}{uuid.uuid4().hex[:7].upper()}"


async def vault_profile(
    stack: Stack,
    paytrace_customer_id: str,
    *,
    name: str = "Vault Name",
    email: str = "",
    expires: date = date(2030, 12, 1),
) -> None:
    """Create a PayTrace vault profile holding the Visa test card."""
    await stack.paytrace.create_customer(
        CustomerRequest(
            customer_id=paytrace_customer_id,
            credit_card=CreditCard(
                number=SecretStr(VISA),
                expiration_month=f"{expires.month:02d}",
                expiration_year=str(expires.year),
            ),
            billing_address=BillingAddress(name=name, street_address="1 Old Rd", city="Oldtown"),
            email=email,
        )
    )


def erp_customer(
    stack: Stack, customer_id: str, *, name: str = "", email: str = "", paytrace_id: str = ""
) -> CustomerDetail:
    """Create (or update) an ERP customer with an address, optionally linked to a profile."""
    return stack.erp.upsert_customer(
        CustomerProfile(
            customer_id=customer_id,
            name=name or f"Customer {customer_id}",
            email=email,
            address=ADDRESS,
            paytrace_customer_id=paytrace_id,
        )
    )


async def run_sync(
    stack: Stack, cursor_name: str, **request: object
) -> tuple[str, CustomerSyncResult]:
    """Run one CustomerProfileSync to its end; its workflow id and result."""
    workflow_id = f"customer-sync-{uuid.uuid4().hex[:10]}"
    result: CustomerSyncResult = await stack.client.execute_workflow(
        CustomerProfileSync.run,
        CustomerSyncInput(cursor_name=cursor_name, **request),
        id=workflow_id,
        task_queue=stack.settings.task_queue,
    )
    return workflow_id, result


def history_text(history_json: str) -> str:
    """A workflow history with every payload decoded (payload data is base64 in the JSON)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "data" and isinstance(value, str):
                    found.append(base64.b64decode(value).decode("utf-8", "replace"))
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(history_json))
    return "\n".join(found)
