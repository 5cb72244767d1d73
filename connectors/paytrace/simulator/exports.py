"""Export records (``transactions[]``) and the date-range filters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from connectors.paytrace.simulator import codes
from connectors.paytrace.simulator.clock import format_local, from_micros
from connectors.paytrace.simulator.state import TransactionRecord


def render_record(record: TransactionRecord, tz: ZoneInfo) -> dict[str, object]:
    """Render a stored transaction as an export record.

    Args:
        record: the stored transaction.
        tz: the merchant's time zone for ``created.at`` and ``settled``.

    Returns:
        The record; ``amount`` is a Decimal so it is written as a JSON number like ``125.00``.
    """
    settled = (
        "" if record.settled_at_us is None else format_local(from_micros(record.settled_at_us), tz)
    )
    return {
        "transaction_id": record.transaction_id,
        "created": {
            "through": record.created_through,
            "at": format_local(from_micros(record.created_at_us), tz),
            "by": record.created_by,
            "from_ip": record.created_from_ip,
        },
        "amount": record.amount,
        "tax_amount": str(record.tax_amount),
        "transaction_type": record.transaction_type,
        "status_code": record.response_code,
        "status_message": record.status_message,
        "approval_code": record.approval_code,
        "approval_message": record.approval_message,
        "avs_response": record.avs_response,
        "csc_response": record.csc_response,
        "credit_card": {
            "masked_number": record.masked_number,
            "expiration_month": record.expiration_month,
            "expiration_year": record.expiration_year,
        },
        "invoice_id": record.invoice_id,
        "customer_reference_id": record.customer_reference_id,
        "customer_id": record.customer_id,
        "description": record.description,
        "email": record.email,
        "billing_address": dict(record.billing_address),
        "shipping_address": dict(record.shipping_address),
        "external_transaction_id": record.external_transaction_id,
        "settled": settled,
    }


@dataclass(frozen=True)
class ExportFilter:
    """The optional filters of ``export/by_date_range``; empty fields do not filter."""

    transaction_type: str = ""
    transaction_id: int | None = None
    customer_id: str = ""
    including_text: str = ""

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], transaction_id: int | None) -> ExportFilter:
        """Read the filters from a request body.

        Args:
            payload: the JSON body.
            transaction_id: the already validated ``transaction_id`` filter, if any.

        Returns:
            The filter.
        """

        def field(name: str) -> str:
            value = payload.get(name)
            return value.strip() if isinstance(value, str) else ""

        return cls(
            transaction_type=field("transaction_type").upper(),
            transaction_id=transaction_id,
            customer_id=field("customer_id"),
            including_text=field("including_text").lower(),
        )

    def matches(self, record: TransactionRecord) -> bool:
        """Tell whether a transaction passes every filter.

        ``transaction_type`` compares with the stored type (``SALE``...), except the status
        pseudo-types: ``DECLINED`` (declined), ``SETTLED`` (settled) and ``PENDING`` (approved,
        not yet settled).

        Args:
            record: the stored transaction.

        Returns:
            True when it passes.
        """
        if self.transaction_id is not None and record.transaction_id != self.transaction_id:
            return False
        if self.customer_id and record.customer_id != self.customer_id:
            return False
        if self.transaction_type and not self._type_matches(record):
            return False
        if self.including_text:
            haystack = (record.invoice_id, record.description, record.customer_reference_id)
            if not any(self.including_text in value.lower() for value in haystack):
                return False
        return True

    def _type_matches(self, record: TransactionRecord) -> bool:
        declined = record.response_code == codes.DECLINED
        if self.transaction_type == "DECLINED":
            return declined
        if self.transaction_type == "SETTLED":
            return record.settled_at_us is not None
        if self.transaction_type == "PENDING":
            return not declined and record.settled_at_us is None
        return record.transaction_type == self.transaction_type
