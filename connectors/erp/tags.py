"""The ``PT <transaction id>`` tag on every ERP document: what a finance user searches by.

ACH payments carry ``PT ACH <check transaction id>``: PayTrace numbers checks apart from card
transactions, so the two tags never name each other's document.
"""

from __future__ import annotations

import re

from connectors.erp.errors import ErpBusinessError
from domain.models import PaymentSource
from domain.models import paytrace_tag as domain_tag


def paytrace_tag(transaction_id: int, source: PaymentSource = PaymentSource.CARD) -> str:
    """``PT 1000123`` (card) or ``PT ACH 5000001``: the tag of a payment on ERP documents.

    Args:
        transaction_id: PayTrace's transaction id, or check transaction id for ACH.
        source: card or ACH.

    Returns:
        The tag (``domain.models.paytrace_tag``).
    """
    return domain_tag(transaction_id, source)


def tagged_text(tag: str, reference: str, suffix: str, width: int) -> str:
    """A comment or description that starts with its own tag, cut to the ERP column's width.

    The tag leads even when the reference carries it further back (a long reference would cut
    it off), and ``PT 10001234`` in a reference is not mistaken for the tag ``PT 1000123``.

    Args:
        tag: the document's tag, e.g. ``PT 1000123``.
        reference: free text that follows the tag; its own copies of the tag are dropped.
        suffix: appended after the reference, e.g. ``(VISA)``; may be blank.
        width: the column's width (Sage ``TranCmnt`` 50, SL ``DocDesc`` 30).

    Returns:
        ``"<tag> <reference> <suffix>"`` with single spaces, at most ``width`` characters.
    """
    own_tag = re.compile(rf"(?<!\S){re.escape(tag)}(?!\S)")
    rest = " ".join(own_tag.sub(" ", reference).split())
    return " ".join(part for part in (tag, rest, suffix.strip()) if part)[:width]


def refund_flag(marker: str) -> str:
    """The flag a credit memo's comment must start with to ask for a card refund.

    Args:
        marker: the configured flag, e.g. ``REFUND PT``; leading blanks are ignored.

    Returns:
        The flag without leading blanks.

    Raises:
        ErpBusinessError: the flag is blank (it would flag every memo).
    """
    flag = marker.lstrip()
    if not flag:
        raise ErpBusinessError(
            "flagged_refund_memos: the marker is blank; it would flag every memo"
        )
    return flag
