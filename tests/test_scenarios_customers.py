"""Customer profile sync on both ERP stand-ins and both databases: ERP changes reach PayTrace
(the ERP wins every conflict), new vault profiles are linked by rule or by an operator, the card
on file reaches the ERP as its last four digits and expiry only, expiring cards raise one notice.
"""

from __future__ import annotations

import asyncio
import uuid
import warnings

import pytest
import sqlalchemy as sa
from temporalio.client import WorkflowUpdateFailedError

from activities.starter import start_customer_link
from domain.activity_io import AttentionInfo, ResolutionAction
from domain.customer_io import CustomerLinkResult, LinkOutcome
from domain.store_io import AlertKind
from tests.customers import (
    VISA,
    erp_customer,
    history_text,
    new_id,
    run_sync,
    vault_profile,
)
from tests.scenarios import parked, resolve, result_of, today_for
from tests.stack import Stack, running_stack
from workflows.registry import CustomerLink

pytestmark = pytest.mark.erp_diagonal  # each ERP once, each database once (conftest)


async def _link_result(stack: Stack, paytrace_id: str) -> CustomerLinkResult:
    result: CustomerLinkResult = await result_of(
        stack, CustomerLink.run, f"customer-link-{paytrace_id}"
    )
    return result


async def _parked_as(stack: Stack, workflow_id: str, kind: str) -> AttentionInfo:
    """Wait until the workflow waits for an operator for ``kind`` (a resolved park lingers)."""
    for _ in range(300):
        info = await parked(stack, workflow_id)
        if info.reason_kind == kind:
            return info
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} never parked with {kind}")


def _rows_text(engine: sa.Engine) -> str:
    """Every row of every table of a database, as text."""
    meta = sa.MetaData()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sa.exc.SAWarning)  # expression indexes are not reflected
        meta.reflect(engine)
    with engine.connect() as conn:
        return "\n".join(
            repr(row) for table in meta.sorted_tables for row in conn.execute(sa.select(table))
        )


async def test_an_erp_change_reaches_the_linked_profile_and_the_conflict_is_logged(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(dev_env.client, tmp_path, erp_url, erp_name=erp_name) as stack:
        pt_id, cust_id = new_id("P"), new_id("K")
        await vault_profile(stack, pt_id, name="Old Name", email="old@vault.example")
        erp_customer(stack, cust_id, name="New Name Co", email="ap@new.example", paytrace_id=pt_id)
        cursor = f"test-{uuid.uuid4().hex[:6]}"
        workflow_id, result = await run_sync(stack, cursor, page_size=5, pages_per_run=2)
        assert result.pushed == 1 and result.links_started == 0
        assert result.changed >= 21  # 20 demo customers and this one, over continued runs
        (profile,) = await stack.paytrace.export_customers(pt_id)
        assert profile.billing_address is not None
        assert profile.billing_address.name == "New Name Co"
        assert (profile.billing_address.street_address, profile.billing_address.city) == (
            "12 Main St",
            "Springfield",
        )
        assert profile.email == "ap@new.example"
        assert profile.credit_card is not None and profile.credit_card.masked_number.endswith(
            "1111"
        )
        (conflict,) = [
            e
            for e in stack.store.audit_trail(workflow_id=workflow_id)
            if e.event == "profile_conflict"
        ]
        assert conflict.detail["customer_id"] == cust_id and conflict.detail["winner"] == "erp"
        fields = {f["field"]: f for f in conflict.detail["fields"]}
        assert {"name", "email", "line1", "city"} <= set(fields)
        assert fields["name"] == {
            "field": "name",
            "erp_value": "New Name Co",
            "paytrace_value": "Old Name",
            "winner": "erp",
        }
        assert fields["email"]["paytrace_value"] == "o***@vault.example"  # masked
        (decision,) = [d for d in stack.store.decisions() if d.outcome == "profile_conflict"]
        assert (decision.customer_id, decision.rule) == (cust_id, "erp_owns")
        assert "ERP wins" in decision.reason
        linked = stack.erp.get_customer(cust_id)
        assert linked is not None and linked.card_on_file == "x1111 12/2030"
        assert linked.name == "New Name Co"  # PayTrace's name never reached the ERP
        _, again = await run_sync(stack, cursor)
        assert (again.pushed, again.conflicts, again.cards_written) == (0, 0, 0)


async def test_new_profiles_are_linked_by_exact_id_and_by_email(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(dev_env.client, tmp_path, erp_url, erp_name=erp_name) as stack:
        exact_id = new_id("X")
        by_mail, mail_cust = new_id("pt-"), new_id("M")
        email = f"{mail_cust.lower()}@customers.example"
        erp_customer(stack, exact_id)
        erp_customer(stack, mail_cust, email=email)
        await vault_profile(stack, exact_id)
        await vault_profile(stack, by_mail, email=email.upper())
        # the vault phase alone, one profile a page and a run: it continues as new in between
        _, result = await run_sync(
            stack, f"test-{uuid.uuid4().hex[:6]}", phase="paytrace", page_size=1, pages_per_run=1
        )
        assert (result.changed, result.profiles, result.links_started) == (0, 2, 2)
        exact = await _link_result(stack, exact_id)
        assert (exact.outcome, exact.customer_id, exact.rule) == (
            LinkOutcome.LINKED,
            exact_id,
            "exact_id",
        )
        mailed = await _link_result(stack, by_mail)
        assert (mailed.outcome, mailed.customer_id, mailed.rule) == (
            LinkOutcome.LINKED,
            mail_cust,
            "email",
        )
        for cust_id, pt_id in ((exact_id, exact_id), (mail_cust, by_mail)):
            detail = stack.erp.get_customer(cust_id)
            assert detail is not None
            assert (detail.paytrace_customer_id, detail.card_on_file) == (pt_id, "x1111 12/2030")
        rules = {d.customer_id: d.rule for d in stack.store.decisions()}
        assert rules[exact_id] == "exact_id" and rules[mail_cust] == "email"
        # a profile event for a linked profile changes nothing
        assert (
            await start_customer_link(
                stack.client, stack.settings.task_queue, exact_id, "customer_event"
            )
            is False
        )
        _, again = await run_sync(stack, f"test-{uuid.uuid4().hex[:6]}")
        assert (again.links_started, again.cards_written) == (0, 0)


async def test_an_ambiguous_profile_waits_for_link_to_and_an_unknown_one_is_handled(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(dev_env.client, tmp_path, erp_url, erp_name=erp_name) as stack:
        first, second = new_id("A"), new_id("B")
        shared = f"{first.lower()}@shared.example"
        erp_customer(stack, first, email=shared)
        erp_customer(stack, second, email=shared)
        ambiguous, unknown = new_id("pa-"), new_id("pu-")
        await vault_profile(stack, ambiguous, email=shared)
        await vault_profile(stack, unknown, email="nobody@nowhere.example")
        queue = stack.settings.task_queue
        assert await start_customer_link(stack.client, queue, ambiguous, "customer_event")
        assert await start_customer_link(stack.client, queue, unknown, "customer_event")
        info = await parked(stack, f"customer-link-{ambiguous}")
        assert info.reason_kind == "customer_unlinked"
        assert first in info.reason and second in info.reason
        assert ResolutionAction.LINK_TO in info.allowed
        with pytest.raises(WorkflowUpdateFailedError):
            await resolve(stack, f"customer-link-{ambiguous}", ResolutionAction.LINK_TO)
        await resolve(
            stack, f"customer-link-{ambiguous}", ResolutionAction.LINK_TO, customer_id=second
        )
        linked = await _link_result(stack, ambiguous)
        assert (linked.outcome, linked.customer_id, linked.rule) == (
            LinkOutcome.LINKED,
            second,
            "operator",
        )
        detail = stack.erp.get_customer(second)
        assert detail is not None and detail.paytrace_customer_id == ambiguous
        nothing = await parked(stack, f"customer-link-{unknown}")
        assert nothing.reason_kind == "customer_unlinked"
        assert "no active customer has the profile's e-mail" in nothing.reason
        await resolve(
            stack,
            f"customer-link-{unknown}",
            ResolutionAction.MARK_HANDLED,
            note="a one-off donor, not an ERP customer",
        )
        assert (await _link_result(stack, unknown)).outcome is LinkOutcome.HANDLED
        assert stack.erp.find_customers(paytrace_customer_id=unknown) == []
        assert stack.store.dead_letters() == []


async def test_link_conflicts_wait_for_an_operator(dev_env, tmp_path, erp_url, erp_name):
    async with running_stack(dev_env.client, tmp_path, erp_url, erp_name=erp_name) as stack:
        queue = stack.settings.task_queue
        # the e-mail names a customer already linked to another profile
        holder, spare = new_id("H"), new_id("S")
        email = f"{holder.lower()}@held.example"
        erp_customer(stack, holder, email=email, paytrace_id=new_id("old-"))
        erp_customer(stack, spare)
        second_card = new_id("pn-")
        await vault_profile(stack, second_card, email=email)
        await start_customer_link(stack.client, queue, second_card, "customer_event")
        info = await parked(stack, f"customer-link-{second_card}")
        assert info.reason_kind == "customer_link_conflict"
        assert f"{holder} is already linked to PayTrace profile" in info.reason
        await resolve(
            stack, f"customer-link-{second_card}", ResolutionAction.LINK_TO, customer_id=spare
        )
        assert (await _link_result(stack, second_card)).customer_id == spare
        # the PayTrace id got linked to another customer while an operator decided
        loose, taken_by, wanted = new_id("pl-"), new_id("T"), new_id("W")
        erp_customer(stack, taken_by)
        erp_customer(stack, wanted)
        await vault_profile(stack, loose)
        await start_customer_link(stack.client, queue, loose, "customer_event")
        assert (await parked(stack, f"customer-link-{loose}")).reason_kind == "customer_unlinked"
        stack.erp.link_paytrace_customer(taken_by, loose)
        await resolve(stack, f"customer-link-{loose}", ResolutionAction.LINK_TO, customer_id=wanted)
        again = await _parked_as(stack, f"customer-link-{loose}", "customer_link_conflict")
        assert f"already linked to ERP customer {taken_by}" in again.reason
        await resolve(
            stack,
            f"customer-link-{loose}",
            ResolutionAction.MARK_HANDLED,
            note="kept on " + taken_by,
        )
        assert (await _link_result(stack, loose)).outcome is LinkOutcome.HANDLED
        kept = stack.erp.get_customer(wanted)
        assert kept is not None and kept.paytrace_customer_id == ""


async def test_the_card_reaches_the_erp_masked_and_an_expiring_card_raises_one_notice(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(dev_env.client, tmp_path, erp_url, erp_name=erp_name) as stack:
        pt_id, cust_id = new_id("E"), new_id("E")
        today = today_for(stack)
        await vault_profile(stack, pt_id, expires=today)  # good through the end of this month
        erp_customer(stack, cust_id, paytrace_id=pt_id)
        cursor = f"test-{uuid.uuid4().hex[:6]}"
        first_id, first = await run_sync(stack, cursor)
        second_id, second = await run_sync(stack, cursor)
        assert (first.notices, second.notices) == (1, 0)
        assert (first.cards_written, second.cards_written) == (1, 0)
        expiry = f"{today.month:02d}/{today.year}"
        detail = stack.erp.get_customer(cust_id)
        assert detail is not None and detail.card_on_file == f"x1111 {expiry}"
        notices = [
            a
            for a in stack.store.alerts(kind=AlertKind.NOTICE)
            if a.detail.get("customer_id") == cust_id
        ]
        assert len(notices) == 1
        (notice,) = notices
        assert notice.alert_key == f"card-expiry/{cust_id}/{today:%Y-%m}"
        assert f"x1111 {expiry}" in notice.message and notice.detail["topic"] == "card_expiring"
        for workflow_id in (first_id, second_id):
            history = await stack.client.get_workflow_handle(workflow_id).fetch_history()
            text = history_text(history.to_json())
            assert f"x1111 {expiry}" in text  # the payloads are read: the check below can fail
            assert VISA not in text and VISA[6:] not in text
        assert VISA not in _rows_text(stack.erp_engine)
        assert VISA not in _rows_text(stack.store.engine)
        assert f"x1111 {expiry}" in _rows_text(stack.erp_engine)
