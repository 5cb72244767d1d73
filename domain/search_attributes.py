"""Typed search attributes that make tracepost's workflows filterable in the Temporal Web UI."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

TRACEPOST_STATUS = SearchAttributeKey.for_keyword("TracepostStatus")
PAYTRACE_TXN_ID = SearchAttributeKey.for_keyword("PaytraceTxnId")
ERP_CUSTOMER_ID = SearchAttributeKey.for_keyword("ErpCustomerId")
ERP_DOCUMENT = SearchAttributeKey.for_keyword("ErpDocument")

ALL_KEYS = (TRACEPOST_STATUS, PAYTRACE_TXN_ID, ERP_CUSTOMER_ID, ERP_DOCUMENT)


def dev_server_flags() -> list[str]:
    """``--search-attribute`` flags that register every key with ``temporal server start-dev``."""
    flags: list[str] = []
    for key in ALL_KEYS:
        flags += ["--search-attribute", f"{key.name}=Keyword"]
    return flags
