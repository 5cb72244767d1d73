"""Secret scanner: search what a run touched for full card numbers and known secrets.

Sources: databases by SQLAlchemy URL (every table's text, char, JSON and blob columns; a
PostgreSQL URL whose ``options`` set ``search_path`` is scanned in that schema only, else in
every non-system schema), log files and directories (recursively), and every workflow history of
a Temporal namespace, fetched through the API (``list_workflows`` + ``fetch_history_events``):
every string, bytes and integer field of each event as stored ("raw", each field on its own),
and each encrypted payload decrypted with the configured codec keys (workers/codec.py), so both
what is stored and what it means are checked. The PayTrace simulator's own state plays PayTrace
and is not a source.

Rules: ``card:<network>`` is a run of 13-19 digits (single spaces or dashes between groups
allowed) not touching other digits, Luhn-valid and starting with a card network's IIN (Visa,
Mastercard, Amex, Discover, JCB, Diners), so timestamps, ids and masked numbers
(``xxxxxxxxxxxx5439``) are not findings; neither are digits inside a hex token of 32 or more
characters with a letter a-f (a UUID such as ``12345678-4111-1111-1111-9bcd...``, a digest),
where a card-shaped run of digits turns up by chance. ``secret:<name>`` is an exact occurrence
of a known secret (also in its JSON-escaped form); secrets shorter than 8 characters are
refused. A finding names where (database URL without its password, table, column, row key / file
and line / workflow, run and event id) and the rule, never the value: a card shows its first 6
and last 4 digits, a secret only its name.

    .venv/bin/python -m bench.secret_scan [--db URL]... [--path FILE_OR_DIR]...
        [--temporal-target HOST:PORT [--namespace NS] [--temporal-query QUERY]]
        [--secret NAME=VALUE]... [--secret-env VAR]... [--codec-keys-env VAR]

Exit status: 1 when anything is found, 0 when clean, 2 on bad arguments or an unreadable source.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import re
import sys
from collections.abc import (
    AsyncIterator,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from domain.redaction import luhn_valid
from workers.codec import (
    ENCRYPTED_ENCODING,
    AesGcmCodec,
    CodecKeyError,
    PayloadDecryptError,
    parse_key_ring,
)

MIN_SECRET_LENGTH = 8
"""Shorter known secrets are refused: they would match by chance."""
_SEPARATOR = "[ \u00a0\u2010-\u2015\u2212-]"
_DIGIT_RUN = re.compile(rf"(?<![0-9])[0-9]+(?:{_SEPARATOR}[0-9]+)*(?![0-9])")
_GROUP_SPLIT = re.compile(_SEPARATOR)
_HEX_TOKEN = re.compile(
    r"(?<![0-9A-Za-z])(?=[0-9a-fA-F-]*[a-fA-F])[0-9a-fA-F]+(?:-[0-9a-fA-F]+)*(?![0-9A-Za-z])"
)
_HEX_TOKEN_MIN = 32
"""Hex tokens this long (UUIDs, digests) are not searched: their digit runs are chance."""
_SYSTEM_SCHEMAS = frozenset({"information_schema", "pg_catalog", "pg_toast"})
_HISTORY_CONCURRENCY = 8
P = ParamSpec("P")
T = TypeVar("T")


class ScanArgumentError(ValueError):
    """A scan was asked for with unusable arguments (a short secret, a missing path ...)."""


@dataclass(frozen=True)
class Finding:
    """One thing found.

    Attributes:
        source: ``db``, ``file`` or ``temporal``.
        location: where, e.g. ``sqlite:///x.db table t column c row id=1``; never the value.
        rule: ``card:visa`` (the network) or ``secret:<name>``.
        shown: the masked value: first 6 and last 4 digits of a card, the name of a secret.
    """

    source: str
    location: str
    rule: str
    shown: str

    def __str__(self) -> str:
        return f"[{self.source}] {self.rule} ({self.shown}) at {self.location}"


@dataclass
class SourceCount:
    """What one source gave: items scanned (cells, lines, events) and findings."""

    label: str
    scanned: int = 0
    findings: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class ScanStats:
    """Per-source counts of a scan, filled in by :func:`scan` when passed."""

    sources: list[SourceCount] = field(default_factory=list)

    def add(self, label: str) -> SourceCount:
        """Start counting a source.

        Args:
            label: how the source is shown.

        Returns:
            Its counter.
        """
        count = SourceCount(label)
        self.sources.append(count)
        return count


# -- detection ------------------------------------------------------------------------------


def card_network(digits: str) -> str | None:
    """The card network whose IIN range a number starts in.

    Args:
        digits: only digits.

    Returns:
        ``visa``, ``mastercard``, ``amex``, ``discover``, ``jcb``, ``diners``, or None.
    """
    two, three, four = int(digits[:2] or 0), int(digits[:3] or 0), int(digits[:4] or 0)
    if digits.startswith("4"):
        return "visa"
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return "mastercard"
    if two in (34, 37):
        return "amex"
    if four == 6011 or 644 <= three <= 649 or two == 65:
        return "discover"
    if 3528 <= four <= 3589:
        return "jcb"
    if 300 <= three <= 305 or two in (36, 38):
        return "diners"
    return None


def mask_card(digits: str) -> str:
    """Show a card number as its first 6 and last 4 digits.

    Args:
        digits: the card number, only digits.

    Returns:
        e.g. ``411111******1111``.
    """
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


def _blank_long_hex(match: re.Match[str]) -> str:
    token = match.group(0)
    return "x" * len(token) if len(token) >= _HEX_TOKEN_MIN else token


def find_cards(text: str) -> Iterator[tuple[str, str]]:
    """Find full card numbers in a text.

    A run of digit groups (single separators between) is tried in every window of whole groups
    holding 13-19 digits, so a card typed after a date (``2024-12-03 4111 1111 ...``) is still
    seen; a window must be Luhn-valid and start with a network's IIN. Hex tokens of
    ``_HEX_TOKEN_MIN`` or more characters (UUIDs, digests) are skipped.

    Args:
        text: any text.

    Yields:
        ``(network, masked number)`` for each card found.
    """
    if len(text) >= _HEX_TOKEN_MIN:  # shorter texts hold no long hex token
        text = _HEX_TOKEN.sub(_blank_long_hex, text)
    for match in _DIGIT_RUN.finditer(text):
        run = match.group(0)
        if len(run) < 13:
            continue
        groups = _GROUP_SPLIT.split(run)
        start = 0
        while start < len(groups):
            found_end = None
            digits = ""
            for end in range(start, len(groups)):
                digits += groups[end]
                if len(digits) > 19:
                    break
                if len(digits) >= 13 and luhn_valid(digits):
                    network = card_network(digits)
                    if network is not None:
                        yield network, mask_card(digits)
                        found_end = end
                        break
            start = (found_end + 1) if found_end is not None else start + 1


def check_secrets(secrets: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Validate known secrets and prepare the forms they are searched in.

    Args:
        secrets: name to value.

    Returns:
        Name to the texts to look for (the value and its JSON-escaped form).

    Raises:
        ScanArgumentError: a secret is shorter than :data:`MIN_SECRET_LENGTH` (the message
            names it, never its value).
    """
    forms: dict[str, tuple[str, ...]] = {}
    for name, value in secrets.items():
        if len(value) < MIN_SECRET_LENGTH:
            raise ScanArgumentError(
                f"secret {name!r} is shorter than {MIN_SECRET_LENGTH} characters: too likely"
                " to match by chance"
            )
        escaped = json.dumps(value)[1:-1]
        forms[name] = (value,) if escaped == value else (value, escaped)
    return forms


class Detector:
    """The rules, applied to texts.

    Args:
        secrets: name to the forms to search (from :func:`check_secrets`).
    """

    def __init__(self, secrets: Mapping[str, tuple[str, ...]]) -> None:
        self._secrets = dict(secrets)

    def hits(self, text: str) -> Iterator[tuple[str, str]]:
        """Apply every rule to a text.

        Args:
            text: the text.

        Yields:
            ``(rule, shown)`` for each hit.
        """
        for network, masked in find_cards(text):
            yield f"card:{network}", masked
        for name, forms in self._secrets.items():
            if any(form in text for form in forms):
                yield f"secret:{name}", name


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


# -- databases ------------------------------------------------------------------------------


_TEXT_TYPES = (sa.String, sa.Text, sa.LargeBinary, sa.JSON, sa.types.NullType, sa.types._Binary)


def _search_path(url: sa.engine.URL) -> str | None:
    options = url.query.get("options")
    values = [options] if isinstance(options, str) else list(options or ())
    for value in values:
        found = re.search(r"search_path\s*=\s*([^\s,]+)", value)
        if found:
            return found.group(1).strip("\"'")
    return None


def _schemas(engine: sa.Engine, url: sa.engine.URL) -> list[str | None]:
    if engine.dialect.name != "postgresql":
        return [None]
    path = _search_path(url)
    if path:
        return [path]
    names = sa.inspect(engine).get_schema_names()
    return [s for s in names if s not in _SYSTEM_SCHEMAS and not s.startswith("pg_")]


def scan_database(
    url: str, detector: Detector, count: SourceCount | None = None
) -> Iterator[Finding]:
    """Scan every text, char, JSON and blob column of every table of a database.

    Args:
        url: a SQLAlchemy URL.
        detector: the rules.
        count: counts cells scanned and findings.

    Yields:
        The findings, located by URL (password hidden), schema, table, column and row key.
    """
    parsed = sa.make_url(url)
    shown_url = parsed.render_as_string(hide_password=True)
    engine = sa.create_engine(parsed)
    try:
        inspector = sa.inspect(engine)
        with engine.connect() as conn:
            for schema in _schemas(engine, parsed):
                for table_name in inspector.get_table_names(schema=schema):
                    yield from _scan_table(
                        conn, inspector, schema, table_name, shown_url, detector, count
                    )
    finally:
        engine.dispose()


def _scan_table(
    conn: sa.Connection,
    inspector: sa.Inspector,
    schema: str | None,
    table_name: str,
    shown_url: str,
    detector: Detector,
    count: SourceCount | None,
) -> Iterator[Finding]:
    columns = inspector.get_columns(table_name, schema=schema)
    scanned = [c["name"] for c in columns if isinstance(c["type"], _TEXT_TYPES)]
    if not scanned:
        return
    keys = list(inspector.get_pk_constraint(table_name, schema=schema).get("constrained_columns"))
    table = sa.Table(
        table_name,
        sa.MetaData(),
        *(sa.Column(name) for name in dict.fromkeys([*keys, *scanned])),
        schema=schema,
    )
    where = f"{shown_url} table {schema + '.' if schema else ''}{table_name}"
    query = sa.select(*(table.c[name] for name in dict.fromkeys([*keys, *scanned])))
    result = conn.execution_options(stream_results=True, yield_per=500).execute(query)
    for number, row in enumerate(result, start=1):
        mapping = row._mapping
        row_key = ",".join(f"{k}={mapping[k]}" for k in keys) if keys else f"row #{number}"
        for name in scanned:
            text = _as_text(mapping[name])
            if text is None:
                continue
            if count is not None:
                count.scanned += 1
            for rule, shown in detector.hits(text):
                if count is not None:
                    count.findings += 1
                yield Finding("db", f"{where} column {name} row {row_key}", rule, shown)


# -- files ----------------------------------------------------------------------------------


def _files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file():
                yield child
    elif path.is_file():
        yield path


def scan_path(
    path: Path, detector: Detector, count: SourceCount | None = None
) -> Iterator[Finding]:
    """Scan a file, or every file under a directory, line by line.

    Args:
        path: the file or directory.
        detector: the rules.
        count: counts lines scanned and findings.

    Yields:
        The findings, located by file and line number.
    """
    for file in _files(path):
        with file.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if count is not None:
                    count.scanned += 1
                for rule, shown in detector.hits(raw.decode("utf-8", "replace")):
                    if count is not None:
                        count.findings += 1
                    yield Finding("file", f"{file}:{number}", rule, shown)


# -- Temporal -------------------------------------------------------------------------------


def _payloads(message: Message) -> Iterator[Payload]:
    """Every Payload nested anywhere in a protobuf message."""
    if isinstance(message, Payload):
        yield message
        return
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        for item in _field_items(descriptor, value):
            if isinstance(item, Message):
                yield from _payloads(item)


def _field_items(descriptor: FieldDescriptor, value: Any) -> Iterable[Any]:
    """The values of one set field: itself, a repeated field's items, or a map's keys and values."""
    if descriptor.message_type is not None and descriptor.message_type.GetOptions().map_entry:
        return [part for key in value for part in (key, value[key])]
    if isinstance(value, Message | str | bytes | int | float):
        return (value,)
    return list(value)  # a repeated field


def field_texts(message: Message) -> Iterator[str]:
    """The text of every string, bytes and integer value anywhere in a protobuf message.

    Each value is its own text, so digits of two neighbouring fields, or of a field and the tag
    or length byte before it (0x30-0x39 are ASCII digits), never join into one digit run: the
    serialized bytes as a whole would give such false card numbers.
    """
    for descriptor, value in message.ListFields():
        for item in _field_items(descriptor, value):
            if isinstance(item, Message):
                yield from field_texts(item)
            elif isinstance(item, bytes):
                yield item.decode("utf-8", "replace")
            elif isinstance(item, str):
                yield item
            elif isinstance(item, int) and not isinstance(item, bool):
                yield str(item)


async def scan_temporal(
    client: Client,
    detector: Detector,
    codec: AesGcmCodec | None = None,
    *,
    query: str | None = None,
    count: SourceCount | None = None,
) -> list[Finding]:
    """Scan every workflow history of the client's namespace.

    Every string, bytes and integer field of each event is scanned as stored ("raw"), each on
    its own; each encrypted payload is also decrypted with ``codec`` and scanned ("decoded"). A
    payload that cannot be decrypted is counted in the source's notes.

    Args:
        client: a client of the namespace.
        detector: the rules.
        codec: decrypts ``binary/encrypted`` payloads; None scans the raw bytes only.
        query: a visibility query to narrow the workflows (e.g. ``TaskQueue = 'q'``).
        count: counts events scanned and findings.

    Returns:
        The findings, located by workflow id, run id and event id.
    """
    findings: list[Finding] = []
    undecryptable = 0
    gate = asyncio.Semaphore(_HISTORY_CONCURRENCY)

    async def one(workflow_id: str, run_id: str | None) -> None:
        nonlocal undecryptable
        async with gate:
            handle = client.get_workflow_handle(workflow_id, run_id=run_id)
            async for event in handle.fetch_history_events():
                where = f"workflow {workflow_id} run {run_id} event {event.event_id}"
                if count is not None:
                    count.scanned += 1
                for text in field_texts(event):
                    for rule, shown in detector.hits(text):
                        findings.append(Finding("temporal", f"{where} (raw)", rule, shown))
                if codec is None:
                    continue
                for payload in _payloads(event):
                    if payload.metadata.get("encoding") != ENCRYPTED_ENCODING:
                        continue
                    try:
                        (plain,) = await codec.decode([payload])
                    except PayloadDecryptError:
                        undecryptable += 1
                        continue
                    for text in field_texts(plain):
                        for rule, shown in detector.hits(text):
                            findings.append(Finding("temporal", f"{where} (decoded)", rule, shown))

    tasks = [one(wf.id, wf.run_id) async for wf in _workflows(client, query)]
    await asyncio.gather(*tasks)
    if count is not None:
        count.findings += len(findings)
        if undecryptable:
            count.notes.append(f"{undecryptable} encrypted payloads not decryptable")
    findings.sort(key=lambda f: f.location)
    return findings


async def _workflows(client: Client, query: str | None) -> AsyncIterator[Any]:
    async for execution in client.list_workflows(query):
        yield execution


# -- the whole scan -------------------------------------------------------------------------


def _codec(codec_keys: str | None) -> AesGcmCodec | None:
    if not codec_keys or not codec_keys.strip():
        return None
    try:
        return AesGcmCodec(parse_key_ring(codec_keys, "codec keys"))
    except CodecKeyError as exc:
        raise ScanArgumentError(str(exc)) from None


def _codec_secrets(codec_keys: str | None) -> dict[str, str]:
    """The base64 text of every codec key, as known secrets named ``codec-key:<id>``."""
    if not codec_keys or not codec_keys.strip():
        return {}
    found: dict[str, str] = {}
    for line in codec_keys.splitlines():
        if line.lstrip().startswith("#"):
            continue
        for entry in line.split(","):
            key_id, sep, encoded = entry.strip().partition(":")
            if sep and encoded.strip():
                found[f"codec-key:{key_id.strip()}"] = encoded.strip()
    return found


def _collect(found: Iterator[Finding]) -> list[Finding]:
    return list(found)


async def scan_async(
    db_urls: Sequence[str] = (),
    paths: Sequence[str | Path] = (),
    *,
    temporal_target: str | None = None,
    temporal_namespace: str = "default",
    temporal_client: Client | None = None,
    temporal_query: str | None = None,
    secrets: Mapping[str, str] | None = None,
    codec_keys: str | None = None,
    stats: ScanStats | None = None,
) -> list[Finding]:
    """Scan databases, files and Temporal histories for card numbers and known secrets.

    Args:
        db_urls: SQLAlchemy URLs (store, ERP ...; not the PayTrace simulator's).
        paths: log files or directories (searched recursively).
        temporal_target: ``host:port`` of a Temporal frontend whose histories are scanned.
        temporal_namespace: the namespace there.
        temporal_client: an already connected client, instead of ``temporal_target``.
        temporal_query: a visibility query narrowing the workflows; None scans them all.
        secrets: known secrets by name (passwords, API keys, HMAC secrets ...), each at least
            8 characters.
        codec_keys: the payload codec's key ring text (``id:base64key,...``, as
            ``TRACEPOST_CODEC_KEYS``): encrypted payloads are decrypted and scanned, and each
            key is a known secret too (``codec-key:<id>``).
        stats: filled with per-source counts when given.

    Returns:
        Every finding, databases first, then files, then histories.

    Raises:
        ScanArgumentError: a secret is too short, a path does not exist, or the codec keys
            are malformed.
    """
    known = {**_codec_secrets(codec_keys), **(secrets or {})}
    detector = Detector(check_secrets(known))
    codec = _codec(codec_keys)
    missing = await asyncio.to_thread(lambda: [str(p) for p in paths if not os.path.exists(p)])
    if missing:
        raise ScanArgumentError(f"no such file or directory: {', '.join(missing)}")
    stats = stats if stats is not None else ScanStats()
    findings: list[Finding] = []
    for url in db_urls:
        count = stats.add(f"db {sa.make_url(url).render_as_string(hide_password=True)}")
        findings.extend(await asyncio.to_thread(_collect, scan_database(url, detector, count)))
    for path in paths:
        count = stats.add(f"path {path}")
        findings.extend(await asyncio.to_thread(_collect, scan_path(Path(path), detector, count)))
    client = temporal_client
    if client is None and temporal_target:
        client = await Client.connect(temporal_target, namespace=temporal_namespace)
    if client is not None:
        count = stats.add(f"temporal {client.service_client.config.target_host}/{client.namespace}")
        findings.extend(
            await scan_temporal(client, detector, codec, query=temporal_query, count=count)
        )
    return findings


def _synchronous(function: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, T]:
    """A coroutine function made a plain one that runs it in a fresh event loop."""

    @functools.wraps(function)
    def run_it(*args: P.args, **kwargs: P.kwargs) -> T:
        return asyncio.run(function(*args, **kwargs))

    return run_it


scan = _synchronous(scan_async)
"""Synchronous :func:`scan_async`, with the same arguments (not from inside a running event
loop: await that one)."""


# -- command line ---------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.secret_scan", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--db", action="append", default=[], help="SQLAlchemy URL (repeat)")
    parser.add_argument("--path", action="append", default=[], help="log file or dir (repeat)")
    parser.add_argument("--temporal-target", help="host:port of a Temporal frontend")
    parser.add_argument("--namespace", default="default", help="Temporal namespace")
    parser.add_argument("--temporal-query", help="visibility query narrowing the workflows")
    parser.add_argument(
        "--secret", action="append", default=[], help="known secret as NAME=VALUE (repeat)"
    )
    parser.add_argument(
        "--secret-env",
        action="append",
        default=[],
        help="name of an environment variable holding a known secret (repeat)",
    )
    parser.add_argument(
        "--codec-keys-env",
        help="environment variable holding the codec key ring (e.g. TRACEPOST_CODEC_KEYS)",
    )
    return parser


class _ArgumentError(Exception):
    pass


def _secrets_from(args: argparse.Namespace) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in args.secret:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise _ArgumentError("--secret takes NAME=VALUE")
        found[name] = value
    for var in args.secret_env:
        if var not in os.environ:
            raise _ArgumentError(f"--secret-env {var}: the variable is not set")
        found[var] = os.environ[var]
    return found


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status (no ``os._exit``; for tests).

    Args:
        argv: the arguments, without the program name; None reads ``sys.argv``.

    Returns:
        0 clean, 1 something found, 2 bad arguments or an unreadable source.
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    try:
        secrets = _secrets_from(args)
        codec_keys = None
        if args.codec_keys_env:
            if args.codec_keys_env not in os.environ:
                raise _ArgumentError(f"--codec-keys-env {args.codec_keys_env}: not set")
            codec_keys = os.environ[args.codec_keys_env]
        if not (args.db or args.path or args.temporal_target):
            raise _ArgumentError("nothing to scan: give --db, --path or --temporal-target")
        stats = ScanStats()
        findings = scan(
            args.db,
            args.path,
            temporal_target=args.temporal_target,
            temporal_namespace=args.namespace,
            temporal_query=args.temporal_query,
            secrets=secrets,
            codec_keys=codec_keys,
            stats=stats,
        )
    except (_ArgumentError, ScanArgumentError) as exc:
        print(f"secret_scan: {exc}", file=sys.stderr)
        return 2
    except (sa.exc.SQLAlchemyError, OSError, RuntimeError) as exc:
        print(f"secret_scan: cannot scan: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    for source in stats.sources:
        notes = f" ({'; '.join(source.notes)})" if source.notes else ""
        print(f"{source.label}: {source.scanned} scanned, {source.findings} findings{notes}")
    for finding in findings:
        print(finding)
    print(f"total: {len(findings)} findings")
    return 1 if findings else 0


def main() -> None:
    """Entry point: run, then leave without interpreter teardown (the Temporal SDK can crash there)."""
    code = run()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
