"""bench/secret_scan.py: planted card numbers and secrets are found where they are, clean is clean.

Only the networks' published test numbers are planted. The Temporal cases run a tiny workflow
(tests/secret_probe_workflow.py) on the session's dev server, on a task queue of their own, and
scan only that queue's workflows (other tests' histories are not this module's business).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import re
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench.secret_scan import (
    Finding,
    ScanArgumentError,
    ScanStats,
    field_texts,
    find_cards,
    run,
    scan,
    scan_async,
)
from tests.dbs import pg_schema_url
from tests.secret_probe_workflow import SecretProbe
from workers.codec import AesGcmCodec, parse_key_ring

VISA = "4111111111111111"
VISA_2 = "4012000098765439"
SECRET = "s3cret-api-password-42"
CODEC_KEYS = "kscan:" + base64.b64encode(bytes(range(32))).decode()
ROOT = Path(__file__).resolve().parent.parent


def _shown(findings: list[Finding]) -> str:
    return "\n".join(str(f) for f in findings)


# -- detection ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (VISA, "411111******1111"),
        (f"card={VISA_2};", "401200******5439"),
        ("4111 1111 1111 1111", "411111******1111"),
        ("4012-0000-9876-5439", "401200******5439"),
        (f"2024-12-03 {VISA}", "411111******1111"),  # a date before it does not hide it
        ("5555555555554444", "555555******4444"),  # Mastercard
        ("378282246310005", "378282*****0005"),  # Amex
        ("6011111111111117", "601111******1117"),  # Discover
        (f"run abcd-{VISA}", "411111******1111"),  # a short hex word before it
        (f"{VISA}-0bcd", "411111******1111"),
    ],
)
def test_card_numbers_are_found(text: str, shown: str) -> None:
    assert [masked for _, masked in find_cards(text)] == [shown]


@pytest.mark.parametrize(
    "text",
    [
        "xxxxxxxxxxxx5439",
        "411111******1111",
        "at 1733212345678 ms",  # epoch milliseconds
        "1733212345678000",
        "4111111111111112",  # 16 digits, not Luhn-valid
        "0000000000000000",  # Luhn-valid, no network
        "id 1000000000000000009",
        "41111111111111111111",  # 20 digits: a card inside a longer number is not a card
        # a UUID whose groups hold the Luhn-valid "4111111111119" by chance (a request id)
        "abcd4111-1111-1111-9bcd-0123456789ab",
        "request_id=abcd4111-1111-1111-9bcd-0123456789ab;",
        "sha256 " + "e" * 24 + "4111111111111111" + "f" * 24,  # a digest
    ],
)
def test_not_card_numbers(text: str) -> None:
    assert list(find_cards(text)) == []


def test_protobuf_fields_are_scanned_each_on_its_own() -> None:
    # A 52-byte field: its length byte is 0x34, the ASCII digit "4", right before fifteen "1"s,
    # so the serialized bytes hold "4111111111111111" though no field does.
    boundary = Payload(metadata={"encoding": b"json/plain"}, data=b"1" * 15 + b"x" * 37)
    serialized = boundary.SerializeToString().decode("utf-8", "replace")
    assert [network for network, _ in find_cards(serialized)] == ["visa"]  # the control
    assert [c for text in field_texts(boundary) for c in find_cards(text)] == []

    nested = Payloads(payloads=[boundary, Payload(metadata={"note": VISA_2.encode()}, data=b"1")])
    assert [found for text in field_texts(nested) for found in find_cards(text)] == [
        ("visa", "401200******5439")
    ]


def test_mask_shows_first_six_and_last_four() -> None:
    assert list(find_cards(VISA_2)) == [("visa", "401200******5439")]


def test_short_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScanArgumentError, match="'pin'") as caught:
        scan(paths=[tmp_path], secrets={"pin": "1234567"})
    assert "1234567" not in str(caught.value)


# -- databases ------------------------------------------------------------------------------


def _plant(url: str, rows: list[tuple[int, str, bytes | None]]) -> None:
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    table = sa.Table(
        "receipts",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("memo", sa.String(200)),
        sa.Column("raw", sa.LargeBinary),
        sa.Column("amount", sa.Numeric(15, 3)),
        sa.Column("at_ms", sa.BigInteger),
    )
    keyless = sa.Table("notes", meta, sa.Column("body", sa.Text))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            table.insert(),
            [
                {"id": i, "memo": m, "raw": r, "amount": 12.5, "at_ms": 1733212345678}
                for i, m, r in rows
            ],
        )
        conn.execute(keyless.insert(), [{"body": "masked xxxxxxxxxxxx5439"}])
    engine.dispose()


def test_sqlite_card_and_secret_found_with_their_row(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    _plant(url, [(1, "clean", None), (7, f"paid with {VISA}", None), (9, "x", SECRET.encode())])
    stats = ScanStats()
    findings = scan([url], secrets={"api_password": SECRET}, stats=stats)
    assert [(f.rule, f.location, f.shown) for f in findings] == [
        ("card:visa", f"{url} table receipts column memo row id=7", "411111******1111"),
        ("secret:api_password", f"{url} table receipts column raw row id=9", "api_password"),
    ]
    assert VISA not in _shown(findings) and SECRET not in _shown(findings)
    assert stats.sources[0].findings == 2 and stats.sources[0].scanned >= 4


def test_clean_sqlite_has_no_finding(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/erp.db"
    _plant(url, [(1, "order 1733212345678", b"4111111111111112"), (2, "xxxxxxxxxxxx1111", None)])
    assert scan([url], secrets={"api_password": SECRET}) == []


def test_postgresql_scans_the_search_path_schema_only() -> None:
    with pg_schema_url() as url, pg_schema_url() as other:
        _plant(url, [(3, f"card {VISA_2}", None)])
        _plant(other, [(4, f"card {VISA}", None)])
        findings = scan([url])
        assert [(f.rule, f.shown) for f in findings] == [("card:visa", "401200******5439")]
        schema = url.rsplit("%3D", 1)[1]
        assert findings[0].location.endswith(f"table {schema}.receipts column memo row id=3")


# -- files ----------------------------------------------------------------------------------


def test_log_files_found_by_line(tmp_path: Path) -> None:
    logs = tmp_path / "logs" / "deep"
    logs.mkdir(parents=True)
    (logs / "api.log").write_text(
        f"ok 1733212345678\nmasked xxxxxxxxxxxx5439\ncard {VISA}\nkey {SECRET}\n"
    )
    (tmp_path / "logs" / "clean.log").write_text("nothing 4111111111111112 here\n")
    findings = scan(paths=[tmp_path / "logs"], secrets={"hmac": SECRET})
    assert [(f.location, f.rule) for f in findings] == [
        (f"{logs / 'api.log'}:3", "card:visa"),
        (f"{logs / 'api.log'}:4", "secret:hmac"),
    ]


# -- Temporal -------------------------------------------------------------------------------


async def _probe(client: Client, queue: str, note: str) -> str:
    workflow_id = f"secret-probe-{uuid.uuid4().hex[:8]}"
    await client.execute_workflow(
        SecretProbe.run,
        note,
        id=workflow_id,
        task_queue=queue,
        execution_timeout=timedelta(seconds=30),
    )
    return workflow_id


async def _scan_queue(
    env: WorkflowEnvironment, queue: str, expected: int, **kwargs: object
) -> list[Finding]:
    query = f"TaskQueue = '{queue}'"
    for _ in range(100):  # visibility can lag the close by a moment
        listed = [w async for w in env.client.list_workflows(query)]
        if len(listed) >= expected:
            break
        await asyncio.sleep(0.05)
    return await scan_async(
        temporal_client=env.client,
        temporal_query=query,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_workflow_histories_raw_and_decoded(dev_env: WorkflowEnvironment) -> None:
    queue = f"secret-scan-{uuid.uuid4().hex[:8]}"
    codec = AesGcmCodec(parse_key_ring(CODEC_KEYS))
    encrypted = Client(
        dev_env.client.service_client,
        namespace=dev_env.client.namespace,
        data_converter=dataclasses.replace(pydantic_data_converter, payload_codec=codec),
    )
    async with Worker(dev_env.client, task_queue=queue, workflows=[SecretProbe]):
        plain_card = await _probe(dev_env.client, queue, f"charge {VISA}")
        plain_secret = await _probe(dev_env.client, queue, f"login {SECRET}")
        clean = await _probe(dev_env.client, queue, "masked xxxxxxxxxxxx5439 at 1733212345678")
    async with Worker(encrypted, task_queue=f"{queue}-enc", workflows=[SecretProbe]):
        hidden = await _probe(encrypted, f"{queue}-enc", f"charge {VISA_2}")

    found = await _scan_queue(dev_env, queue, 3, secrets={"password": SECRET})
    located = {
        (
            re.sub(r" run .*", "", f.location),
            re.sub(r".* event (\d+) .*", r"\1", f.location),
            f.rule,
        )
        for f in found
    }
    assert located == {
        (f"workflow {plain_card}", "1", "card:visa"),
        (f"workflow {plain_secret}", "1", "secret:password"),
    }, _shown(found)
    assert all(f.location.endswith("(raw)") for f in found)
    assert not any(clean in f.location for f in found)
    assert VISA not in _shown(found) and SECRET not in _shown(found)

    without_keys = await _scan_queue(dev_env, f"{queue}-enc", 1)
    assert without_keys == []  # what is stored is ciphertext
    stats = ScanStats()
    with_keys = await _scan_queue(dev_env, f"{queue}-enc", 1, codec_keys=CODEC_KEYS, stats=stats)
    assert [(f.rule, f.shown) for f in with_keys] == [("card:visa", "401200******5439")]
    assert with_keys[0].location.startswith(f"workflow {hidden} run ")
    assert with_keys[0].location.endswith("event 1 (decoded)")
    assert stats.sources[0].scanned >= 5  # started, task events, completed


# -- command line ---------------------------------------------------------------------------


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    dirty = tmp_path / "dirty.log"
    dirty.write_text(f"card {VISA}\n")
    clean = tmp_path / "clean.log"
    clean.write_text("xxxxxxxxxxxx1111 1733212345678\n")
    monkeypatch.setenv("SCAN_TEST_SECRET", SECRET)
    assert run(["--path", str(clean), "--secret-env", "SCAN_TEST_SECRET"]) == 0
    assert run(["--path", str(dirty)]) == 1
    out = capsys.readouterr().out
    assert "411111******1111" in out and VISA not in out and f"{dirty}:1" in out
    assert run([]) == 2
    assert run(["--path", str(tmp_path / "missing")]) == 2
    assert run(["--path", str(clean), "--secret", "pin=1234"]) == 2
    assert run(["--path", str(clean), "--secret-env", "SCAN_TEST_UNSET_VAR"]) == 2
    assert run(["--bogus"]) == 2
    assert SECRET not in capsys.readouterr().err


def test_cli_process_exit_status(tmp_path: Path) -> None:
    dirty = tmp_path / "dirty.log"
    dirty.write_text(f"token {SECRET}\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.secret_scan",
            "--path",
            str(dirty),
            "--secret",
            f"k={SECRET}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "secret:k" in done.stdout and SECRET not in done.stdout
