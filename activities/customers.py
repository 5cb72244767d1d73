"""Activities of customer profile sync: the PayTrace vault, ERP customers, the sync's store rows.

PayTrace calls run on the main task queue, ERP calls on the ERP's rate-limited queue (sync, in
the thread pool). Of a vault card only the masked number and expiry are ever read.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from temporalio import activity

from activities import names
from activities.erp import erp_call
from activities.errors import to_application_error
from connectors.erp.errors import ErpBusinessError
from connectors.erp.protocol import ErpConnector
from connectors.paytrace.client import PaytraceClient
from connectors.paytrace.errors import PaytraceError
from connectors.paytrace.models import BillingAddress, CustomerRequest, ExportedCustomer
from connectors.store import Store
from domain.customer_io import (
    CardWrites,
    CardWritesResult,
    ChangesRequest,
    LinkAttempt,
    LinkCandidates,
    LinkCandidatesRequest,
    LinkWrite,
    ProfilePush,
    ProfilePushRequest,
    ProfilePushResult,
    PushOutcome,
    SyncCursorUpdate,
    VaultPage,
    VaultPageRequest,
    VaultPlanRequest,
    VaultPlans,
    VaultProfile,
)
from domain.customer_sync import plan_profile, profile_differences, pushed_fields
from domain.erp_documents import CustomerChanges, CustomerDetail, PostalAddress
from domain.mapping import Mapping
from domain.store_io import DecisionRecord


def vault_profile(record: ExportedCustomer) -> VaultProfile:
    """A PayTrace export record as a vault profile (masked number and expiry of the card only).

    Args:
        record: one ``customers[]`` record of ``customer/export``.

    Returns:
        The profile.
    """
    bill = record.billing_address or BillingAddress()
    card = record.credit_card
    year = _number(card.expiration_year if card else "")
    return VaultProfile(
        paytrace_customer_id=record.customer_id,
        name=bill.name,
        email=record.email,
        phone=record.phone,
        address=PostalAddress(
            line1=bill.street_address,
            line2=bill.street_address2,
            city=bill.city,
            state=bill.state,
            postal_code=bill.zip,
            country=bill.country,
        ),
        masked_number=card.masked_number if card else "",
        expiration_month=_number(card.expiration_month if card else ""),
        expiration_year=year + 2000 if 0 < year < 100 else year,
    )


def _number(text: str) -> int:
    digits = text.strip()
    return int(digits) if digits.isdigit() else 0


def update_request(
    customer: CustomerDetail, profile: VaultProfile, fields: dict[str, str]
) -> CustomerRequest:
    """The ``customer/update`` that gives PayTrace the ERP's values of ``fields``.

    The billing address goes whole (PayTrace's own values where the ERP's are not pushed), so
    nothing the ERP leaves blank is erased; no card field is ever sent.

    Args:
        customer: the ERP customer (the owner).
        profile: its vault profile as PayTrace holds it now.
        fields: the fields to push, with the ERP's values.

    Returns:
        The request.
    """
    current = {
        "name": profile.name,
        "line1": profile.address.line1,
        "line2": profile.address.line2,
        "city": profile.address.city,
        "state": profile.address.state,
        "postal_code": profile.address.postal_code,
        "country": profile.address.country,
    }
    address = None
    if set(fields) & set(current):
        merged = {k: fields.get(k, v) for k, v in current.items()}
        address = BillingAddress(
            name=merged["name"],
            street_address=merged["line1"],
            street_address2=merged["line2"],
            city=merged["city"],
            state=merged["state"],
            zip=merged["postal_code"],
            country=merged["country"],
        )
    return CustomerRequest(
        customer_id=customer.paytrace_customer_id,
        billing_address=address,
        email=fields.get("email"),
        phone=fields["phone"][:20] if "phone" in fields else None,
    )


class CustomerVaultActivities:
    """PayTrace vault reads and the push of ERP-owned fields, with the client injected.

    Args:
        paytrace: the PayTrace client.
    """

    def __init__(self, paytrace: PaytraceClient) -> None:
        self._paytrace = paytrace

    async def _export(self, customer_id: str = "") -> list[ExportedCustomer]:
        try:
            return await self._paytrace.export_customers(customer_id)
        except PaytraceError as exc:
            raise to_application_error(exc) from None

    @activity.defn(name=names.VAULT_PROFILES)
    async def vault_profiles(self, request: VaultPageRequest) -> VaultPage:
        """One page of vault profiles, ordered by PayTrace customer id, after ``request.after``.

        PayTrace's export has no paging: each page exports the vault and keeps its slice, so a
        workflow's history holds one page at a time.
        """
        records = sorted(await self._export(), key=lambda r: r.customer_id)
        after = [r for r in records if r.customer_id > request.after]
        page = after[: request.limit]
        return VaultPage(
            profiles=tuple(vault_profile(r) for r in page), more=len(after) > request.limit
        )

    @activity.defn(name=names.VAULT_PROFILE)
    async def vault_profile(self, paytrace_customer_id: str) -> VaultProfile | None:
        """One vault profile, or None when PayTrace has none with that id."""
        for record in await self._export(paytrace_customer_id):
            if record.customer_id == paytrace_customer_id:
                return vault_profile(record)
        return None

    @activity.defn(name=names.PUSH_CUSTOMER_PROFILES)
    async def push_customer_profiles(self, request: ProfilePushRequest) -> ProfilePushResult:
        """Give each linked profile the ERP's values of the fields it holds differently.

        Idempotent: each profile is read first, and only what differs is sent.

        Returns:
            Per customer: updated (with the fields PayTrace held differently), unchanged, or
            missing (the linked profile is not in the vault).
        """
        pushes = []
        for customer in request.customers:
            activity.heartbeat(customer.customer_id)
            pt_id = customer.paytrace_customer_id
            found = [r for r in await self._export(pt_id) if r.customer_id == pt_id]
            if not found:
                pushes.append(
                    ProfilePush(
                        customer_id=customer.customer_id,
                        paytrace_customer_id=pt_id,
                        outcome=PushOutcome.MISSING,
                    )
                )
                continue
            profile = vault_profile(found[0])
            conflicts = profile_differences(customer, profile)
            if conflicts:
                fields = pushed_fields(customer, conflicts)
                try:
                    await self._paytrace.update_customer(update_request(customer, profile, fields))
                except PaytraceError as exc:
                    raise to_application_error(exc) from None
            pushes.append(
                ProfilePush(
                    customer_id=customer.customer_id,
                    paytrace_customer_id=pt_id,
                    outcome=PushOutcome.UPDATED if conflicts else PushOutcome.UNCHANGED,
                    conflicts=conflicts,
                )
            )
        return ProfilePushResult(pushes=tuple(pushes))


class CustomerErpActivities:
    """ERP customer reads and writes of the sync, with the connector and mapping injected.

    Args:
        erp: the ERP connector.
        mapping: the deployment's mapping (its ``customers`` section).
        timezone: the merchant's time zone (what "today" is for a card's expiry).
    """

    def __init__(self, erp: ErpConnector, mapping: Mapping, timezone: str) -> None:
        self._erp = erp
        self._rules = mapping.customers
        self._tz = ZoneInfo(timezone)

    @activity.defn(name=names.CUSTOMERS_CHANGED)
    def customers_changed(self, request: ChangesRequest) -> CustomerChanges:
        """One page of customers whose ERP-owned fields changed after the cursor."""
        return erp_call(lambda: self._erp.customers_changed_since(request.cursor, request.limit))

    @activity.defn(name=names.PLAN_VAULT_PROFILES)
    def plan_vault_profiles(self, request: VaultPlanRequest) -> VaultPlans:
        """For each profile, the ERP customers holding its id and what the sync does about it."""
        today: date = request.at.astimezone(self._tz).date()
        days = self._rules.card_expiry_notice_days

        def load() -> VaultPlans:
            plans = []
            for profile in request.profiles:
                holders = self._erp.find_customers(
                    paytrace_customer_id=profile.paytrace_customer_id
                )
                plans.append(plan_profile(profile, holders, today, days))
            return VaultPlans(plans=tuple(plans))

        return erp_call(load)

    @activity.defn(name=names.WRITE_CARDS_ON_FILE)
    def write_cards_on_file(self, request: CardWrites) -> CardWritesResult:
        """Store each customer's card on file (``x1111 12/2028``).

        One refusal (a customer gone, text the ERP will not keep) does not stop the others:
        it is reported. Connection trouble fails the activity, which retries the whole batch
        (writing the same text again changes nothing).
        """

        def write() -> CardWritesResult:
            written = 0
            refused = []
            for item in request.writes:
                try:
                    self._erp.set_card_on_file(item.customer_id, item.text)
                    written += 1
                except ErpBusinessError as exc:
                    refused.append(f"{item.customer_id}: {exc}")
            return CardWritesResult(written=written, refused=tuple(refused))

        return erp_call(write)

    @activity.defn(name=names.LINK_CANDIDATES)
    def link_candidates(self, request: LinkCandidatesRequest) -> LinkCandidates:
        """The ERP customers a vault profile could belong to, and the mapping's link rules."""
        profile = request.profile
        harmonized = self._rules.harmonize(profile.paytrace_customer_id)

        def load() -> LinkCandidates:
            holders = self._erp.find_customers(paytrace_customer_id=profile.paytrace_customer_id)
            exact = self._erp.get_customer(harmonized) if harmonized else None
            by_email = (
                [c for c in self._erp.find_customers(email=profile.email) if c.active]
                if profile.email.strip()
                else []
            )
            chosen = (
                self._erp.get_customer(request.customer_id.strip())
                if request.customer_id.strip()
                else None
            )
            return LinkCandidates(
                rules=self._rules.link_rules,
                harmonized_id=harmonized,
                holders=tuple(holders),
                exact=exact,
                by_email=tuple(by_email),
                chosen=chosen,
            )

        return erp_call(load)

    @activity.defn(name=names.LINK_CUSTOMER)
    def link_customer(self, request: LinkWrite) -> LinkAttempt:
        """Store the PayTrace id in the customer's link field, or say why it must not be.

        A customer linked to another PayTrace profile is not relinked, and a PayTrace id held
        by another customer is refused by the ERP: both come back as ``conflict``.
        """
        pt_id = request.paytrace_customer_id.strip()

        def link() -> LinkAttempt:
            customer = self._erp.get_customer(request.customer_id)
            if customer is None:
                return LinkAttempt(conflict=f"ERP customer {request.customer_id} does not exist")
            held = customer.paytrace_customer_id.strip()
            if held and held != pt_id:
                return LinkAttempt(
                    conflict=f"ERP customer {customer.customer_id} is already linked to PayTrace"
                    f" profile {held}"
                )
            try:
                return LinkAttempt(
                    linked=self._erp.link_paytrace_customer(customer.customer_id, pt_id)
                )
            except ErpBusinessError as exc:
                return LinkAttempt(conflict=str(exc))

        return erp_call(link)


class CustomerStoreActivities:
    """The sync's store rows: its ERP cursor and its decisions, with the store injected.

    Args:
        store: tracepost's store.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    @activity.defn(name=names.GET_SYNC_CURSOR)
    def get_sync_cursor(self, name: str) -> str:
        """The named ERP cursor ("" before the first save: from the beginning)."""
        return self._store.sync_cursor(name)

    @activity.defn(name=names.SAVE_SYNC_CURSOR)
    def save_sync_cursor(self, update: SyncCursorUpdate) -> None:
        """Save the named ERP cursor."""
        self._store.save_sync_cursor(update.name, update.cursor)

    @activity.defn(name=names.RECORD_CUSTOMER_DECISION)
    def record_customer_decision(self, decision: DecisionRecord) -> bool:
        """Record a link or ownership decision with its rule and reason (once, by its key)."""
        return self._store.record_decision(decision)
