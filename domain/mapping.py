"""The deployment's mapping: how PayTrace's transactions become ERP documents, validated.

One mapping file per deployment (TOML, see docs/mapping.md) says which GL accounts receive what,
which document each PayTrace transaction type becomes, how PayTrace response codes are read, how
PayTrace's customer and invoice references are harmonized with the ERP's ids, the matching
tolerance, what happens to documents dated in a closed period, how settlements are deposited and
whether ERP credit memos can ask for card refunds. This module is the pure model; loading the
file and checking it against the ERP live in ``workers``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.autopay_io import AutopayPolicy
from domain.chargeback_io import ChargebackPolicy, LostPolicy
from domain.customer_io import LinkRule
from domain.matching import MatchPolicy
from domain.money import CENT, ZERO
from domain.order_io import OrderPolicy


class _Strict(BaseModel):
    """Frozen, and every unknown key is an error: a typo must not be silently ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class DocumentAction(StrEnum):
    """What tracepost does with a PayTrace transaction of a type."""

    RECEIPT = "receipt"
    CREDIT_MEMO = "credit_memo"
    REVERSAL = "reversal"
    IGNORE = "ignore"


class ClosedPeriodPolicy(StrEnum):
    """What happens to a document whose date falls in a closed ERP period."""

    PARK = "park"
    CURRENT = "current"


class FeeMode(StrEnum):
    """How the processor takes its fees from a settlement."""

    NONE = "none"
    DAILY = "daily"


class AccountsMap(_Strict):
    """GL accounts by purpose, as the ERP shows them; blank keeps the adapter's default.

    Dynamics SL accounts may carry a subaccount as ``Acct/Sub``; ``sub`` is SL's default
    subaccount.
    """

    bank: str = ""
    undeposited: str = ""
    ar: str = ""
    card_fees: str = ""
    chargeback_fees: str = ""
    write_off: str = ""
    refunds: str = ""
    sub: str = ""

    def by_purpose(self) -> dict[str, str]:
        """The non-blank accounts by purpose, as the ERP connectors take them."""
        return {k: v for k, v in self.model_dump().items() if v}

    def named(self) -> dict[str, str]:
        """The non-blank GL accounts (``sub`` is a subaccount, not an account)."""
        return {k: v for k, v in self.by_purpose().items() if k != "sub"}


class ReceiptsMap(_Strict):
    """The cash account receipts are deposited to, by payment method (blank: the default).

    Card receipts default to ``accounts.undeposited`` (card clearing, what deposits clear), then
    to the adapter's own default; ACH receipts default to the card receipts' account.
    """

    card_cash_account: str = ""
    ach_cash_account: str = ""


class DocumentsMap(_Strict):
    """Which document each PayTrace transaction type becomes (``ignore``: nothing)."""

    sale: DocumentAction = DocumentAction.RECEIPT
    capture: DocumentAction = DocumentAction.RECEIPT
    forcesale: DocumentAction = DocumentAction.RECEIPT
    authorization: DocumentAction = DocumentAction.RECEIPT
    refund: DocumentAction = DocumentAction.CREDIT_MEMO
    void: DocumentAction = DocumentAction.REVERSAL
    ach_sale: DocumentAction = DocumentAction.RECEIPT
    ach_return: DocumentAction = DocumentAction.REVERSAL

    @model_validator(mode="after")
    def _allowed(self) -> Self:
        allowed = {
            "sale": DocumentAction.RECEIPT,
            "capture": DocumentAction.RECEIPT,
            "forcesale": DocumentAction.RECEIPT,
            "authorization": DocumentAction.RECEIPT,
            "ach_sale": DocumentAction.RECEIPT,
            "refund": DocumentAction.CREDIT_MEMO,
            "void": DocumentAction.REVERSAL,
            "ach_return": DocumentAction.REVERSAL,
        }
        for name, action in allowed.items():
            value = getattr(self, name)
            if value not in (action, DocumentAction.IGNORE):
                raise ValueError(f"documents.{name} must be {action.value!r} or 'ignore'")
        return self

    def action(self, transaction_type: str) -> DocumentAction:
        """The action of a PayTrace ``transaction_type`` (``SALE`` …); unknown types: ignore.

        Args:
            transaction_type: the export's type, any case.

        Returns:
            The configured action.
        """
        name = transaction_type.strip().lower()
        if name not in type(self).model_fields:
            return DocumentAction.IGNORE
        action: DocumentAction = getattr(self, name)
        return action


APPROVED_CODES = (101, 112)
DECLINED_CODES = (102, 103, 107, 110, 113, 125)


class StatusesMap(_Strict):
    """How PayTrace response codes read: money received, declined; anything else asks a person."""

    approved: tuple[int, ...] = APPROVED_CODES
    declined: tuple[int, ...] = DECLINED_CODES

    @model_validator(mode="after")
    def _disjoint(self) -> Self:
        if not self.approved:
            raise ValueError("statuses.approved must name at least one PayTrace response code")
        both = sorted(set(self.approved) & set(self.declined))
        if both:
            raise ValueError(f"statuses: codes {both} are both approved and declined")
        return self


_CUSTOMER_SOURCES = ("customer_reference_id", "customer_id", "email")


class CustomersMap(_Strict):
    """How PayTrace's customer references become ERP customer ids.

    ``id_sources`` are the PayTrace fields tried in order as the ERP customer id, after
    harmonization (trim, upper case, prefixes removed, zero padding). The PayTrace vault
    ``customer_id`` is always looked up through the ERP's link field as well.
    """

    paytrace_id_field: str = ""
    autopay_field: str = ""
    card_field: str = ""
    id_sources: tuple[str, ...] = ("customer_reference_id",)
    uppercase: bool = False
    strip_prefixes: tuple[str, ...] = ()
    zero_pad: int = Field(0, ge=0, le=30)
    link_rules: tuple[LinkRule, ...] = (LinkRule.EXACT_ID, LinkRule.EMAIL)
    card_expiry_notice_days: int = Field(30, ge=0, le=365)

    @field_validator("link_rules")
    @classmethod
    def _link_rules(cls, value: tuple[LinkRule, ...]) -> tuple[LinkRule, ...]:
        if len(set(value)) != len(value):
            raise ValueError('customers.link_rules: each rule once, e.g. ["exact_id", "email"]')
        return value

    @field_validator("id_sources")
    @classmethod
    def _sources(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [v for v in value if v not in _CUSTOMER_SOURCES]
        if unknown:
            raise ValueError(
                f"customers.id_sources: unknown {unknown}; use {', '.join(_CUSTOMER_SOURCES)}"
            )
        return value

    def harmonize(self, raw: str) -> str:
        """An ERP customer id from a PayTrace reference, by these rules.

        Args:
            raw: the PayTrace field's value.

        Returns:
            The harmonized id; blank when nothing usable is left.
        """
        value = raw.strip()
        if self.uppercase:
            value = value.upper()
        for prefix in sorted(self.strip_prefixes, key=len, reverse=True):
            if prefix and value.upper().startswith(prefix.upper()) and len(value) > len(prefix):
                value = value[len(prefix) :].strip()
                break
        if self.zero_pad and value.isdigit():
            value = value.zfill(self.zero_pad)
        return value


class InvoicesMap(_Strict):
    """Invoice number normalization (case, spaces and leading zeros are always ignored)."""

    prefixes: tuple[str, ...] = ()


class MatchingMap(_Strict):
    """How permissive matching may be."""

    tolerance: Decimal = ZERO
    allocate_oldest_first: bool = False

    @field_validator("tolerance")
    @classmethod
    def _tolerance(cls, value: Decimal) -> Decimal:
        if value < 0:
            raise ValueError("matching.tolerance must not be negative")
        if value != value.quantize(CENT):
            raise ValueError("matching.tolerance is in whole cents, e.g. 0.05")
        return value


class PeriodsMap(_Strict):
    """Documents dated in a closed ERP period: park for a person, or date them today."""

    closed: ClosedPeriodPolicy = ClosedPeriodPolicy.PARK


class SettlementMap(_Strict):
    """How a settled PayTrace batch becomes a bank deposit."""

    fees: FeeMode = FeeMode.NONE
    fee_percent: Decimal = ZERO
    fee_per_transaction: Decimal = ZERO
    wait_minutes: int = Field(60, ge=0, le=7 * 24 * 60)

    @model_validator(mode="after")
    def _fees(self) -> Self:
        if self.fee_percent < 0 or self.fee_percent >= 100:
            raise ValueError("settlement.fee_percent must be at least 0 and below 100")
        if self.fee_per_transaction < 0:
            raise ValueError("settlement.fee_per_transaction must not be negative")
        if self.fee_per_transaction != self.fee_per_transaction.quantize(CENT):
            raise ValueError("settlement.fee_per_transaction is in whole cents, e.g. 0.30")
        charged = self.fee_percent > 0 or self.fee_per_transaction > 0
        if self.fees is FeeMode.NONE and charged:
            raise ValueError("settlement: fee rates are set but fees = 'none'; use 'daily'")
        if self.fees is FeeMode.DAILY and not charged:
            raise ValueError("settlement: fees = 'daily' needs fee_percent or fee_per_transaction")
        return self


_MARKER = re.compile(r"^[A-Za-z0-9 #:\-]{3,20}$")


class RefundsMap(_Strict):
    """ERP credit memos that ask tracepost for a card refund in PayTrace."""

    from_erp: bool = False
    flag: str = "REFUND PT"
    lookback_days: int = Field(30, ge=1, le=365)

    @field_validator("flag")
    @classmethod
    def _flag(cls, value: str) -> str:
        value = value.strip()
        if not _MARKER.fullmatch(value):
            raise ValueError(
                "refunds.flag must be 3-20 letters, digits, spaces, '#', ':' or '-',"
                " e.g. 'REFUND PT'"
            )
        return value


class ChargebacksMap(_Strict):
    """Disputes: what opening, winning and losing a case does in the ERP."""

    credit_hold: bool = False
    reverse_fee_when_won: bool = True
    lost: LostPolicy = LostPolicy.LEAVE_OPEN
    default_fee: Decimal = ZERO
    flip_window_days: int = Field(90, ge=1, le=730)
    decision_wait_days: int = Field(120, ge=1, le=730)

    @field_validator("default_fee")
    @classmethod
    def _fee(cls, value: Decimal) -> Decimal:
        if value < 0 or value != value.quantize(CENT):
            raise ValueError(
                "chargebacks.default_fee is a non-negative amount in cents, e.g. 15.00"
            )
        return value


class AutopayMap(_Strict):
    """Autopay customers: charge due invoices by the stored card, with dunning on declines."""

    enabled: bool = False
    retry_days: tuple[int, ...] = (1, 3, 7)
    notify_customer: bool = False
    catch_up_days: int = Field(7, ge=0, le=60)

    @field_validator("retry_days")
    @classmethod
    def _retry_days(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(d < 1 or d > 60 for d in value) or list(value) != sorted(set(value)):
            raise ValueError(
                "autopay.retry_days are days after the first decline, ascending, 1 to 60,"
                " e.g. [1, 3, 7]"
            )
        return value


_CUSTOMER_PREFIX = re.compile(r"^[A-Z0-9]{1,4}$")
_REFERENCE_PREFIX = re.compile(r"^[A-Za-z0-9 #:\-]{1,20}$")


class OrdersMap(_Strict):
    """eCommerce orders (OrderSync): which payments are orders', and the customers it creates.

    ``reference_prefix`` marks the PayTrace ``invoice_id`` the store gives an order's payment
    (``WEB-`` for ``WEB-1001``): PaymentPosting leaves those to OrderSync, waiting up to
    ``wait_minutes`` for it. Blank: no payment is treated as an order's.
    """

    reference_prefix: str = ""
    wait_minutes: int = Field(60, ge=1, le=7 * 24 * 60)
    new_customer_prefix: str = "WEB"
    shipping_item: str = Field("", max_length=30)

    @field_validator("reference_prefix")
    @classmethod
    def _reference_prefix(cls, value: str) -> str:
        value = value.strip()
        if value and not _REFERENCE_PREFIX.fullmatch(value):
            raise ValueError(
                "orders.reference_prefix must be up to 20 letters, digits, spaces, '#', ':' or"
                " '-', e.g. 'WEB-'"
            )
        return value

    @field_validator("new_customer_prefix")
    @classmethod
    def _customer_prefix(cls, value: str) -> str:
        value = value.strip()
        if not _CUSTOMER_PREFIX.fullmatch(value):
            raise ValueError(
                "orders.new_customer_prefix must be 1 to 4 upper-case letters or digits, e.g. 'WEB'"
            )
        return value


class Mapping(_Strict):
    """A deployment's whole mapping."""

    erp: str
    company: str = ""
    accounts: AccountsMap = AccountsMap()
    receipts: ReceiptsMap = ReceiptsMap()
    documents: DocumentsMap = DocumentsMap()
    statuses: StatusesMap = StatusesMap()
    customers: CustomersMap = CustomersMap()
    invoices: InvoicesMap = InvoicesMap()
    matching: MatchingMap = MatchingMap()
    periods: PeriodsMap = PeriodsMap()
    settlement: SettlementMap = SettlementMap()
    refunds: RefundsMap = RefundsMap()
    chargebacks: ChargebacksMap = ChargebacksMap()
    autopay: AutopayMap = AutopayMap()
    orders: OrdersMap = OrdersMap()

    @property
    def match_policy(self) -> MatchPolicy:
        """The matching engine's policy this mapping describes."""
        return MatchPolicy(
            tolerance=self.matching.tolerance,
            allocate_oldest_first=self.matching.allocate_oldest_first,
            invoice_prefixes=self.invoices.prefixes,
            closed_periods=self.periods.closed.value,
        )

    @property
    def autopay_policy(self) -> AutopayPolicy:
        """What autopay does, as the RecurringAutopay workflows read it."""
        return AutopayPolicy(
            enabled=self.autopay.enabled,
            retry_days=self.autopay.retry_days,
            notify_customer=self.autopay.notify_customer,
            catch_up_days=self.autopay.catch_up_days,
        )

    @property
    def chargeback_policy(self) -> ChargebackPolicy:
        """What a chargeback case does, as the Chargeback workflow reads it when it opens."""
        cb = self.chargebacks
        return ChargebackPolicy(
            credit_hold=cb.credit_hold,
            reverse_fee_when_won=cb.reverse_fee_when_won,
            lost=cb.lost,
            fee_account=self.accounts.chargeback_fees,
            bank_account=self.accounts.bank,
            flip_window_days=cb.flip_window_days,
            decision_wait_days=cb.decision_wait_days,
        )

    @property
    def order_policy(self) -> OrderPolicy:
        """What OrderSync and PaymentPosting read of ``[orders]`` (and the closed periods)."""
        return OrderPolicy(
            reference_prefix=self.orders.reference_prefix,
            wait_minutes=self.orders.wait_minutes,
            new_customer_prefix=self.orders.new_customer_prefix,
            shipping_item=self.orders.shipping_item,
            closed_periods=self.periods.closed.value,
        )

    @property
    def card_cash_account(self) -> str:
        """The cash account card receipts go to (blank: the adapter's default)."""
        return self.receipts.card_cash_account or self.accounts.undeposited

    @property
    def ach_cash_account(self) -> str:
        """The cash account ACH receipts go to (blank: as card receipts)."""
        return self.receipts.ach_cash_account or self.card_cash_account
