"""Activities of OrderSync: the order's ERP customer and its sales order; the orders policy.

The ERP ones run on the ERP's rate-limited task queue; ``order_policy`` (no I/O, the mapping
only) runs on the main queue.
"""

from __future__ import annotations

import re

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import names
from activities.erp import erp_call
from connectors.erp.protocol import ErpConnector
from domain.erp_documents import CustomerDetail, CustomerProfile, ErpDocument, SalesOrder
from domain.mapping import Mapping
from domain.order_io import (
    CustomerRule,
    OrderCustomer,
    OrderCustomerInfo,
    OrderCustomerRequest,
    OrderPolicy,
    new_customer_id,
)

CUSTOMER_ID_TAKEN = "order_customer_id_taken"


class OrderPolicyActivities:
    """The mapping's ``[orders]`` section, as workflows read it.

    Args:
        mapping: the deployment's mapping.
    """

    def __init__(self, mapping: Mapping) -> None:
        self._mapping = mapping

    @activity.defn(name=names.ORDER_POLICY)
    def order_policy(self, order_id: str) -> OrderPolicy:
        """The orders policy (reference prefix, wait, new-customer prefix, shipping item).

        Args:
            order_id: the order asking (for the activity's log line only).

        Returns:
            The policy.
        """
        activity.logger.debug("orders policy for order %s", order_id)
        return self._mapping.order_policy


class OrderErpActivities:
    """The ERP side of OrderSync, with the connector injected. Synchronous: thread pool.

    Args:
        erp: the ERP connector.
        mapping: the deployment's mapping (``orders``).
    """

    def __init__(self, erp: ErpConnector, mapping: Mapping) -> None:
        self._erp = erp
        self._prefix = mapping.orders.new_customer_prefix

    @activity.defn(name=names.RESOLVE_ORDER_CUSTOMER)
    def resolve_order_customer(self, request: OrderCustomerRequest) -> OrderCustomer:
        """Find the order's ERP customer, or create it; idempotent (a retry finds what it made).

        In order: the event's ``customer_id`` (kept when it exists, created when not); else the
        customer linked to the PayTrace vault customer; else the one customer with the e-mail;
        else the customer of the id derived from the e-mail (``new_customer_id``), created
        when missing. An existing customer is never changed (the ERP owns its fields): where
        the event differs, ``conflicts`` names the fields.

        Args:
            request: the order's customer as the store sent it, and PayTrace's vault customer.

        Returns:
            The customer id, the rule that found it, whether it was created, the conflicts.

        Raises:
            ApplicationError: ``order_customer_id_taken`` (non-retryable) when the derived id
                belongs to a customer with another e-mail; the ERP's own refusals.
        """
        return erp_call(lambda: self._resolve(request))

    def _resolve(self, request: OrderCustomerRequest) -> OrderCustomer:
        info = request.customer
        if info.customer_id:
            given = self._erp.get_customer(info.customer_id)
            if given is not None:
                return _found(given, CustomerRule.GIVEN_ID, info)
            created = self._erp.upsert_customer(_profile(info, info.customer_id))
            return OrderCustomer(
                customer_id=created.customer_id, rule=CustomerRule.GIVEN_ID, created=True
            )
        paytrace_id = request.paytrace_customer_id.strip()
        linked: list[CustomerDetail] = []
        if paytrace_id:
            linked = self._erp.find_customers(paytrace_customer_id=paytrace_id)
            if len(linked) == 1:
                return _found(linked[0], CustomerRule.PAYTRACE_LINK, info)
        by_email = self._erp.find_customers(email=info.email)
        if len(by_email) == 1:
            return _found(by_email[0], CustomerRule.EMAIL, info)
        derived = new_customer_id(self._prefix, info.email)
        existing = self._erp.get_customer(derived)
        if existing is not None:
            if _email(existing.email) != _email(info.email):
                raise ApplicationError(
                    f"order {request.order_id}: the customer id {derived} derived from"
                    f" {info.email} belongs to customer {existing.name!r} with another e-mail;"
                    " create the customer in the ERP and replay the order with its customer_id",
                    type=CUSTOMER_ID_TAKEN,
                    non_retryable=True,
                )
            return _found(existing, CustomerRule.DERIVED_ID, info)
        # No customer holds the PayTrace vault id (looked up above): the new one is linked to it.
        link = paytrace_id if not linked else ""
        created = self._erp.upsert_customer(_profile(info, derived, link))
        return OrderCustomer(
            customer_id=created.customer_id, rule=CustomerRule.DERIVED_ID, created=True
        )

    @activity.defn(name=names.WRITE_SALES_ORDER)
    def write_sales_order(self, order: SalesOrder) -> ErpDocument:
        """Write the sales order with its lines, exactly once by the store's order id.

        Args:
            order: the order, its customer and lines.

        Returns:
            The order as the ERP holds it (``created`` False when it existed already).
        """
        return erp_call(lambda: self._erp.write_sales_order(order))


def _profile(info: OrderCustomerInfo, customer_id: str, paytrace_id: str = "") -> CustomerProfile:
    return CustomerProfile(
        customer_id=customer_id,
        name=info.name,
        email=info.email,
        phone=info.phone,
        address=info.address,
        paytrace_customer_id=paytrace_id,
    )


def _found(detail: CustomerDetail, rule: CustomerRule, info: OrderCustomerInfo) -> OrderCustomer:
    return OrderCustomer(
        customer_id=detail.customer_id, rule=rule, conflicts=customer_conflicts(info, detail)
    )


def customer_conflicts(info: OrderCustomerInfo, detail: CustomerDetail) -> tuple[str, ...]:
    """The fields the event gives differently from the ERP customer (blank ones never differ).

    Names compare ignoring case and spacing, e-mails ignoring case, phones by their digits,
    addresses by the lines the event gives.

    Args:
        info: the customer as the store sent it.
        detail: the ERP customer.

    Returns:
        ``name``, ``email``, ``phone`` and ``address``, those that differ.
    """
    differ = []
    if info.name and _words(info.name) != _words(detail.name):
        differ.append("name")
    if info.email and _email(info.email) != _email(detail.email):
        differ.append("email")
    if info.phone and _digits(info.phone) != _digits(detail.phone):
        differ.append("phone")
    given = info.address.model_dump()
    held = detail.address.model_dump()
    if any(v.strip() and _words(v) != _words(held[k]) for k, v in given.items()):
        differ.append("address")
    return tuple(differ)


def _words(text: str) -> str:
    return " ".join(text.split()).casefold()


def _email(text: str) -> str:
    return text.strip().casefold()


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)
