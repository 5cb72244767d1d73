"""Customer user fields tracepost keeps in either ERP: autopay enrollment and the card on file.

Both live in free customer user fields (Sage 500 ``tarCustomer.UserFld2/3``, Dynamics SL
``Customer.User5/User2`` by default). Autopay is on when the field holds one of
``AUTOPAY_VALUES`` (any case, blanks trimmed): what an ERP user types into a free-text field.
The card on file is the masked number and expiry PayTrace shows (``x1111 12/2028``); text that
could be a card number is never written.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from connectors.erp.errors import ErpBusinessError

AUTOPAY_VALUES = ("Y", "YES", "1", "TRUE", "AUTOPAY")
AUTOPAY_ON = "Y"
MAX_DIGIT_RUN = 4
_DIGIT_RUN = re.compile(rf"\d{{{MAX_DIGIT_RUN + 1},}}")
_EXPIRY = re.compile(r"(?:^|\s)\d{1,2}/(?:\d{2}|\d{4})$")
_SEPARATORS = re.compile(r"[\s\-/.]")


def _without_expiry_and_separators(value: str) -> str:
    """The text a digit run is looked for in: the trailing expiry cut, then separators removed.

    A trailing ``MM/YY`` or ``MM/YYYY`` (the expiry) is dropped first, once; then spaces and
    dashes (and slashes and dots, which could split a card number just as well) are removed.
    Without the first step the composed ``x1111 12/2028`` would read ``x111112...``.
    """
    return _SEPARATORS.sub("", _EXPIRY.sub("", value))


def is_autopay(value: object) -> bool:
    """Whether a stored user-field value means "enrolled in autopay".

    Args:
        value: the column's value (None, blank-padded text ...).

    Returns:
        True for Y, YES, 1, TRUE or AUTOPAY, whatever the case and surrounding blanks.
    """
    return str(value or "").strip().upper() in AUTOPAY_VALUES


def autopay_condition(column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    """The SQL form of ``is_autopay``: ``upper(ltrim(rtrim(column))) IN (...)``."""
    return sa.func.upper(sa.func.ltrim(sa.func.rtrim(column))).in_(AUTOPAY_VALUES)


def check_card_text(text: str, width: int, where: str) -> str:
    """Refuse card-on-file text that could hold a card number or does not fit its column.

    Args:
        text: what the caller composed, e.g. ``x1111 12/2028``.
        width: the column's width.
        where: the column, for messages (``tarCustomer.UserFld3``).

    Returns:
        The text, blanks trimmed (blank clears the field).

    Raises:
        ErpBusinessError: five or more consecutive digits once spaces and dashes (and slashes
            and dots) are removed, the trailing expiry aside; or longer than the column.
    """
    value = text.strip()
    if _DIGIT_RUN.search(_without_expiry_and_separators(value)):
        raise ErpBusinessError(
            f"card on file refused for {where}: it holds {MAX_DIGIT_RUN + 1} or more digits in a"
            " row (spaces and dashes ignored), which could be a card number; write only the"
            " masked number and expiry, e.g. 'x1111 12/2028'"
        )
    if len(value) > width:
        raise ErpBusinessError(f"card on file {value!r} does not fit {where} ({width} characters)")
    return value
