from datetime import date
from decimal import Decimal as D

import pytest

from domain.matching import MatchInput, MatchOutcome, MatchPolicy, decide, normalize_invoice_number
from domain.models import ErpCustomer, OpenInvoice

ACME = ErpCustomer(customer_id="C0001", name="Acme")


def inv(number, balance, customer="C0001", due=None):
    return OpenInvoice(
        invoice_number=number,
        customer_id=customer,
        amount=D(balance),
        balance=D(balance),
        due_date=due,
    )


@pytest.mark.parametrize(
    ("raw", "prefixes", "expected"),
    [
        ("1001", (), "1001"),
        (" 0001001 ", (), "1001"),
        ("inv-1001", ("INV-",), "1001"),
        ("INV 1001", ("INV",), "1001"),
        ("INV-0001001", ("INV", "INV-"), "1001"),  # longest prefix wins
        ("inv1001", (), "INV1001"),
        ("0000", (), "0"),
        ("", (), ""),
    ],
)
def test_normalize_invoice_number(raw, prefixes, expected):
    assert normalize_invoice_number(raw, prefixes) == expected


def test_rule1_invoice_number_pays_in_full():
    d = decide(
        MatchInput(amount=D("125.00"), invoice_id="1001", invoice_by_number=inv("1001", "125.00")),
        MatchPolicy(),
    )
    assert d.outcome is MatchOutcome.APPLY
    assert d.rule == "invoice_number"
    assert d.customer_id == "C0001"
    assert [(a.invoice_number, a.amount, a.write_off) for a in d.applications] == [
        ("1001", D("125.00"), D("0.00"))
    ]
    assert d.on_account == 0


def test_rule1_partial_payment_leaves_invoice_open():
    d = decide(
        MatchInput(amount=D("100.00"), invoice_id="1001", invoice_by_number=inv("1001", "125.00")),
        MatchPolicy(),
    )
    assert d.outcome is MatchOutcome.APPLY
    assert d.applied == D("100.00") and d.written_off == 0
    assert "25.00 stays open" in d.reason


def test_rule1_short_pay_within_tolerance_is_written_off():
    d = decide(
        MatchInput(amount=D("124.99"), invoice_id="1001", invoice_by_number=inv("1001", "125.00")),
        MatchPolicy(tolerance=D("0.01")),
    )
    assert d.applications[0].write_off == D("0.01")
    assert d.applied + d.written_off == D("125.00")


def test_rule1_over_pay_goes_on_account():
    d = decide(
        MatchInput(amount=D("130.00"), invoice_id="1001", invoice_by_number=inv("1001", "125.00")),
        MatchPolicy(),
    )
    assert d.applied == D("125.00") and d.on_account == D("5.00")


def test_unknown_invoice_needs_attention_never_guesses():
    d = decide(
        MatchInput(
            amount=D("125.00"),
            invoice_id="9999",
            customer=ACME,
            open_invoices=(inv("1001", "125.00"),),
        ),
        MatchPolicy(),
    )
    assert d.outcome is MatchOutcome.NEEDS_ATTENTION
    assert "9999" in d.reason and "not found" in d.reason
    assert [c.invoice_number for c in d.candidates] == ["1001"]


def test_invoice_of_another_customer_needs_attention():
    d = decide(
        MatchInput(
            amount=D("40.00"),
            invoice_id="1004",
            customer=ACME,
            invoice_by_number=inv("1004", "40.00", customer="C0002"),
        ),
        MatchPolicy(),
    )
    assert d.outcome is MatchOutcome.NEEDS_ATTENTION
    assert "belongs to customer C0002" in d.reason


def test_already_paid_invoice_needs_attention():
    d = decide(
        MatchInput(amount=D("40.00"), invoice_id="1004", invoice_by_number=inv("1004", "0.00")),
        MatchPolicy(),
    )
    assert d.outcome is MatchOutcome.NEEDS_ATTENTION
    assert "already paid" in d.reason


def test_rule2_exact_balance_single_invoice():
    d = decide(
        MatchInput(
            amount=D("80.50"),
            customer=ACME,
            open_invoices=(inv("1001", "125.00"), inv("1002", "80.50")),
        ),
        MatchPolicy(),
    )
    assert d.rule == "exact_balance"
    assert d.applications[0].invoice_number == "1002"


def test_two_invoices_with_the_same_balance_are_ambiguous():
    d = decide(
        MatchInput(
            amount=D("50.00"), customer=ACME, open_invoices=(inv("1", "50.00"), inv("2", "50.00"))
        ),
        MatchPolicy(),
    )
    assert d.outcome is MatchOutcome.NEEDS_ATTENTION
    assert d.rule == "ambiguous"
    assert len(d.candidates) == 2


def test_rule3_oldest_due_first_with_remainder_on_account():
    invoices = (
        inv("3", "30.00", due=date(2026, 3, 1)),
        inv("1", "50.00", due=date(2026, 1, 1)),
        inv("2", "40.00", due=date(2026, 2, 1)),
    )
    d = decide(
        MatchInput(amount=D("130.00"), customer=ACME, open_invoices=invoices),
        MatchPolicy(allocate_oldest_first=True),
    )
    assert d.rule == "oldest_first"
    assert [(a.invoice_number, a.amount) for a in d.applications] == [
        ("1", D("50.00")),
        ("2", D("40.00")),
        ("3", D("30.00")),
    ]
    assert d.on_account == D("10.00")


def test_rule4_short_pay_without_invoice_number():
    d = decide(
        MatchInput(
            amount=D("79.99"),
            customer=ACME,
            open_invoices=(inv("1002", "80.00"), inv("7", "500.00")),
        ),
        MatchPolicy(tolerance=D("0.05")),
    )
    assert d.rule == "short_pay"
    assert d.applications[0].write_off == D("0.01")


def test_rule5_over_pay_of_the_only_invoice():
    d = decide(
        MatchInput(amount=D("90.00"), customer=ACME, open_invoices=(inv("1002", "80.00"),)),
        MatchPolicy(),
    )
    assert d.rule == "over_pay"
    assert d.on_account == D("10.00")


def test_unknown_customer_without_invoice_needs_attention():
    d = decide(MatchInput(amount=D("10.00")), MatchPolicy())
    assert d.outcome is MatchOutcome.NEEDS_ATTENTION
    assert d.rule == "customer"


def test_inactive_customer_needs_attention():
    inactive = ErpCustomer(customer_id="C9", name="Gone", active=False)
    d = decide(
        MatchInput(amount=D("10.00"), customer=inactive, open_invoices=(inv("1", "10.00", "C9"),)),
        MatchPolicy(),
    )
    assert d.outcome is MatchOutcome.NEEDS_ATTENTION


@pytest.mark.parametrize("amount", ["0.00", "-5.00"])
def test_non_positive_amount_needs_attention(amount):
    d = decide(
        MatchInput(amount=D(amount), invoice_id="1001", invoice_by_number=inv("1001", "1")),
        MatchPolicy(),
    )
    assert d.rule == "invalid_amount"


def test_same_input_same_decision():
    m = MatchInput(amount=D("80.50"), customer=ACME, open_invoices=(inv("1002", "80.50"),))
    assert decide(m, MatchPolicy()) == decide(m, MatchPolicy())
