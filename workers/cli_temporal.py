"""``tracepost temporal setup``: make a namespace ready for tracepost, once per namespace.

It registers tracepost's custom search attributes (``TracepostStatus``, ``PaytraceTxnId``,
``ErpCustomerId``, ``ErpDocument``: keywords the workflows set and operators filter by) through
the operator API, and creates or updates the Temporal Schedules (``workers.schedules``). Each
step first reads what the namespace holds and changes only what differs, so a second run changes
nothing and says so.

Temporal Cloud does not offer the operator API to a namespace's API key or certificate: there
the command checks each attribute with a visibility query instead and prints how to add the
missing ones (Cloud UI or ``tcld``), then still sets up the schedules; the exit status is 1 until
every attribute is there.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client, Schedule, ScheduleActionStartWorkflow
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode

from domain.search_attributes import ALL_KEYS
from workers.cli_common import settings_or_exit
from workers.cli_ops import operator_command
from workers.schedules import (
    ALERTS_SCHEDULE_ID,
    CUSTOMER_SYNC_SCHEDULE_ID,
    ERP_REFUND_SCHEDULE_ID,
    ensure_schedules,
    schedules,
)
from workers.settings import Settings

TYPE_NAMES = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}
"""Type names as the Temporal CLI, ``tcld`` and the Cloud UI spell them."""
PROBE_VALUES = {
    SearchAttributeIndexedValueType.TEXT: "''",
    SearchAttributeIndexedValueType.KEYWORD: "''",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "''",
    SearchAttributeIndexedValueType.INT: "0",
    SearchAttributeIndexedValueType.DOUBLE: "0",
    SearchAttributeIndexedValueType.BOOL: "false",
    SearchAttributeIndexedValueType.DATETIME: "'2000-01-01T00:00:00Z'",
}
"""A value of each type for a visibility query that only checks the attribute exists."""
OPERATOR_API_REFUSED = (RPCStatusCode.PERMISSION_DENIED, RPCStatusCode.UNIMPLEMENTED)
"""What the operator API answers where it is not offered (Temporal Cloud: "Request unauthorized")."""
CLOUD_HOST_SUFFIXES = (".tmprl.cloud", ".api.temporal.io")
"""Temporal Cloud's namespace endpoints (mTLS) and regional endpoints (API keys)."""
REMOVED_WHEN_UNWANTED = (ERP_REFUND_SCHEDULE_ID, CUSTOMER_SYNC_SCHEDULE_ID, ALERTS_SCHEDULE_ID)
"""The schedules ``ensure_schedules`` deletes when the configuration no longer calls for them."""


@dataclass
class SetupResult:
    """What ``temporal setup`` found and did.

    Attributes:
        lines: one line per search attribute and per schedule.
        changes: how many things it created, registered, updated or deleted.
        problems: what it could not fix (the command then exits 1), with what to do.
    """

    lines: list[str] = field(default_factory=list)
    changes: int = 0
    problems: list[str] = field(default_factory=list)


def _type_name(key: SearchAttributeKey[Any]) -> str:
    return TYPE_NAMES[key.indexed_value_type]


def _on_cloud(settings: Settings) -> bool:
    host = settings.temporal_address.rpartition(":")[0] or settings.temporal_address
    return host.lower().endswith(CLOUD_HOST_SUFFIXES)


async def _registered_by_query(client: Client, key: SearchAttributeKey[Any]) -> bool:
    """Tell whether the namespace knows an attribute, by a visibility query naming it."""
    try:
        await client.count_workflows(f"{key.name} = {PROBE_VALUES[key.indexed_value_type]}")
    except RPCError as exc:
        if exc.status is RPCStatusCode.INVALID_ARGUMENT:
            return False
        raise
    return True


async def _without_operator_api(
    client: Client, settings: Settings, refused: RPCError, result: SetupResult
) -> None:
    """Check the attributes by query and say how to add the missing ones by hand."""
    result.lines.append(
        "search attributes: the operator API is refused here"
        f" ({refused.status.name}: {refused.message}); checking each attribute by query"
    )
    missing: list[SearchAttributeKey[Any]] = []
    for key in ALL_KEYS:
        present = await _registered_by_query(client, key)
        result.lines.append(
            f"search attribute {key.name} ({_type_name(key)}): "
            + ("registered" if present else "MISSING")
        )
        if not present:
            missing.append(key)
    if not missing:
        return
    names = ", ".join(f"{key.name} ({_type_name(key)})" for key in missing)
    flags = " ".join(f"--search-attribute {key.name}={_type_name(key)}" for key in missing)
    namespace = settings.temporal_namespace
    if _on_cloud(settings):
        how = (
            f"add them in the Temporal Cloud UI (Namespaces → {namespace} → Search Attributes"
            f" → Add) or with: tcld namespace search-attributes add --namespace {namespace} {flags}"
        )
    else:
        commands = "; ".join(
            f"temporal operator search-attribute create --namespace {namespace}"
            f" --name {key.name} --type {_type_name(key)}"
            for key in missing
        )
        how = f"ask a Temporal administrator to run: {commands}"
    result.problems.append(
        f"search attributes missing in namespace {namespace}: {names}; {how}; then run"
        " tracepost temporal setup again (workflows that set a missing attribute fail their"
        " workflow task until it exists)"
    )


async def ensure_search_attributes(client: Client, settings: Settings, result: SetupResult) -> None:
    """Register every custom search attribute tracepost uses that the namespace lacks.

    Args:
        client: a client of the namespace.
        settings: tracepost settings (address and namespace, for the messages).
        result: where the lines, changes and problems go.

    Raises:
        RPCError: the server failed otherwise than by refusing the operator API.
    """
    operator = client.operator_service
    try:
        listed = await operator.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
    except RPCError as exc:
        if exc.status not in OPERATOR_API_REFUSED:
            raise
        await _without_operator_api(client, settings, exc, result)
        return
    existing = dict(listed.custom_attributes)
    missing: list[SearchAttributeKey[Any]] = []
    for key in ALL_KEYS:
        wanted = int(key.indexed_value_type)
        if key.name not in existing:
            missing.append(key)
        elif existing[key.name] != wanted:
            actual = TYPE_NAMES.get(SearchAttributeIndexedValueType(existing[key.name]), "?")
            result.lines.append(
                f"search attribute {key.name} ({_type_name(key)}): registered as {actual}"
            )
            result.problems.append(
                f"search attribute {key.name} is registered as {actual} in namespace"
                f" {client.namespace}, tracepost needs {_type_name(key)}; a type cannot be"
                " changed: remove it (temporal operator search-attribute remove) and run"
                " tracepost temporal setup again"
            )
        else:
            result.lines.append(
                f"search attribute {key.name} ({_type_name(key)}): already registered"
            )
    if not missing:
        return
    try:
        await operator.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=client.namespace,
                search_attributes={
                    key.name: IndexedValueType.ValueType(int(key.indexed_value_type))
                    for key in missing
                },
            )
        )
    except RPCError as exc:
        if exc.status not in OPERATOR_API_REFUSED:
            raise
        await _without_operator_api(client, settings, exc, result)
        return
    for key in missing:
        result.lines.append(f"search attribute {key.name} ({_type_name(key)}): registered")
    result.changes += len(missing)


def _comparable(value: Any) -> Any:
    """A value of a schedule's dataclasses in a form that compares by content.

    The server answers tuples or protobuf containers where the SDK was given lists, and protobuf
    messages compare by their bytes.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return tuple(
            (f.name, _comparable(getattr(value, f.name)))
            for f in dataclasses.fields(value)
            if f.compare
        )
    if isinstance(value, Message):
        return value.SerializeToString(deterministic=True)
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _comparable(v)) for k, v in value.items()))
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return tuple(_comparable(item) for item in value)
    return value


async def _same_input(client: Client, current: Sequence[Any], wanted: Sequence[Any]) -> bool:
    """Tell whether a schedule's stored input is what the settings would write.

    Encryption makes every write differ (a fresh nonce), so the stored payloads are decrypted
    and compared with the plain payloads of the wanted input. Input stored in the clear while
    the codec is on, or encrypted with a key this process no longer holds, is different.
    """
    if len(current) != len(wanted) or not all(isinstance(p, Payload) for p in current):
        return False
    converter = client.data_converter
    stored = list(current)
    if converter.payload_codec is not None:
        try:
            decoded = await converter.payload_codec.decode(stored)
        except ValueError:  # PayloadDecryptError: a key this process does not hold
            return False
        if [p.SerializeToString(deterministic=True) for p in decoded] == [
            p.SerializeToString(deterministic=True) for p in stored
        ]:
            return False  # stored unencrypted: rewrite it encrypted
        stored = decoded
    expected = converter.payload_converter.to_payloads(wanted)
    return [p.SerializeToString(deterministic=True) for p in stored] == [
        p.SerializeToString(deterministic=True) for p in expected
    ]


async def _differences(client: Client, current: Schedule, wanted: Schedule) -> list[str]:
    """What differs between a schedule on the server and the one the settings describe."""
    found: list[str] = []
    if not isinstance(current.action, ScheduleActionStartWorkflow) or not isinstance(
        wanted.action, ScheduleActionStartWorkflow
    ):
        return ["action"]
    # Headers are left out: a tracing interceptor may put a fresh span context there.
    ignored = {"args", "headers"}
    current_fields = {
        f.name: _comparable(getattr(current.action, f.name))
        for f in dataclasses.fields(current.action)
        if f.compare and f.name not in ignored
    }
    wanted_fields = {
        f.name: _comparable(getattr(wanted.action, f.name))
        for f in dataclasses.fields(wanted.action)
        if f.compare and f.name not in ignored
    }
    if current_fields != wanted_fields:
        found.append("workflow options")
    if not await _same_input(client, current.action.args, wanted.action.args):
        found.append("input")
    if _comparable(current.spec) != _comparable(wanted.spec):
        found.append("timing")
    current_policy = current.policy
    if wanted.policy.catchup_window is None:  # the server's default, which it then reports
        current_policy = dataclasses.replace(current_policy, catchup_window=None)
    if _comparable(current_policy) != _comparable(wanted.policy):
        found.append("policy")
    if _comparable(current.state) != _comparable(wanted.state):
        found.append("paused state")
    return found


async def _exists(client: Client, schedule_id: str) -> bool:
    try:
        await client.get_schedule_handle(schedule_id).describe()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def sync_schedules(client: Client, settings: Settings, result: SetupResult) -> None:
    """Create, update or delete tracepost's schedules where they differ from the settings.

    Each schedule is read and compared first; ``ensure_schedules`` runs only when one differs
    (it then rewrites them all, with identical content for those reported as up to date).

    Args:
        client: a client of the namespace.
        settings: tracepost settings and mapping (which schedules, how often).
        result: where the lines and changes go.
    """
    wanted = schedules(settings)
    plan: list[tuple[str, str]] = []
    for schedule_id, schedule in wanted.items():
        try:
            described = await client.get_schedule_handle(schedule_id).describe()
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                raise
            plan.append((schedule_id, "created"))
            continue
        differences = await _differences(client, described.schedule, schedule)
        plan.append(
            (schedule_id, f"updated ({', '.join(differences)})" if differences else "up to date")
        )
    for schedule_id in REMOVED_WHEN_UNWANTED:
        if schedule_id not in wanted and await _exists(client, schedule_id):
            plan.append((schedule_id, "deleted (the configuration no longer calls for it)"))
    changed = [schedule_id for schedule_id, what in plan if what != "up to date"]
    if changed:
        await ensure_schedules(client, settings)
    result.lines += [f"schedule {schedule_id}: {what}" for schedule_id, what in plan]
    result.changes += len(changed)


async def setup_namespace(client: Client, settings: Settings) -> SetupResult:
    """Make the namespace ready: search attributes registered, schedules as configured.

    Args:
        client: a client of the namespace (``workers.temporal_client.connect``).
        settings: tracepost settings.

    Returns:
        What was found and done.
    """
    result = SetupResult()
    await ensure_search_attributes(client, settings, result)
    await sync_schedules(client, settings, result)
    return result


@operator_command("temporal setup")
def cmd_temporal_setup(_: argparse.Namespace) -> int:
    """Register the search attributes and the schedules in the configured namespace.

    Returns:
        0 when the namespace is ready (changed now or already), 1 when something is left to do
        by hand (printed on standard error), 2 when the connection settings cannot work.
    """
    from workers.temporal_client import connect
    from workers.temporal_connection import (
        TemporalConnectionError,
        connection_options,
        describe_connection,
    )

    settings = settings_or_exit()
    try:
        connection_options(settings)
    except TemporalConnectionError as exc:
        print(f"tracepost temporal setup: {exc}", file=sys.stderr)
        return 2
    print(describe_connection(settings))

    async def run() -> SetupResult:
        return await setup_namespace(await connect(settings), settings)

    result = asyncio.run(run())
    for line in result.lines:
        print(f"  {line}")
    for problem in result.problems:
        print(f"tracepost temporal setup: {problem}", file=sys.stderr)
    if result.changes:
        print(f"done: {result.changes} change(s) in namespace {settings.temporal_namespace}")
    elif not result.problems:
        print(f"nothing to change: namespace {settings.temporal_namespace} is already set up")
    return 1 if result.problems else 0


def add_temporal_commands(sub: Any) -> None:
    """Register ``temporal setup``.

    Args:
        sub: the ``tracepost`` sub-parsers.
    """
    temporal = sub.add_parser("temporal", help="Temporal namespace tools").add_subparsers(
        dest="temporal_command", required=True
    )
    temporal.add_parser(
        "setup",
        help="register the search attributes and the schedules in the namespace (idempotent)",
    ).set_defaults(func=cmd_temporal_setup)
