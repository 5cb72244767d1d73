"""CustomerProfileSync: customer profiles kept in step between the ERP and the PayTrace vault.

Field ownership decides every difference: the ERP owns name, e-mail, phone, billing address and
terms; PayTrace owns the payment method. A Schedule runs it (``customer-sync``), in two phases:

1. ERP → PayTrace: page through the ERP's customers changed since the stored cursor; each one
   linked to a vault profile gets the ERP's values of the fields PayTrace holds differently
   (never a payment-method field). Each difference is a conflict the ERP wins: it is logged
   (audit ``profile_conflict`` and a decision, e-mail and phone masked). The cursor is saved
   after each page, so a failed run resumes where it stopped.
2. PayTrace → ERP: page through the vault. A linked profile's card on file goes to the ERP as
   ``x1111 12/2028`` (masked last four and expiry, nothing more) when it changed; a card
   expiring within ``customers.card_expiry_notice_days`` (or expired) raises one notice to
   finance per customer and expiry; ERP-owned fields edited in PayTrace are put back (a
   conflict again). An unlinked profile starts its ``CustomerLink`` (``customer-link-<id>``).

A run that has handled ``pages_per_run`` pages continues as new, carrying where it got to.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import names
    from domain.activity_io import AuditEvent
    from domain.customer_io import (
        CardWrite,
        CardWrites,
        CardWritesResult,
        ChangesRequest,
        CustomerSyncInput,
        CustomerSyncResult,
        FieldConflict,
        ProfilePlan,
        ProfilePushRequest,
        ProfilePushResult,
        PushOutcome,
        SyncCursorUpdate,
        VaultPage,
        VaultPageRequest,
        VaultPlanRequest,
        VaultPlans,
    )
    from domain.erp_documents import CustomerChanges, CustomerDetail
    from domain.start_io import (
        StartKind,
        StartWorkflowsRequest,
        StartWorkflowsResult,
        WorkflowStart,
    )
    from domain.store_io import AlertKind, AlertRequest, DecisionRecord
    from workflows import options

PUSH_OPTIONS: dict[str, Any] = {
    **options.PAYTRACE,
    "start_to_close_timeout": timedelta(minutes=10),
    "heartbeat_timeout": timedelta(seconds=60),
}
"""A page of pushes reads (and maybe updates) each profile: heartbeats per customer."""
MAX_NOTES = 20


@workflow.defn(name="CustomerProfileSync")
class CustomerProfileSync:
    """Push ERP customer changes to PayTrace; bring the vault's cards and links to the ERP."""

    def __init__(self) -> None:
        self._totals = CustomerSyncResult()
        self._seq = 0

    @workflow.query
    def progress(self) -> CustomerSyncResult:
        """What the run (with its continued predecessors) has done so far."""
        return self._totals

    @workflow.run
    async def run(self, request: CustomerSyncInput) -> CustomerSyncResult:
        """Run both phases, continuing as new every ``pages_per_run`` pages."""
        self._totals = request.totals or CustomerSyncResult()
        pages = 0
        after = request.vault_after
        if request.phase == "erp":
            cursor = request.erp_cursor
            if cursor is None:
                cursor = await workflow.execute_activity(
                    names.GET_SYNC_CURSOR, request.cursor_name, result_type=str, **options.STORE
                )
            while True:
                changes: CustomerChanges = await workflow.execute_activity(
                    names.CUSTOMERS_CHANGED,
                    ChangesRequest(cursor=cursor, limit=request.page_size),
                    result_type=CustomerChanges,
                    **_erp(),
                )
                await self._push_changes(changes.customers)
                moved = changes.cursor != cursor
                cursor = changes.cursor
                if moved:
                    await workflow.execute_activity(
                        names.SAVE_SYNC_CURSOR,
                        SyncCursorUpdate(name=request.cursor_name, cursor=cursor),
                        **options.STORE,
                    )
                pages += 1
                if not changes.more or not moved:
                    break
                if _time_to_continue(pages, request):
                    workflow.continue_as_new(
                        request.model_copy(update={"erp_cursor": cursor, "totals": self._totals})
                    )
            after = ""
        while True:
            page: VaultPage = await workflow.execute_activity(
                names.VAULT_PROFILES,
                VaultPageRequest(after=after, limit=request.page_size),
                result_type=VaultPage,
                **options.PAYTRACE,
            )
            if page.profiles:
                await self._vault_page(page)
                after = page.profiles[-1].paytrace_customer_id
            pages += 1
            if not page.more or not page.profiles:
                break
            if _time_to_continue(pages, request):
                workflow.continue_as_new(
                    request.model_copy(
                        update={
                            "phase": "paytrace",
                            "erp_cursor": None,
                            "vault_after": after,
                            "totals": self._totals,
                        }
                    )
                )
        await self._audit("finished", self._totals.model_dump(mode="json"))
        return self._totals

    # -- ERP → PayTrace ---------------------------------------------------------------------

    async def _push_changes(self, customers: tuple[CustomerDetail, ...]) -> None:
        linked = tuple(c for c in customers if c.paytrace_customer_id.strip())
        self._add(changed=len(customers))
        if linked:
            await self._push(linked, "erp_change")

    async def _push(self, customers: tuple[CustomerDetail, ...], trigger: str) -> None:
        result: ProfilePushResult = await workflow.execute_activity(
            names.PUSH_CUSTOMER_PROFILES,
            ProfilePushRequest(customers=customers),
            result_type=ProfilePushResult,
            **PUSH_OPTIONS,
        )
        for push in result.pushes:
            if push.outcome is PushOutcome.MISSING:
                self._add(missing_profiles=1)
                self._note(
                    f"ERP customer {push.customer_id} is linked to PayTrace profile"
                    f" {push.paytrace_customer_id}, which the vault does not have"
                )
            elif push.outcome is PushOutcome.UPDATED:
                self._add(pushed=1)
                await self._conflict(
                    push.customer_id, push.paytrace_customer_id, push.conflicts, trigger
                )

    async def _conflict(
        self,
        customer_id: str,
        paytrace_customer_id: str,
        conflicts: tuple[FieldConflict, ...],
        trigger: str,
    ) -> None:
        """Log the fields PayTrace held differently: the ownership rule gave the ERP's values."""
        self._add(conflicts=len(conflicts))
        fields = ", ".join(c.field for c in conflicts)
        reason = f"the ERP owns {fields}: ERP wins, its values were pushed to PayTrace"
        await self._audit(
            "profile_conflict",
            {
                "customer_id": customer_id,
                "paytrace_customer_id": paytrace_customer_id,
                "trigger": trigger,
                "rule": "erp_owns",
                "winner": "erp",
                "fields": [c.model_dump(mode="json") for c in conflicts],
            },
        )
        await self._decision("profile_conflict", "erp_owns", reason, customer_id)

    # -- PayTrace → ERP ---------------------------------------------------------------------

    async def _vault_page(self, page: VaultPage) -> None:
        plans: VaultPlans = await workflow.execute_activity(
            names.PLAN_VAULT_PROFILES,
            VaultPlanRequest(profiles=page.profiles, at=workflow.now()),
            result_type=VaultPlans,
            **_erp(),
        )
        self._add(profiles=len(plans.plans))
        for plan in plans.plans:
            if len(plan.holders) > 1:
                self._note(
                    f"PayTrace profile {plan.paytrace_customer_id} is linked to several ERP"
                    f" customers ({', '.join(plan.holders)}); nothing was written"
                )
        await self._write_cards(plans.plans)
        drifted = tuple(p.customer for p in plans.plans if p.customer is not None)
        if drifted:
            await self._push(drifted, "paytrace_edit")
        for plan in plans.plans:
            if plan.notice is not None:
                await self._notice(plan)
        await self._start_links(tuple(p.paytrace_customer_id for p in plans.plans if not p.holders))

    async def _write_cards(self, plans: tuple[ProfilePlan, ...]) -> None:
        writes = tuple(
            CardWrite(customer_id=p.customer_id, text=p.card_on_file)
            for p in plans
            if p.customer_id and p.card_on_file
        )
        if not writes:
            return
        result: CardWritesResult = await workflow.execute_activity(
            names.WRITE_CARDS_ON_FILE,
            CardWrites(writes=writes),
            result_type=CardWritesResult,
            **_erp(),
        )
        self._add(cards_written=result.written)
        for refusal in result.refused:
            self._note(f"card on file refused by the ERP: {refusal}")
        await self._audit(
            "cards_on_file",
            {
                "cards": {w.customer_id: w.text for w in writes},
                "refused": list(result.refused),
                "owner": "paytrace",
            },
        )

    async def _notice(self, plan: ProfilePlan) -> None:
        notice = plan.notice
        assert notice is not None
        raised: bool = await workflow.execute_activity(
            names.RAISE_ALERT,
            AlertRequest(
                alert_key=notice.alert_key,
                kind=AlertKind.NOTICE,
                severity="critical" if notice.expired else "warning",
                subject=notice.subject,
                message=notice.message,
                workflow_id=workflow.info().workflow_id,
                detail={
                    "topic": "card_expiring",
                    "customer_id": plan.customer_id,
                    "paytrace_customer_id": plan.paytrace_customer_id,
                    "expires_on": notice.expires_on.isoformat(),
                    "expired": notice.expired,
                },
                at=workflow.now(),
            ),
            result_type=bool,
            **options.STORE,
        )
        if raised:
            self._add(notices=1)

    async def _start_links(self, paytrace_ids: tuple[str, ...]) -> None:
        if not paytrace_ids:
            return
        result: StartWorkflowsResult = await workflow.execute_activity(
            names.START_WORKFLOWS,
            StartWorkflowsRequest(
                starts=tuple(
                    WorkflowStart(
                        kind=StartKind.CUSTOMER_LINK,
                        paytrace_customer_id=pt_id,
                        source="customer_sync",
                    )
                    for pt_id in paytrace_ids
                )
            ),
            result_type=StartWorkflowsResult,
            **options.STARTER,
        )
        self._add(links_started=result.started, links_existing=result.already)

    # -- records ----------------------------------------------------------------------------

    def _add(self, **counts: int) -> None:
        self._totals = self._totals.model_copy(
            update={k: getattr(self._totals, k) + v for k, v in counts.items()}
        )

    def _note(self, note: str) -> None:
        if len(self._totals.notes) < MAX_NOTES:
            self._totals = self._totals.model_copy(update={"notes": (*self._totals.notes, note)})

    def _key(self) -> str:
        info = workflow.info()
        self._seq += 1
        return f"{info.workflow_id}/{info.run_id}/{self._seq}"

    async def _audit(self, event: str, detail: dict[str, Any]) -> None:
        await workflow.execute_activity(
            names.RECORD_AUDIT,
            AuditEvent(
                event_key=self._key(),
                workflow_id=workflow.info().workflow_id,
                event=event,
                detail=detail,
                at=workflow.now(),
            ),
            result_type=bool,
            **options.STORE,
        )

    async def _decision(self, outcome: str, rule: str, reason: str, customer_id: str) -> None:
        await workflow.execute_activity(
            names.RECORD_CUSTOMER_DECISION,
            DecisionRecord(
                decision_key=self._key(),
                workflow_id=workflow.info().workflow_id,
                outcome=outcome,
                rule=rule,
                reason=reason,
                customer_id=customer_id,
                at=workflow.now(),
            ),
            result_type=bool,
            **options.STORE,
        )


def _erp() -> dict[str, Any]:
    return {**options.ERP, "task_queue": options.erp_queue(workflow.info().task_queue)}


def _time_to_continue(pages: int, request: CustomerSyncInput) -> bool:
    """Continue as new after ``pages_per_run`` pages, or when Temporal suggests it."""
    return pages >= request.pages_per_run or workflow.info().is_continue_as_new_suggested()
