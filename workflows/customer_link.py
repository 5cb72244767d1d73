"""CustomerLink: link a PayTrace vault profile to its ERP customer, or ask a person.

Started by CustomerProfileSync for an unlinked profile, and by a PayTrace ``customer.updated``
event, with the id ``customer-link-<PayTrace customer id>``. Re-read the profile → a customer
already holding the PayTrace id: nothing to link → else the mapping's ``customers.link_rules`` in
order (``exact_id``: the harmonized PayTrace id is an active customer's id; ``email``: exactly
one active customer has the profile's e-mail) → link (the PayTrace id into the ERP's link
field) and write the card on file (``x1111 12/2028``). No decisive rule parks
``customer_unlinked`` with the candidates; a PayTrace id held by another customer, or a customer
linked to another profile, parks ``customer_link_conflict``. The operator answers ``link_to``
with a ``customer_id``, ``retry``, or ``mark_handled``. Each decision is recorded with its rule.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import names
    from domain.activity_io import Resolution, ResolutionAction
    from domain.customer_io import (
        CardWrite,
        CardWrites,
        CardWritesResult,
        CustomerLinkInput,
        CustomerLinkResult,
        LinkAttempt,
        LinkCandidates,
        LinkCandidatesRequest,
        LinkChoice,
        LinkOutcome,
        LinkWrite,
        VaultProfile,
    )
    from domain.customer_sync import card_on_file_text, choose_link
    from domain.erp_documents import CustomerDetail
    from domain.search_attributes import ERP_CUSTOMER_ID
    from domain.store_io import DecisionRecord
    from workflows import options
    from workflows.attention import AttentionWorkflow, Handled

LINK_ACTIONS = (ResolutionAction.RETRY, ResolutionAction.LINK_TO, ResolutionAction.MARK_HANDLED)


@workflow.defn(name="CustomerLink")
class CustomerLink(AttentionWorkflow):
    """Link one PayTrace vault profile to one ERP customer, by rule or by an operator."""

    def __init__(self) -> None:
        super().__init__()
        self._result: CustomerLinkResult | None = None
        self._paytrace_id = ""
        self._decisions = 0

    @workflow.query
    def status(self) -> CustomerLinkResult | None:
        """The result once finished; None while it runs (see ``attention`` when it waits)."""
        return self._result

    @workflow.run
    async def run(self, request: CustomerLinkInput) -> CustomerLinkResult:
        """Link the profile; park for an operator when no rule decides or the ERP refuses."""
        self._paytrace_id = request.paytrace_customer_id
        self._subject = f"PayTrace customer {request.paytrace_customer_id}"
        self._set_stage("processing")
        await self._audit("received", {"source": request.source})
        try:
            result = await self._link()
        except Handled as handled:
            result = self._finish(LinkOutcome.HANDLED, reason=handled.note)
        await self._audit("finished", result.model_dump(mode="json"))
        return result

    async def _link(self) -> CustomerLinkResult:
        choice_id = ""
        while True:
            profile: VaultProfile | None = await self._call(
                names.VAULT_PROFILE, self._paytrace_id, VaultProfile | None, options.PAYTRACE
            )
            if profile is None:
                return self._finish(
                    LinkOutcome.NOT_FOUND,
                    reason=f"PayTrace has no vault profile {self._paytrace_id} (deleted?)",
                )
            found: LinkCandidates = await self._call_erp(
                names.LINK_CANDIDATES,
                LinkCandidatesRequest(profile=profile, customer_id=choice_id),
                LinkCandidates,
            )
            holders = tuple(h.customer_id for h in found.holders)
            chosen = found.chosen.customer_id if found.chosen is not None else ""
            if holders and (not choice_id or chosen in holders):
                return await self._already_linked(profile, found.holders)
            if holders:
                choice_id = await self._resolved(
                    "customer_link_conflict",
                    f"PayTrace profile {self._paytrace_id} is already linked to ERP customer"
                    f" {', '.join(holders)}, not {chosen or choice_id}; unlink it there and"
                    " retry, link_to another customer, or mark_handled",
                    {"holders": list(holders)},
                    choice_id,
                )
                continue
            choice = choose_link(found, choice_id)
            await self._decide(choice)
            if not choice.customer_id:
                choice_id = await self._resolved(
                    "customer_unlinked",
                    f"no ERP customer could be told for PayTrace profile {self._paytrace_id}"
                    f" ({_who(profile)}): {choice.reason}. link_to the customer, retry after"
                    " fixing the ERP, or mark_handled",
                    {"customers": list(choice.candidates), "rule": choice.rule},
                    "",
                )
                continue
            attempt: LinkAttempt = await self._call_erp(
                names.LINK_CUSTOMER,
                LinkWrite(customer_id=choice.customer_id, paytrace_customer_id=self._paytrace_id),
                LinkAttempt,
            )
            if attempt.linked is None:
                await self._audit(
                    "link_refused", {"customer_id": choice.customer_id, "reason": attempt.conflict}
                )
                choice_id = await self._resolved(
                    "customer_link_conflict",
                    f"{attempt.conflict}; fix it in the ERP and retry, link_to another"
                    " customer, or mark_handled",
                    {"customer_id": choice.customer_id},
                    choice_id,
                )
                continue
            linked = attempt.linked
            workflow.upsert_search_attributes([ERP_CUSTOMER_ID.value_set(linked.customer_id)])
            card = await self._write_card(profile, linked)
            await self._audit(
                "linked",
                {"customer_id": linked.customer_id, "rule": choice.rule, "card_on_file": card},
            )
            return self._finish(
                LinkOutcome.LINKED,
                customer_id=linked.customer_id,
                rule=choice.rule,
                reason=choice.reason,
                card_on_file=card,
            )

    async def _already_linked(
        self, profile: VaultProfile, holders: tuple[CustomerDetail, ...]
    ) -> CustomerLinkResult:
        """Someone holds the PayTrace id already: keep the link, bring its card up to date."""
        holder = holders[0]
        workflow.upsert_search_attributes([ERP_CUSTOMER_ID.value_set(holder.customer_id)])
        card = await self._write_card(profile, holder) if len(holders) == 1 else ""
        ids = ", ".join(h.customer_id for h in holders)
        return self._finish(
            LinkOutcome.ALREADY_LINKED,
            customer_id=holder.customer_id,
            rule="link_field",
            reason=f"ERP customer {ids} already holds this PayTrace id",
            card_on_file=card,
        )

    async def _resolved(self, kind: str, reason: str, detail: dict[str, Any], current: str) -> str:
        """Park; the customer to try next (``link_to``'s, or the current choice on retry)."""
        resolution: Resolution = await self._park(kind, reason, (), LINK_ACTIONS, detail)
        if resolution.action is ResolutionAction.LINK_TO:
            return resolution.customer_id.strip()
        return current

    async def _write_card(self, profile: VaultProfile, customer: CustomerDetail) -> str:
        """The card on file (masked last four and expiry) into the ERP when it changed."""
        text = card_on_file_text(
            profile.masked_number, profile.expiration_month, profile.expiration_year
        )
        if text and text != customer.card_on_file.strip():
            result: CardWritesResult = await self._call_erp(
                names.WRITE_CARDS_ON_FILE,
                CardWrites(writes=(CardWrite(customer_id=customer.customer_id, text=text),)),
                CardWritesResult,
            )
            if result.refused:
                await self._audit("card_on_file_refused", {"reason": result.refused[0]})
                return ""
        return text

    async def _decide(self, choice: LinkChoice) -> None:
        """Record the link decision with its rule and reason (audit and decision log)."""
        outcome = "customer_matched" if choice.customer_id else "customer_unmatched"
        await self._audit("link_decision", choice.model_dump(mode="json"))
        info = workflow.info()
        self._decisions += 1
        await self._call(
            names.RECORD_CUSTOMER_DECISION,
            DecisionRecord(
                decision_key=f"{info.workflow_id}/{info.run_id}/decision-{self._decisions}",
                workflow_id=info.workflow_id,
                outcome=outcome,
                rule=choice.rule,
                reason=choice.reason,
                customer_id=choice.customer_id,
                at=workflow.now(),
            ),
            bool,
            options.STORE,
        )

    def _finish(self, outcome: LinkOutcome, **fields: Any) -> CustomerLinkResult:
        self._result = CustomerLinkResult(
            paytrace_customer_id=self._paytrace_id, outcome=outcome, **fields
        )
        self._set_stage(outcome.value)
        return self._result


def _who(profile: VaultProfile) -> str:
    return ", ".join(v for v in (profile.name, profile.email) if v) or "no name or e-mail"
