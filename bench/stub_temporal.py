"""Temporal stubbed out at the RPC, for the stubbed round of bench/webhook_ingest.py.

``python -m bench.stub_temporal`` runs ``tracepost api`` exactly as in production, with
:class:`StubGateway` as its Temporal gateway: every workflow start is accepted at once, without a
server, after the SDK has built and encoded it as it would for a real one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import google.protobuf.message
from temporalio.api.workflowservice.v1 import StartWorkflowExecutionResponse
from temporalio.bridge.proto.health.v1 import HealthCheckResponse
from temporalio.client import Client
from temporalio.service import (
    ConnectConfig,
    RPCError,
    RPCStatusCode,
    ServiceClient,
    ServiceResponse,
)

from workers.gateway import TemporalGateway
from workers.settings import Settings
from workers.telemetry import client_interceptors
from workers.temporal_client import data_converter


class StubServiceClient(ServiceClient):
    """A Temporal service client that accepts every workflow start at once, without a server.

    It replaces only the bridge call: the request the SDK built is serialized as the bridge
    serializes it, and the answer is parsed from bytes as the bridge parses it, so the stubbed
    round pays for everything the real path does except the RPC to the server.
    """

    @property
    def worker_service_client(self) -> Any:
        """There is no bridge client: a stubbed client cannot run workers."""
        raise NotImplementedError("the stubbed Temporal client cannot run workers")

    def update_rpc_metadata(self, metadata: Mapping[str, str | bytes]) -> None:
        """Nothing to update: no connection."""

    def update_api_key(self, api_key: str | None) -> None:
        """Nothing to update: no connection."""

    async def _rpc_call(
        self,
        rpc: str,
        req: google.protobuf.message.Message,
        resp_type: type[ServiceResponse],
        *,
        service: str,
        retry: bool,
        metadata: Mapping[str, str | bytes],
        timeout: timedelta | None,  # noqa: ASYNC109 - the SDK's signature
    ) -> ServiceResponse:
        req.SerializeToString()  # what the bridge does with the request before sending it
        answer: google.protobuf.message.Message
        if service == "workflow" and rpc == "start_workflow_execution":
            answer = StartWorkflowExecutionResponse(run_id=str(uuid.uuid4()), started=True)
        elif service == "health" and rpc == "check":
            answer = HealthCheckResponse(status=HealthCheckResponse.ServingStatus.SERVING)
        else:
            raise RPCError(
                f"stubbed Temporal has no {service}.{rpc}", RPCStatusCode.UNIMPLEMENTED, b""
            )
        resp = resp_type()
        resp.ParseFromString(answer.SerializeToString())
        return resp


class StubGateway(TemporalGateway):
    """The api's Temporal gateway with the stubbed service client under a real ``Client``.

    The client is built on first use with what ``workers.temporal_client.connect`` gives a real
    one (namespace, data converter with the codec, interceptors), as the real gateway does.

    Args:
        settings: tracepost settings.
        client: ignored (the stubbed client is always built here).
    """

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        super().__init__(settings, None)

    async def client(self) -> Client:
        """The client on the stubbed service client."""
        if self._client is None:
            service = StubServiceClient(ConnectConfig(target_host=self._settings.temporal_address))
            self._client = Client(
                service,
                namespace=self._settings.temporal_namespace,
                data_converter=data_converter(self._settings),
                interceptors=client_interceptors(),
            )
        return self._client


def serve_stubbed() -> None:
    """Run ``tracepost api`` exactly as in production, with the stub as its Temporal gateway.

    ``cmd_api`` passes ``workers.api.TemporalGateway(settings)`` to ``create_api``; that name is
    the only thing replaced, so settings, store, logging, observability and the uvicorn server
    are those of the real command. Ends the process (``workers.cli.main`` calls ``os._exit``).
    """
    import workers.api
    import workers.cli

    workers.api.TemporalGateway = StubGateway  # type: ignore[misc]
    workers.cli.main(["api"])


if __name__ == "__main__":
    serve_stubbed()
