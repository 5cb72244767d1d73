"""Activities of RecurringAutopay: what is due, whether to charge it still, the card's expiry.

The charge itself is ``paytrace.charge_customer`` (it reads PayTrace back before any retry).
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from temporalio import activity

from activities import names
from activities.erp import erp_call
from activities.errors import to_application_error
from connectors.erp.protocol import ErpConnector
from connectors.paytrace.client import PaytraceClient
from connectors.paytrace.errors import PaytraceError
from domain.autopay_io import (
    CardOnFile,
    CardOnFileRequest,
    DueInvoice,
    DueInvoices,
    DueRequest,
    Standing,
    StandingRequest,
)
from domain.mapping import Mapping


class AutopayErpActivities:
    """The ERP side of autopay, with the connector and the mapping injected (thread pool).

    Args:
        erp: the ERP connector.
        mapping: the deployment's mapping (its ``autopay`` section).
        timezone: the merchant's time zone (what "due today" means).
    """

    def __init__(self, erp: ErpConnector, mapping: Mapping, timezone: str) -> None:
        self._erp = erp
        self._mapping = mapping
        self._tz = ZoneInfo(timezone)

    @activity.defn(name=names.AUTOPAY_DUE)
    def autopay_due(self, request: DueRequest) -> DueInvoices:
        """The open invoices of autopay customers due on or before the day.

        Customers without a linked PayTrace profile are skipped and named, so finance can link
        them; nothing is due when autopay is off in the mapping.
        """
        policy = self._mapping.autopay_policy
        day = request.day or request.at.astimezone(self._tz).date()
        if not policy.enabled:
            return DueInvoices(day=day, policy=policy)

        oldest = day - timedelta(days=policy.catch_up_days)

        def load() -> DueInvoices:
            due: list[DueInvoice] = []
            skipped: list[str] = []
            for customer in self._erp.autopay_customers():
                if not customer.paytrace_customer_id:
                    skipped.append(f"{customer.customer_id}: no linked PayTrace profile")
                    continue
                for invoice in self._erp.open_invoices(customer.customer_id):
                    # Due today, or in the catch-up window (a missed day, an outage); older
                    # invoices are not autopay's (a chargeback may have reopened them).
                    if invoice.due_date is None or not oldest <= invoice.due_date <= day:
                        continue
                    due.append(
                        DueInvoice(
                            customer_id=customer.customer_id,
                            paytrace_customer_id=customer.paytrace_customer_id,
                            invoice_number=invoice.invoice_number,
                            balance=invoice.balance,
                            due_date=invoice.due_date,
                            email=customer.email,
                        )
                    )
            return DueInvoices(day=day, invoices=tuple(due), skipped=tuple(skipped), policy=policy)

        return erp_call(load)

    @activity.defn(name=names.AUTOPAY_STANDING)
    def autopay_standing(self, request: StandingRequest) -> Standing:
        """Whether the invoice is still open and its customer still on autopay, read now."""

        def load() -> Standing:
            customer = self._erp.get_customer(request.customer_id)
            invoice = self._erp.invoice_by_number(request.invoice_number)
            if customer is None:
                return Standing(invoice_found=invoice is not None, autopay=False, active=False)
            mine = invoice is not None and invoice.customer_id == customer.customer_id
            return Standing(
                balance=invoice.balance if mine and invoice is not None else Standing().balance,
                invoice_found=mine,
                autopay=customer.autopay,
                active=customer.active,
                paytrace_customer_id=customer.paytrace_customer_id,
                email=customer.email,
            )

        return erp_call(load)


class AutopayCardActivities:
    """Reads a vault profile's stored card (masked) from PayTrace, with the client injected.

    Args:
        paytrace: the PayTrace client.
        timezone: the merchant's time zone (a card expires at the end of its month there).
    """

    def __init__(self, paytrace: PaytraceClient, timezone: str) -> None:
        self._paytrace = paytrace
        self._tz = ZoneInfo(timezone)

    @activity.defn(name=names.CARD_ON_FILE)
    async def card_on_file(self, request: CardOnFileRequest) -> CardOnFile:
        """The profile's masked card and expiry, and whether it expired by ``request.at``."""
        try:
            found = await self._paytrace.export_customers(request.paytrace_customer_id)
        except PaytraceError as exc:
            raise to_application_error(exc) from None
        today: date = request.at.astimezone(self._tz).date()
        for customer in found:
            if customer.customer_id != request.paytrace_customer_id:
                continue
            card = customer.credit_card
            month = _number(card.expiration_month if card else "")
            year = _number(card.expiration_year if card else "")
            if 0 < year < 100:
                year += 2000
            on_file = CardOnFile(
                masked_number=card.masked_number if card else "",
                expiration_month=month,
                expiration_year=year,
            )
            return on_file.model_copy(update={"expired_now": on_file.expired(today)})
        return CardOnFile(found=False)


def _number(text: str) -> int:
    digits = text.strip()
    return int(digits) if digits.isdigit() else 0
