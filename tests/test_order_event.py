"""The ``order.paid`` event model: what a store may send, what is refused and why, the order's
total, its sales order lines, the derived customer id, and the saved-event reader of the CLI."""

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from activities.orders import customer_conflicts
from domain.erp_documents import CustomerDetail, PostalAddress
from domain.mapping import Mapping
from domain.order_io import (
    CUSTOMER_ID_WIDTH,
    OrderCustomerInfo,
    OrderPaid,
    matches_reference,
    new_customer_id,
    order_lines,
    pays_order,
)
from domain.workflow_ids import order_workflow_id
from workers.cli_orders import read_event

BODY = {
    "order_id": "WEB-1001",
    "transaction_id": 1000123,
    "customer": {"name": "Ada Lovelace", "email": "ada@example.com"},
    "lines": [
        {"item_id": "WIDGET", "quantity": "3", "unit_price": "9.99"},
        {"item_id": "GADGET", "quantity": "1.5", "unit_price": "20.01"},
    ],
}


def with_(**changes: object) -> dict[str, object]:
    return {**BODY, **changes}


def line(**changes: object) -> dict[str, object]:
    return {"item_id": "WIDGET", "quantity": "1", "unit_price": "1.00", **changes}


def test_a_valid_event_and_its_total():
    event = OrderPaid.model_validate(with_(shipping="5.00", order_date="2026-03-01"))
    # 3 x 9.99 = 29.97; 1.5 x 20.01 = 30.015 -> 30.02 (half-up per line); + 5.00 shipping
    assert event.lines_total == Decimal("59.99")
    assert event.total == Decimal("64.99")
    assert event.order_date is not None and event.order_date.isoformat() == "2026-03-01"
    assert order_workflow_id(event.order_id) == "order-WEB-1001"


def test_json_numbers_that_are_exact_are_accepted_and_floats_are_not():
    assert OrderPaid.model_validate(with_(shipping=5)).shipping == Decimal("5.00")
    with pytest.raises(ValidationError, match="not float"):
        OrderPaid.model_validate(with_(shipping=5.1))
    with pytest.raises(ValidationError, match="not float"):
        OrderPaid.model_validate(with_(lines=[line(unit_price=9.99)]))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lines": []}, "at least 1"),
        ({"lines": [line(quantity="0")]}, "above zero"),
        ({"lines": [line(quantity="-2")]}, "above zero"),
        ({"lines": [line(quantity="1.125")]}, "two decimal places"),
        ({"lines": [line(unit_price="9.999")]}, "fraction of a cent"),
        ({"lines": [line(unit_price="-1.00")]}, "not be negative"),
        ({"lines": [line(unit_price="abc")]}, "not a number"),
        ({"lines": [line(item_id="  ")]}, "item_id"),
        ({"shipping": "-1.00"}, "not be negative"),
        ({"transaction_id": 0}, "greater than 0"),
        ({"order_id": ""}, "order_id"),
        ({"order_id": "WEB 1001"}, "order_id"),
        ({"order_id": "W" * 41}, "order_id"),
        ({"customer": {"name": "Ada"}}, "customer_id or an email"),
        ({"customer": {"name": "  ", "email": "a@b.example"}}, "name"),
        ({"customer": {"name": "Ada", "email": "not-an-email"}}, "e-mail"),
        ({"tax": "1.00"}, "Extra inputs"),
        ({"lines": [line(colour="red")]}, "Extra inputs"),
    ],
)
def test_invalid_events_are_refused_with_the_reason(changes, message):
    with pytest.raises(ValidationError, match=message):
        OrderPaid.model_validate(with_(**changes))


def test_an_account_customer_needs_no_email():
    event = OrderPaid.model_validate(with_(customer={"customer_id": " C0001 ", "name": "Acme"}))
    assert event.customer.customer_id == "C0001" and event.customer.email == ""


def test_order_lines_carry_shipping_as_the_mapped_item_only():
    event = OrderPaid.model_validate(with_(shipping="7.50"))
    lines = order_lines(event, "FREIGHT")
    assert [(li.item_id, li.quantity, li.unit_price) for li in lines] == [
        ("WIDGET", Decimal("3"), Decimal("9.99")),
        ("GADGET", Decimal("1.5"), Decimal("20.01")),
        ("FREIGHT", Decimal("1"), Decimal("7.50")),
    ]
    with pytest.raises(ValueError, match="shipping_item"):
        order_lines(event, "")
    assert len(order_lines(OrderPaid.model_validate(BODY), "")) == 2


def test_reference_prefix_and_the_order_a_payment_names():
    assert matches_reference("web-1001", "WEB-")
    assert not matches_reference("WEB-", "WEB-")
    assert not matches_reference("1001", "WEB-")
    assert not matches_reference("WEB-1001", "")  # blank: no payment is an order's
    assert pays_order(" web-1001 ", "WEB-1001", "WEB-")
    assert pays_order("WEB-1001", "1001", "WEB-")
    assert not pays_order("WEB-1002", "WEB-1001", "WEB-")
    assert not pays_order("", "WEB-1001", "WEB-")


def test_the_derived_customer_id_is_stable_and_fits_both_erps():
    first = new_customer_id("WEB", "Ada@Example.com ")
    assert first == new_customer_id("WEB", "ada@example.com")
    assert first != new_customer_id("WEB", "bob@example.com")
    assert first.startswith("WEB") and len(first) == CUSTOMER_ID_WIDTH <= 12
    assert set(first) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")  # base32: no blanks, no 0/1


def test_the_orders_mapping_is_validated():
    assert Mapping(erp="sage500").order_policy.reference_prefix == ""
    policy = Mapping(
        erp="sage500", orders={"reference_prefix": "WEB-", "wait_minutes": 5}
    ).order_policy
    assert (policy.reference_prefix, policy.wait_minutes, policy.closed_periods) == (
        "WEB-",
        5,
        "park",
    )
    for bad in ({"wait_minutes": 0}, {"new_customer_prefix": "web"}, {"reference_prefix": "W%"}):
        with pytest.raises(ValidationError, match="orders"):
            Mapping(erp="sage500", orders=bad)


def test_conflicts_name_the_fields_the_store_gives_differently():
    detail = CustomerDetail(
        customer_id="C1",
        name="Acme  Tools",
        email="AP@acme.example",
        phone="(555) 010-0100",
        address=PostalAddress(line1="1 Main St", city="Spokane"),
    )
    same = OrderCustomerInfo(
        customer_id="C1",
        name="acme tools",
        email="ap@acme.example",
        phone="555-010-0100",
        address=PostalAddress(city="SPOKANE"),
    )
    assert customer_conflicts(same, detail) == ()
    other = same.model_copy(
        update={"name": "Acme Inc", "phone": "555-999", "address": PostalAddress(city="Boise")}
    )
    assert customer_conflicts(other, detail) == ("name", "phone", "address")


def test_a_saved_event_is_read_bare_or_in_its_envelope(tmp_path):
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(BODY))
    assert read_event(bare).order_id == "WEB-1001"
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"type": "order.paid", "data": BODY}))
    assert read_event(wrapped).transaction_id == 1000123
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(with_(lines=[])))
    with pytest.raises(ValueError, match="lines"):
        read_event(broken)
    (tmp_path / "junk.json").write_text("{")
    with pytest.raises(ValueError, match="not JSON"):
        read_event(tmp_path / "junk.json")
