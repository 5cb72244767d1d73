"""The ``PT <transaction id>`` tag on every ERP document: what a finance user searches by."""

from __future__ import annotations

import re


def paytrace_tag(transaction_id: int) -> str:
    """``PT 1000123``: the tag of a PayTrace transaction on ERP documents."""
    return f"PT {transaction_id}"


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
