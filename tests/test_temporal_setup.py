"""``tracepost temporal setup`` against a real Temporal dev server started *without* tracepost's
search attributes (the session's ``dev_env`` registers them at start, which would hide whether the
command does): it registers them and the schedules once, and a second run changes nothing."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from domain.search_attributes import ALL_KEYS, TRACEPOST_STATUS
from workers.cli_temporal import setup_namespace
from workers.codec import ENCRYPTED_ENCODING
from workers.schedules import SWEEP_SCHEDULE_ID, schedules
from workers.settings import Settings
from workers.temporal_client import connect

BIN = Path(sys.executable).parent
TRACEPOST = str(BIN / "tracepost")
CODEC_KEYS = "setup-test:" + base64.b64encode(bytes(range(32))).decode()
WRONG_TYPE_NS = "tp-wrong-type"
CLOUD_LIKE_NS = "tp-cloud-like"


@pytest.fixture(scope="module")
async def bare_env() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server of this module's own with no custom search attribute in any namespace."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        dev_server_extra_args=[
            "--namespace",
            WRONG_TYPE_NS,
            "--namespace",
            CLOUD_LIKE_NS,
            "--dynamic-config-value",
            "system.forceSearchAttributesCacheRefreshOnRead=true",
        ],
    )
    yield env
    await env.shutdown()


def target(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


async def custom_attributes(client: Client, namespace: str) -> dict[str, int]:
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    return dict(listed.custom_attributes)


async def setup(tmp_path: Path, address: str, **env: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [TRACEPOST, "temporal", "setup"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={
            **os.environ,
            "TRACEPOST_VAR_DIR": str(tmp_path / "var"),
            "TRACEPOST_TEMPORAL_ADDRESS": address,
            "TRACEPOST_CODEC_KEYS": CODEC_KEYS,
            **env,
        },
    )


async def test_setup_registers_everything_once_and_a_second_run_changes_nothing(bare_env, tmp_path):
    client = bare_env.client
    assert not set(await custom_attributes(client, "default")) & {k.name for k in ALL_KEYS}
    with pytest.raises(RPCError) as unknown:
        await client.count_workflows(f"{TRACEPOST_STATUS.name} = 'needs_attention'")
    assert unknown.value.status is RPCStatusCode.INVALID_ARGUMENT
    settings = Settings(temporal_address=target(bare_env), codec_keys=CODEC_KEYS)
    wanted = schedules(settings)

    first = await setup(tmp_path, target(bare_env))
    assert first.returncode == 0, first.stdout + first.stderr
    for key in ALL_KEYS:
        assert f"search attribute {key.name} (Keyword): registered\n" in first.stdout
    for schedule_id in wanted:
        assert f"schedule {schedule_id}: created\n" in first.stdout
    assert first.stdout.rstrip().endswith(
        f"done: {len(ALL_KEYS) + len(wanted)} change(s) in namespace default"
    )
    registered = await custom_attributes(client, "default")
    for key in ALL_KEYS:
        assert registered[key.name] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    await client.count_workflows(f"{TRACEPOST_STATUS.name} = 'needs_attention'")  # now valid
    described = {sid: await client.get_schedule_handle(sid).describe() for sid in wanted}
    for description in described.values():
        (payload,) = description.schedule.action.args
        assert payload.metadata["encoding"] == ENCRYPTED_ENCODING  # the codec encrypted it

    second = await setup(tmp_path, target(bare_env))
    assert second.returncode == 0, second.stdout + second.stderr
    for key in ALL_KEYS:
        assert f"search attribute {key.name} (Keyword): already registered\n" in second.stdout
    for schedule_id in wanted:
        assert f"schedule {schedule_id}: up to date\n" in second.stdout
    assert second.stdout.rstrip().endswith("nothing to change: namespace default is already set up")
    for schedule_id, before in described.items():
        after = await client.get_schedule_handle(schedule_id).describe()
        assert after.info.last_updated_at == before.info.last_updated_at, schedule_id

    changed = await setup(tmp_path, target(bare_env), TRACEPOST_SWEEP_INTERVAL_SECONDS="45")
    assert changed.returncode == 0, changed.stdout + changed.stderr
    assert f"schedule {SWEEP_SCHEDULE_ID}: updated (timing)\n" in changed.stdout
    assert "schedule tracepost-settlement: up to date\n" in changed.stdout
    sweep = await client.get_schedule_handle(SWEEP_SCHEDULE_ID).describe()
    assert sweep.schedule.spec.intervals[0].every.total_seconds() == 45


async def test_an_attribute_of_another_type_is_reported_not_changed(bare_env, tmp_path):
    client = bare_env.client
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=WRONG_TYPE_NS,
            search_attributes={"ErpDocument": IndexedValueType.INDEXED_VALUE_TYPE_TEXT},
        )
    )
    done = await setup(tmp_path, target(bare_env), TRACEPOST_TEMPORAL_NAMESPACE=WRONG_TYPE_NS)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "search attribute ErpDocument (Keyword): registered as Text" in done.stdout
    assert "ErpDocument is registered as Text" in done.stderr and "cannot be changed" in done.stderr
    assert "search attribute TracepostStatus (Keyword): registered\n" in done.stdout
    attributes = await custom_attributes(client, WRONG_TYPE_NS)
    assert attributes["ErpDocument"] == IndexedValueType.INDEXED_VALUE_TYPE_TEXT
    assert attributes["TracepostStatus"] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD


async def test_without_the_operator_api_it_checks_by_query_and_says_how_to_add_them(
    bare_env, monkeypatch
):
    """Temporal Cloud answers the operator API with PermissionDenied ("Request unauthorized");
    the refusal is injected into a real client, every other call reaches the real server."""
    await bare_env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=CLOUD_LIKE_NS,
            search_attributes={
                "TracepostStatus": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
                "PaytraceTxnId": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
            },
        )
    )
    settings = Settings(
        temporal_address=target(bare_env),
        temporal_namespace=CLOUD_LIKE_NS,
        codec_keys=CODEC_KEYS,
    )
    client = await connect(settings)
    calls: list[str] = []

    async def refused(request: object, **_: object) -> None:
        calls.append(type(request).__name__)
        raise RPCError("Request unauthorized.", RPCStatusCode.PERMISSION_DENIED, b"")

    monkeypatch.setattr(client.operator_service, "list_search_attributes", refused)
    monkeypatch.setattr(client.operator_service, "add_search_attributes", refused)
    on_cloud = settings.model_copy(
        update={"temporal_address": f"{CLOUD_LIKE_NS}.a1b2c.tmprl.cloud:7233"}
    )

    result = await setup_namespace(client, on_cloud)

    assert calls == ["ListSearchAttributesRequest"]
    assert "search attribute TracepostStatus (Keyword): registered" in result.lines
    assert "search attribute PaytraceTxnId (Keyword): registered" in result.lines
    assert "search attribute ErpCustomerId (Keyword): MISSING" in result.lines
    (problem,) = result.problems
    assert "ErpCustomerId (Keyword), ErpDocument (Keyword)" in problem
    assert "Temporal Cloud UI" in problem
    assert (
        f"tcld namespace search-attributes add --namespace {CLOUD_LIKE_NS}"
        " --search-attribute ErpCustomerId=Keyword --search-attribute ErpDocument=Keyword"
    ) in problem
    assert "TracepostStatus" not in problem
    # The schedules do not need the attributes: they are set up all the same.
    for schedule_id in schedules(settings):
        assert f"schedule {schedule_id}: created" in result.lines
    assert result.changes == len(schedules(settings))

    # A self-hosted server that refuses the operator API: the administrator's commands instead.
    again = await setup_namespace(client, settings)
    (problem,) = again.problems
    assert (
        f"temporal operator search-attribute create --namespace {CLOUD_LIKE_NS}"
        " --name ErpDocument --type Keyword"
    ) in problem
    assert "tcld" not in problem
    assert again.changes == 0
    for schedule_id in schedules(settings):
        assert f"schedule {schedule_id}: up to date" in again.lines
