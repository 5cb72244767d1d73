"""The customer sync's store rows (SQLite and PostgreSQL): its opaque ERP cursor, its decisions."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from activities.customers import CustomerStoreActivities, update_request, vault_profile
from connectors.paytrace.models import ExportedCustomer
from connectors.store import Store
from domain.customer_io import FieldConflict, SyncCursorUpdate
from domain.customer_sync import pushed_fields
from domain.erp_documents import CustomerDetail, PostalAddress
from domain.store_io import DecisionRecord

AT = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)


@pytest.fixture
def store(store_url):
    s = Store(sa.create_engine(store_url))
    s.create_schema()
    yield s
    s.engine.dispose()


def test_the_erp_cursor_is_kept_as_the_erp_wrote_it(store):
    activities = CustomerStoreActivities(store)
    assert activities.get_sync_cursor("customer-sync-erp") == ""
    activities.save_sync_cursor(
        SyncCursorUpdate(name="customer-sync-erp", cursor="d|2026-11-30T10:00:00|42")
    )
    activities.save_sync_cursor(SyncCursorUpdate(name="other", cursor="n|7"))
    assert activities.get_sync_cursor("customer-sync-erp") == "d|2026-11-30T10:00:00|42"
    activities.save_sync_cursor(SyncCursorUpdate(name="customer-sync-erp", cursor="n|3"))
    assert activities.get_sync_cursor("customer-sync-erp") == "n|3"  # opaque: the last save wins
    assert activities.get_sync_cursor("other") == "n|7"


def test_a_link_decision_is_recorded_once(store):
    activities = CustomerStoreActivities(store)
    decision = DecisionRecord(
        decision_key="customer-link-P1/r/decision-1",
        workflow_id="customer-link-P1",
        outcome="customer_matched",
        rule="email",
        reason="the only active customer with the profile's e-mail: C0001",
        customer_id="C0001",
        at=AT,
    )
    assert activities.record_customer_decision(decision) is True
    assert activities.record_customer_decision(decision) is False
    (stored,) = store.decisions()
    assert (stored.rule, stored.customer_id, stored.outcome) == (
        "email",
        "C0001",
        "customer_matched",
    )


def test_an_export_record_keeps_only_the_masked_card():
    record = ExportedCustomer.model_validate(
        {
            "customer_id": "P1",
            "credit_card": {
                "masked_number": "411111******1111",
                "expiration_month": "07",
                "expiration_year": "29",
            },
            "billing_address": {"name": "Jane Doe", "street_address": "1 Elm", "zip": "02134"},
            "email": None,
        }
    )
    profile = vault_profile(record)
    assert (profile.masked_number, profile.expiration_month, profile.expiration_year) == (
        "411111******1111",
        7,
        2029,
    )
    assert (profile.name, profile.address.line1, profile.address.postal_code) == (
        "Jane Doe",
        "1 Elm",
        "02134",
    )
    assert profile.email == ""


def test_an_update_sends_the_erp_values_and_keeps_paytraces_others():
    customer = CustomerDetail(
        customer_id="C1",
        name="Acme",
        email="ap@acme.example",
        paytrace_customer_id="P1",
        address=PostalAddress(city="Springfield"),
    )
    record = ExportedCustomer.model_validate(
        {
            "customer_id": "P1",
            "billing_address": {"name": "Old", "street_address": "1 Elm", "city": "Oldtown"},
            "email": "ap@acme.example",
        }
    )
    conflicts = (
        FieldConflict(field="name", erp_value="Acme", paytrace_value="Old"),
        FieldConflict(field="city", erp_value="Springfield", paytrace_value="Oldtown"),
    )
    request = update_request(customer, vault_profile(record), pushed_fields(customer, conflicts))
    body = request.model_dump(mode="json", exclude_none=True)
    assert body["customer_id"] == "P1"
    assert body["billing_address"]["name"] == "Acme"
    assert body["billing_address"]["city"] == "Springfield"
    assert body["billing_address"]["street_address"] == "1 Elm"  # the ERP's blank erases nothing
    assert "email" not in body and "phone" not in body and "credit_card" not in body


def test_a_card_the_erp_refuses_is_reported_and_the_others_are_written():
    from typing import Any, cast

    from activities.customers import CustomerErpActivities
    from connectors.erp.errors import ErpBusinessError
    from connectors.erp.protocol import ErpConnector
    from domain.customer_io import CardWrite, CardWrites
    from domain.mapping import Mapping

    written: dict[str, str] = {}

    class OneRefusal:
        def set_card_on_file(self, customer_id: str, text: str) -> Any:
            if customer_id == "GONE":
                raise ErpBusinessError("customer 'GONE' does not exist")
            written[customer_id] = text

    activities = CustomerErpActivities(
        cast(ErpConnector, OneRefusal()), Mapping(erp="sage500"), "America/New_York"
    )
    result = activities.write_cards_on_file(
        CardWrites(
            writes=(
                CardWrite(customer_id="GONE", text="x1111 12/2028"),
                CardWrite(customer_id="C1", text="x4242 01/2030"),
            )
        )
    )
    assert result.written == 1 and written == {"C1": "x4242 01/2030"}
    assert result.refused == ("GONE: customer 'GONE' does not exist",)
