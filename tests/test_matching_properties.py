"""Properties of the matching engine over generated payments and open invoices (hypothesis).

For every decision that applies money: applied + on account is exactly the payment (a short-pay
write-off is not money received: it only closes the rest of the invoice), no invoice is paid or
written off below zero, write-offs stay within the tolerance, and the same input — in any order
of open invoices — always yields the same decision. A decision for a person applies nothing.
"""

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.matching import MatchDecision, MatchInput, MatchOutcome, MatchPolicy, decide
from domain.models import ErpCustomer, OpenInvoice

CUSTOMER = ErpCustomer(customer_id="C0001", name="Acme")
cents = st.integers(min_value=1, max_value=500_000).map(lambda c: Decimal(c).scaleb(-2))
tolerances = st.sampled_from([Decimal("0.00"), Decimal("0.01"), Decimal("0.05"), Decimal("1.00")])


@st.composite
def invoices(draw):
    count = draw(st.integers(min_value=0, max_value=8))
    numbers = draw(
        st.lists(
            st.integers(min_value=1000, max_value=9999), min_size=count, max_size=count, unique=True
        )
    )
    found = []
    for number in numbers:
        balance = draw(cents)
        due = date(2026, 1, 1) + timedelta(days=draw(st.integers(min_value=0, max_value=400)))
        found.append(
            OpenInvoice(
                invoice_number=str(number),
                customer_id="C0001",
                amount=balance + draw(st.sampled_from([Decimal("0.00"), Decimal("10.00")])),
                balance=balance,
                invoice_date=due - timedelta(days=30),
                due_date=due,
            )
        )
    return tuple(found)


@st.composite
def cases(draw):
    open_invoices = draw(invoices())
    amount = draw(
        st.one_of(
            cents,
            # amounts near a balance make exact, short-pay and over-pay paths likely
            st.sampled_from(open_invoices or (None,)).flatmap(
                lambda inv: (
                    st.just(Decimal("10.00"))
                    if inv is None
                    else st.sampled_from(
                        [inv.balance, inv.balance - Decimal("0.01"), inv.balance + Decimal("5.00")]
                    ).filter(lambda a: a > 0)
                )
            ),
        )
    )
    named = draw(st.sampled_from(open_invoices or (None,))) if draw(st.booleans()) else None
    match = MatchInput(
        amount=amount,
        invoice_id=named.invoice_number if named else "",
        customer=CUSTOMER if draw(st.booleans()) or not named else None,
        invoice_by_number=named,
        open_invoices=open_invoices,
    )
    policy = MatchPolicy(tolerance=draw(tolerances), allocate_oldest_first=draw(st.booleans()))
    return match, policy


def essence(decision: MatchDecision):
    return (
        decision.outcome,
        decision.rule,
        decision.customer_id,
        tuple((a.invoice_number, a.amount, a.write_off) for a in decision.applications),
        decision.on_account,
    )


def assert_accounted(match: MatchInput, policy: MatchPolicy, decision: MatchDecision) -> None:
    """The invariants every decision must keep."""
    if decision.outcome is MatchOutcome.NEEDS_ATTENTION:
        assert decision.applications == () and decision.on_account == 0
        assert decision.reason
        return
    assert decision.applied + decision.on_account == match.amount
    assert decision.on_account >= 0
    balances = {i.invoice_number: i.balance for i in match.open_invoices}
    if match.invoice_by_number is not None:
        balances[match.invoice_by_number.invoice_number] = match.invoice_by_number.balance
    numbers = [a.invoice_number for a in decision.applications]
    assert len(numbers) == len(set(numbers)), "an invoice is applied twice"
    for application in decision.applications:
        assert application.amount > 0
        assert 0 <= application.write_off <= policy.tolerance
        assert application.amount + application.write_off <= balances[application.invoice_number]
    assert decision.reason and decision.rule


@settings(max_examples=400, deadline=None)
@given(cases())
def test_every_payment_is_accounted_for_and_no_invoice_goes_below_zero(case):
    match, policy = case
    assert_accounted(match, policy, decide(match, policy))


@settings(max_examples=300, deadline=None)
@given(cases(), st.randoms(use_true_random=False))
def test_the_same_input_always_yields_the_same_decision(case, rnd):
    match, policy = case
    first = decide(match, policy)
    assert essence(decide(match, policy)) == essence(first)
    shuffled = list(match.open_invoices)
    rnd.shuffle(shuffled)
    reordered = match.model_copy(update={"open_invoices": tuple(shuffled)})
    assert essence(decide(reordered, policy)) == essence(first)


def test_the_invariants_catch_a_lost_cent_and_an_overpaid_invoice():
    """The check the property runs fails on decisions that break the books."""
    import pytest

    from domain.models import Application

    invoice = OpenInvoice(
        invoice_number="1001", customer_id="C0001", amount=Decimal("50"), balance=Decimal("50")
    )
    match = MatchInput(amount=Decimal("60.00"), customer=CUSTOMER, open_invoices=(invoice,))
    lost_cent = MatchDecision(
        outcome=MatchOutcome.APPLY,
        rule="over_pay",
        reason="x",
        applications=(Application(invoice_number="1001", amount=Decimal("50.00")),),
        on_account=Decimal("9.99"),
    )
    overpaid = lost_cent.model_copy(
        update={
            "applications": (Application(invoice_number="1001", amount=Decimal("60.00")),),
            "on_account": Decimal("0.00"),
        }
    )
    for broken in (lost_cent, overpaid):
        with pytest.raises(AssertionError):
            assert_accounted(match, MatchPolicy(), broken)
    assert_accounted(match, MatchPolicy(), decide(match, MatchPolicy()))
