"""The chargeback case register in tracepost's store: what is open for which customer.

A case is open for its customer from the day it opens until it is decided won or finishes.
Autopay leaves customers with an open case alone, and a credit hold is released only when no
other open case of the customer needs it. Kept in the store (not read from Temporal's
visibility, which lags and which the time-skipping test server does not offer).
"""

from __future__ import annotations

from temporalio import activity

from activities import names
from connectors.store import Store
from domain.chargeback_io import CaseRecord, OpenCases, OpenCasesRequest


class CaseActivities:
    """Reads and writes the case register, with the store injected. Synchronous: thread pool.

    Args:
        store: tracepost's store.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    @activity.defn(name=names.RECORD_CASE)
    def record_case(self, record: CaseRecord) -> None:
        """Record where a case stands now (idempotent: the latest step wins)."""
        self._store.record_case(record)

    @activity.defn(name=names.OPEN_CHARGEBACKS)
    def open_chargebacks(self, request: OpenCasesRequest) -> OpenCases:
        """The open cases by customer: of one customer (blank: all), leaving one case out."""
        return self._store.open_cases(request)
