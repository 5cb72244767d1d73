"""The PayTrace tag that leads every ERP document's comment or description."""

from __future__ import annotations

import pytest

from connectors.erp.tags import paytrace_tag, tagged_text


@pytest.mark.parametrize(
    ("reference", "suffix", "width", "expected"),
    [
        ("PT 1000123", "(VISA)", 50, "PT 1000123 (VISA)"),
        ("order 77", "", 50, "PT 1000123 order 77"),
        ("refund of PT 1000123 for order 77", "", 50, "PT 1000123 refund of for order 77"),
        ("PT 10001234 is another sale", "", 50, "PT 1000123 PT 10001234 is another sale"),
        ("x" * 60 + " PT 1000123", "", 30, "PT 1000123 " + "x" * 19),
        ("  spaced   out  ", " VISA ", 30, "PT 1000123 spaced out VISA"),
    ],
)
def test_the_tag_always_leads(reference: str, suffix: str, width: int, expected: str) -> None:
    text = tagged_text(paytrace_tag(1000123), reference, suffix, width)
    assert text == expected
    assert len(text) <= width


def test_an_ach_payment_has_its_own_tag() -> None:
    from domain.models import PaymentSource

    assert paytrace_tag(5000001, PaymentSource.ACH) == "PT ACH 5000001"
    assert paytrace_tag(5000001) == "PT 5000001"
    # The card tag in an ACH reference is text, not the ACH document's tag (and the other way).
    text = tagged_text(paytrace_tag(5000001, PaymentSource.ACH), "PT 5000001", "", 30)
    assert text == "PT ACH 5000001 PT 5000001"
    assert tagged_text(paytrace_tag(5000001), "PT ACH 5000001", "", 30) == (
        "PT 5000001 PT ACH 5000001"
    )
