from decimal import Decimal

import pytest

from domain.money import MoneyError, format_amount, quantize, to_money


def test_to_money_reads_strings_and_ints_exactly():
    assert to_money("125.00") == Decimal("125.00")
    assert to_money(" 80.5 ") == Decimal("80.50")
    assert to_money(3) == Decimal("3.00")
    assert to_money("0.005") == Decimal("0.01")  # half-up at the cent


@pytest.mark.parametrize("bad", [0.1, True, "", "abc", "NaN", "Infinity", None])
def test_to_money_refuses_floats_and_garbage(bad):
    with pytest.raises(MoneyError):
        to_money(bad)


def test_sage500_precision_is_three_places_half_up():
    assert quantize(Decimal("10.0005"), 3) == Decimal("10.001")
    assert quantize(Decimal("10.0004"), 3) == Decimal("10.000")
    assert quantize(Decimal("125"), 3) == Decimal("125.000")
    # a cent amount survives the round trip to decimal(15,3) and back
    assert quantize(quantize(Decimal("80.50"), 3), 2) == Decimal("80.50")


def test_sl_precision_two_places():
    assert quantize(Decimal("1.005"), 2) == Decimal("1.01")
    assert quantize(Decimal("-1.005"), 2) == Decimal("-1.01")


def test_format_amount_for_paytrace():
    assert format_amount(Decimal("125")) == "125.00"
    assert format_amount(Decimal("0.1")) == "0.10"
