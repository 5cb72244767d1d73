"""Customer profile sync rules: field ownership, card on file, expiry notices, link rules."""

from datetime import date

import pytest
from pydantic import ValidationError

from domain.customer_io import LinkCandidates, LinkRule, VaultProfile
from domain.customer_sync import (
    card_expires_on,
    card_notice,
    card_on_file_text,
    choose_link,
    mask_value,
    plan_profile,
    profile_differences,
    pushed_fields,
)
from domain.erp_documents import CustomerDetail, PostalAddress
from domain.mapping import CustomersMap

ADDRESS = PostalAddress(
    line1="12 Main St", city="Springfield", state="IL", postal_code="62701", country="US"
)


def _customer(customer_id: str = "C0100", **kw: object) -> CustomerDetail:
    fields: dict[str, object] = {
        "name": "Acme Supply Co.",
        "email": "ap@acme.example",
        "phone": "(217) 555-0100",
        "address": ADDRESS,
        "paytrace_customer_id": "PT-100",
    }
    fields.update(kw)
    return CustomerDetail(customer_id=customer_id, **fields)


def _profile(**kw: object) -> VaultProfile:
    fields: dict[str, object] = {
        "paytrace_customer_id": "PT-100",
        "name": "Acme Supply Co.",
        "email": "AP@acme.example ",
        "phone": "217-555-0100",
        "address": ADDRESS,
        "masked_number": "411111******1111",
        "expiration_month": 12,
        "expiration_year": 2028,
    }
    fields.update(kw)
    return VaultProfile(**fields)


def test_the_card_on_file_is_the_last_four_and_the_expiry_only():
    assert card_on_file_text("411111******1111", 12, 2028) == "x1111 12/2028"
    assert card_on_file_text("************0026", 3, 29) == "x0026 03/2029"
    assert card_on_file_text("", 12, 2028) == ""
    assert card_on_file_text("411111******11x1", 12, 2028) == ""
    assert card_on_file_text("411111******1111", 0, 2028) == ""
    assert card_on_file_text("411111******1111", 13, 2028) == ""


def test_same_values_written_differently_are_no_conflict():
    assert profile_differences(_customer(), _profile()) == ()


def test_each_differing_erp_owned_field_is_a_conflict_the_erp_wins_masked_where_sensitive():
    profile = _profile(
        name="ACME (old)",
        email="someone@else.example",
        phone="999-000-1234",
        address=ADDRESS.model_copy(update={"city": "Shelbyville"}),
    )
    conflicts = profile_differences(_customer(), profile)
    assert [c.field for c in conflicts] == ["name", "email", "phone", "city"]
    assert all(c.winner == "erp" for c in conflicts)
    by_field = {c.field: c for c in conflicts}
    assert by_field["email"].erp_value == "a***@acme.example"
    assert by_field["email"].paytrace_value == "s***@else.example"
    assert by_field["phone"].erp_value == "***0100"
    assert by_field["phone"].paytrace_value == "***1234"
    assert by_field["city"].paytrace_value == "Shelbyville"
    assert pushed_fields(_customer(), conflicts) == {
        "name": "Acme Supply Co.",
        "email": "ap@acme.example",
        "phone": "(217) 555-0100",
        "city": "Springfield",
    }


def test_a_field_the_erp_leaves_blank_is_not_pushed():
    customer = _customer(phone="", address=PostalAddress())
    assert profile_differences(customer, _profile(phone="555-1234")) == ()


def test_masking():
    assert mask_value("email", "jane@example.com") == "j***@example.com"
    assert mask_value("email", "not-an-address") == "***"
    assert mask_value("phone", "12") == "***"
    assert mask_value("name", "Jane") == "Jane"
    assert mask_value("email", "") == ""


def test_a_card_is_good_through_the_end_of_its_month():
    assert card_expires_on(2, 2028) == date(2028, 2, 29)
    assert card_expires_on(12, 28) == date(2028, 12, 31)


def test_an_expiring_card_gets_one_notice_per_customer_and_expiry():
    profile = _profile(expiration_month=6, expiration_year=2026)
    assert card_notice("C0100", profile, date(2026, 5, 30), 30) is None  # 31 days left
    notice = card_notice("C0100", profile, date(2026, 6, 1), 30)
    assert notice is not None and not notice.expired
    assert notice.alert_key == "card-expiry/C0100/2026-06"
    assert notice.expires_on == date(2026, 6, 30)
    assert "x1111 06/2026" in notice.message and "411111" not in notice.message
    later = card_notice("C0100", profile, date(2026, 6, 20), 30)
    assert later is not None and later.alert_key == notice.alert_key
    expired = card_notice("C0100", profile, date(2026, 7, 1), 0)
    assert expired is not None and expired.expired and "has expired" in expired.subject
    assert card_notice("C0100", profile, date(2026, 6, 29), 0) is None


def test_the_plan_of_a_linked_profile():
    customer = _customer(card_on_file="x1111 12/2028")
    same = plan_profile(_profile(), [customer], date(2026, 1, 10), 30)
    assert (same.customer_id, same.card_on_file, same.notice, same.drift) == ("C0100", "", None, ())
    assert same.customer is None
    renewed = plan_profile(
        _profile(masked_number="************4242", expiration_month=1, expiration_year=2026),
        [customer],
        date(2026, 1, 10),
        30,
    )
    assert renewed.card_on_file == "x4242 01/2026"
    assert renewed.notice is not None
    drifted = plan_profile(_profile(name="Other"), [customer], date(2026, 1, 10), 30)
    assert drifted.customer == customer and [c.field for c in drifted.drift] == ["name"]


def test_an_unlinked_or_doubly_linked_profile_plans_no_write():
    unlinked = plan_profile(_profile(), [], date(2026, 1, 10), 30)
    assert (unlinked.customer_id, unlinked.holders, unlinked.card_on_file) == ("", (), "")
    twice = plan_profile(_profile(), [_customer("C1"), _customer("C2")], date(2026, 1, 10), 30)
    assert twice.holders == ("C1", "C2") and twice.customer_id == "" and twice.card_on_file == ""


def test_link_by_exact_id_first():
    exact = _customer("PT100")
    other = _customer("C0200")
    choice = choose_link(LinkCandidates(harmonized_id="PT100", exact=exact, by_email=(other,)))
    assert (choice.customer_id, choice.rule) == ("PT100", "exact_id")


def test_an_inactive_exact_id_falls_through_to_the_email_rule():
    choice = choose_link(
        LinkCandidates(
            harmonized_id="PT100",
            exact=_customer("PT100", active=False),
            by_email=(_customer("C0200"),),
        )
    )
    assert (choice.customer_id, choice.rule) == ("C0200", "email")


def test_a_shared_email_decides_nothing_and_names_the_candidates():
    choice = choose_link(
        LinkCandidates(harmonized_id="PT100", by_email=(_customer("C1"), _customer("C2")))
    )
    assert choice.customer_id == "" and choice.rule == "none"
    assert choice.candidates == ("C1", "C2")
    assert "2 active customers share the profile's e-mail" in choice.reason


def test_the_rules_are_the_mappings_in_its_order():
    email_only = LinkCandidates(
        rules=(LinkRule.EMAIL,), harmonized_id="PT100", exact=_customer("PT100"), by_email=()
    )
    assert choose_link(email_only).customer_id == ""
    assert choose_link(LinkCandidates(rules=(), exact=_customer("PT100"))).customer_id == ""


def test_an_operators_choice_overrides_the_rules():
    found = LinkCandidates(exact=_customer("PT100"), chosen=_customer("C0300"))
    choice = choose_link(found, "c0300")
    assert (choice.customer_id, choice.rule) == ("C0300", "operator")
    unknown = choose_link(LinkCandidates(exact=_customer("PT100")), "NOPE")
    assert unknown.customer_id == "" and "NOPE does not exist" in unknown.reason


def test_mapping_link_rules_are_validated():
    assert CustomersMap().link_rules == (LinkRule.EXACT_ID, LinkRule.EMAIL)
    assert CustomersMap(link_rules=("email",)).link_rules == (LinkRule.EMAIL,)
    with pytest.raises(ValidationError):
        CustomersMap(link_rules=("phone",))
    with pytest.raises(ValidationError):
        CustomersMap(link_rules=("email", "email"))
    with pytest.raises(ValidationError):
        CustomersMap(card_expiry_notice_days=-1)


def test_the_sync_schedule_runs_every_interval_and_zero_registers_none(tmp_path):
    from datetime import timedelta

    from workers.schedules import CUSTOMER_SYNC_SCHEDULE_ID, schedules
    from workers.settings import Settings

    every = schedules(Settings(var_dir=tmp_path, customer_sync_interval_seconds=120))
    schedule = every[CUSTOMER_SYNC_SCHEDULE_ID]
    assert schedule.spec.intervals[0].every == timedelta(seconds=120)
    assert schedule.action.id == "customer-sync"  # type: ignore[attr-defined]
    none = schedules(Settings(var_dir=tmp_path, customer_sync_interval_seconds=0))
    assert CUSTOMER_SYNC_SCHEDULE_ID not in none
