"""Recorded histories of every workflow replay with the current workflow code.

A failure here means a change would break workflows already running in production: use
``workflow.patched`` (docs/operations.md) instead of re-recording.
"""

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from workflows.registry import ALL_WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_histories_are_committed():
    names = {p.stem for p in HISTORIES}
    older = {
        "payment_posting_posted",
        "payment_posting_parked_then_applied",
        "payment_posting_declined",
    }
    # recorded by the sweep of payments only, before every transaction type (SWEEP_PATCH)
    assert "transaction_sweep_payments_v1" in names
    # _v1: recorded before strict approval (declined/status_code); the others before the
    # needs-attention alerts (ALERTS_PATCH): they must keep replaying
    assert older | {f"{n}_v1" for n in older} <= names
    assert {
        "payment_posting_parked_alerted",
        "payment_posting_ach",
        "payment_posting_voided_while_parked",
        "refund_to_credit_memo_posted",
        "refund_to_credit_memo_erp_initiated",
        "credit_memo_refund_refunded",
        "void_reversal_reversed",
        "void_reversal_while_parked",
        "void_reversal_ach_return",
        "settlement_sync_deposited",
        "settlement_sync_read_back",
        "settlement_sweep",
        "transaction_sweep_window",
        "transaction_sweep_lookback",
        "erp_refund_sweep",
        "chargeback_flipped",
        "autopay_sweep",
        "autopay_charge_charged",
        "autopay_charge_dunning",
        "customer_profile_sync",
        "customer_link_exact_id",
        "customer_link_resolved",
        "order_sync_new_customer",
        "order_sync_customer_kept",
        "order_sync_amount_mismatch",
        "payment_posting_order_synced",
        "alert_delivery",
    } <= names


def test_every_workflow_has_a_recorded_history():
    recorded = set()
    for path in HISTORIES:
        events = json.loads(path.read_text())["events"]
        started = events[0]["workflowExecutionStartedEventAttributes"]
        recorded.add(started["workflowType"]["name"])
    from temporalio.workflow import _Definition

    defined = {_Definition.must_from_class(w).name for w in ALL_WORKFLOWS}
    assert defined <= recorded


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays(path):
    history = WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))
    replayer = Replayer(workflows=ALL_WORKFLOWS, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


async def test_a_changed_workflow_is_caught(monkeypatch):
    """The replay test can fail: reorder an activity and replay must report nondeterminism."""
    from workflows import payment_posting

    original = payment_posting.PaymentPosting._audit

    async def no_audit(self, event, detail):  # skips the first activity the history expects
        if event == "received":
            return None
        return await original(self, event, detail)

    monkeypatch.setattr(payment_posting.PaymentPosting, "_audit", no_audit)
    path = next(p for p in HISTORIES if p.stem == "payment_posting_posted")
    history = WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))
    # unsandboxed, so the patched method is the one that runs
    replayer = Replayer(
        workflows=ALL_WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None


async def test_the_alerts_patch_is_what_keeps_older_parked_payments_replaying(monkeypatch):
    """Without ``workflow.patched(ALERTS_PATCH)`` the new park (alert + SLA) would meet a history
    recorded before it and break every payment that was waiting when the change deployed."""
    from temporalio import workflow

    path = next(p for p in HISTORIES if p.stem == "payment_posting_parked_then_applied")
    history = WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))
    replayer = Replayer(
        workflows=ALL_WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    assert (
        await replayer.replay_workflow(history, raise_on_replay_failure=False)
    ).replay_failure is None
    monkeypatch.setattr(workflow, "patched", lambda _id: True)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None


async def test_the_sweep_patch_is_what_keeps_older_sweeps_replaying(monkeypatch):
    """A sweep that runs while tracepost is upgraded replays through its old branch."""
    from temporalio import workflow

    path = next(p for p in HISTORIES if p.stem == "transaction_sweep_payments_v1")
    history = WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))
    replayer = Replayer(
        workflows=ALL_WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    ok = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert ok.replay_failure is None
    monkeypatch.setattr(workflow, "patched", lambda _id: True)
    broken = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert broken.replay_failure is not None
