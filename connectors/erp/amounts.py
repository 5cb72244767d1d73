"""Amount checks every ERP adapter makes before writing money."""

from __future__ import annotations

from decimal import Decimal

from connectors.erp.errors import ErpBusinessError
from domain.money import quantize

# Sage 500 decimal(15,3) holds less than 10^12; SL FLOAT(53) holds cents exactly far beyond that.
MONEY_LIMIT = Decimal(10) ** 12


def check_cents(label: str, *amounts: Decimal) -> None:
    """Refuse amounts finer than a cent, or too large for an ERP's money columns.

    Rounding each part of a document on its own (applications, lines) would make the rounded
    parts disagree with the rounded whole: a batch that does not balance, a receipt applying
    more than it brings in, an invoice taken below zero at posting. PayTrace amounts are whole
    cents, so anything finer is a mistake upstream, refused rather than rounded.

    Args:
        label: what is being written, for the message (``"receipt for PayTrace transaction 7"``).
        amounts: the document's amounts.

    Raises:
        ErpBusinessError: for an amount with more than two decimal places, or of 10^12 or more.
    """
    for amount in amounts:
        if quantize(amount, 2) != amount:
            raise ErpBusinessError(
                f"{label}: amount {amount} has fractions of a cent; only whole cents are posted"
            )
        if abs(amount) >= MONEY_LIMIT:
            raise ErpBusinessError(f"{label}: amount {amount} is too large for the ERP")
