"""Connecting to Temporal with tracepost's data converter."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from workers.settings import Settings


async def connect(settings: Settings) -> Client:
    """Connect a Temporal client configured for tracepost (pydantic payloads).

    Args:
        settings: tracepost settings (address and namespace).

    Returns:
        The connected client.
    """
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )
