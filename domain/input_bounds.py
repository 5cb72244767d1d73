"""Bounds on what tracepost accepts from outside (events, forms): beyond them a value is a typo.

An amount above ``MAX_AMOUNT`` does not fit the ERPs' money columns (Sage 500 ``decimal(15,3)``
holds twelve integer digits) and a date outside ``FIRST_DAY``..``LAST_DAY`` is not a business day
anyone means; both are refused with a reason rather than carried into a workflow.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import Field

MAX_ID = 2**63 - 1
"""The largest transaction id, check id or batch number accepted (the store's BIGINT)."""
MAX_AMOUNT = Decimal("999999999.99")
"""The largest amount, quantity or unit price an event or a form may carry."""
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)

BusinessDate = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY)]
"""A date an event or form names (opened, respond by, decided, ordered): 2000-01-01..2099-12-31."""
