"""Payload encryption: the AES-GCM codec, its key ring and key file, the codec server endpoints,
and — on the real Temporal dev server — a workflow whose history holds no customer data in clear."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload, WorkflowExecution
from temporalio.api.failure.v1 import Failure
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError

from domain.order_io import OrderOutcome, OrderSyncResult
from tests.ops_helpers import asgi_client
from tests.orders import ORDERS_MAPPING, new_email, paid_order
from tests.stack import running_stack
from workers.cli import build_parser
from workers.codec import (
    ENCRYPTED_ENCODING,
    KEY_ID_METADATA,
    AesGcmCodec,
    CodecKeyError,
    KeyRing,
    PayloadDecryptError,
    codec_from_settings,
    ensure_key_file,
    load_key_ring,
    parse_key_ring,
    prepend_new_key,
)
from workers.codec_server import install_codec
from workers.settings import Settings
from workers.temporal_client import data_converter, encrypted_data_converter
from workflows.registry import OrderSync

UI_ORIGIN = "http://127.0.0.1:8233"
TOKEN = "codec-token-for-tests-0123456789"


def key_text(seed: int = 1, size: int = 32) -> str:
    return base64.b64encode(bytes([seed]) * size).decode()


def ring(*ids: str) -> KeyRing:
    return parse_key_ring(",".join(f"{kid}:{key_text(i + 1)}" for i, kid in enumerate(ids)))


def json_payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


# -- the codec ------------------------------------------------------------------------------


async def test_a_payload_round_trips_and_carries_its_key_id():
    codec = AesGcmCodec(ring("k1", "k0"))
    original = [json_payload("Ada Lovelace"), Payload(metadata={"encoding": b"binary/null"})]
    encoded = await codec.encode(original)
    for payload in encoded:
        assert payload.metadata["encoding"] == ENCRYPTED_ENCODING
        assert payload.metadata[KEY_ID_METADATA] == b"k1"
        assert set(payload.metadata) == {"encoding", KEY_ID_METADATA}
        assert b"Ada" not in payload.data and b"json/plain" not in payload.data
    assert encoded[0].data != (await codec.encode(original[:1]))[0].data  # a fresh nonce each time
    assert await codec.decode(encoded) == original


async def test_rotation_a_new_first_key_encrypts_and_the_old_one_still_decrypts():
    old = parse_key_ring(f"old:{key_text(1)}")
    rotated = parse_key_ring(f"new:{key_text(2)},old:{key_text(1)}")
    written_before = await AesGcmCodec(old).encode([json_payload("before")])
    codec = AesGcmCodec(rotated)
    assert await codec.decode(written_before) == [json_payload("before")]
    written_after = await codec.encode([json_payload("after")])
    assert written_after[0].metadata[KEY_ID_METADATA] == b"new"
    assert await codec.decode(written_after) == [json_payload("after")]


async def test_an_unknown_key_id_fails_clearly():
    encoded = await AesGcmCodec(ring("gone")).encode([json_payload("x")])
    with pytest.raises(PayloadDecryptError, match="key 'gone', which is not configured"):
        await AesGcmCodec(parse_key_ring(f"other:{key_text(9)}")).decode(encoded)


async def test_a_tampered_or_relabelled_payload_fails_clearly():
    codec = AesGcmCodec(ring("k1", "k2"))
    (encoded,) = await codec.encode([json_payload("amount 125.00")])
    flipped = Payload()
    flipped.CopyFrom(encoded)
    data = bytearray(flipped.data)
    data[20] ^= 0x01
    flipped.data = bytes(data)
    relabelled = Payload()
    relabelled.CopyFrom(encoded)
    relabelled.metadata[KEY_ID_METADATA] = b"k2"
    truncated = Payload()
    truncated.CopyFrom(encoded)
    truncated.data = encoded.data[:10]
    for bad in (flipped, relabelled, truncated):
        with pytest.raises(PayloadDecryptError, match="does not authenticate"):
            await codec.decode([bad])


async def test_payloads_written_before_the_codec_pass_through():
    plain = [
        json_payload("old history"),
        Payload(metadata={"encoding": b"binary/plain"}, data=b"x"),
    ]
    assert await AesGcmCodec(ring("k1")).decode(plain) == plain


async def test_failure_messages_and_stack_traces_are_encrypted_too():
    converter = encrypted_data_converter(AesGcmCodec(ring("k1")))
    failure = Failure()
    try:
        raise ApplicationError("customer Ada Lovelace is on credit hold", type="CreditHold")
    except ApplicationError as exc:
        await converter.encode_failure(exc, failure)
    assert b"Ada" not in failure.SerializeToString()
    assert failure.encoded_attributes.metadata["encoding"] == ENCRYPTED_ENCODING
    back = await converter.decode_failure(failure)
    assert isinstance(back, ApplicationError) and back.type == "CreditHold"
    assert back.message == "customer Ada Lovelace is on credit hold"


# -- the key ring ---------------------------------------------------------------------------


def test_the_key_ring_keeps_order_and_accepts_lines_and_comments():
    parsed = parse_key_ring(f"# keys\na:{key_text(1)}\n\nb.2_x-y:{key_text(2)}, c:{key_text(3)}\n")
    assert parsed.ids == ("a", "b.2_x-y", "c") and parsed.active_id == "a"
    assert key_text(1) not in repr(parsed) and "\\x01" not in repr(parsed)
    assert key_text(1) not in repr(AesGcmCodec(parsed))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"short:{key_text(7, 16)}", "is 16 bytes, AES-256 needs 32"),
        (f"long:{key_text(7, 48)}", "is 48 bytes"),
        (f"dup:{key_text(7)},dup:{key_text(8)}", "key id 'dup' appears twice"),
        (f"bad id!:{key_text(7)}", "the key id must be"),
        (f"{key_text(7)}:{key_text(8)}", "the key id must be"),  # a key where the id belongs
        (key_text(7), "is not id:base64-key"),
        (f":{key_text(7)}", "the key id must be"),
        (f"k:{key_text(7)[:-4]}!!!!", "the key is not base64"),
        ("", "no key"),
        (" ,\n# only a comment\n", "no key"),
    ],
)
def test_key_ring_errors_never_contain_a_key(text, message):
    with pytest.raises(CodecKeyError, match=message) as caught:
        parse_key_ring(text)
    shown = f"{caught.value} {caught.value!r}"
    for secret in (key_text(7), key_text(7, 16), key_text(7, 48), key_text(8), key_text(7)[:20]):
        assert secret not in shown


def test_load_keys_from_the_setting_the_file_or_not_at_all(tmp_path):
    assert load_key_ring(Settings(var_dir=tmp_path, codec="off")) is None
    assert codec_from_settings(Settings(var_dir=tmp_path, codec="off")) is None
    assert data_converter(Settings(var_dir=tmp_path, codec="off")) is pydantic_data_converter
    configured = Settings(var_dir=tmp_path, codec_keys=SecretStr(f"env:{key_text(1)}"))
    loaded = load_key_ring(configured)
    assert loaded is not None and loaded.ids == ("env",)
    converter = data_converter(configured)
    assert isinstance(converter.payload_codec, AesGcmCodec)
    assert converter.payload_codec.key_ids == ("env",)

    with pytest.raises(CodecKeyError) as missing:
        load_key_ring(Settings(var_dir=tmp_path))
    assert "tracepost codec new-key" in str(missing.value)
    assert "TRACEPOST_CODEC_KEYS" in str(missing.value)
    assert str(tmp_path / "codec-keys") in str(missing.value)

    (tmp_path / "codec-keys").write_text(f"# file\nfile1:{key_text(3)}\n")
    from_file = load_key_ring(Settings(var_dir=tmp_path))
    assert from_file is not None and from_file.ids == ("file1",)
    (tmp_path / "codec-keys").write_text(f"file1:{key_text(3, 8)}\n")
    with pytest.raises(CodecKeyError, match="codec-keys: entry 1") as broken:
        load_key_ring(Settings(var_dir=tmp_path))
    assert key_text(3, 8) not in str(broken.value)


def test_the_dev_stack_creates_a_private_key_file_once(tmp_path):
    assert ensure_key_file(Settings(var_dir=tmp_path, codec="off")) is None
    assert ensure_key_file(Settings(var_dir=tmp_path, codec_keys=SecretStr("x"))) is None
    assert not (tmp_path / "codec-keys").exists()
    settings = Settings(var_dir=tmp_path / "var")
    key_id = ensure_key_file(settings)
    path = tmp_path / "var" / "codec-keys"
    assert key_id is not None and stat.S_IMODE(path.stat().st_mode) == 0o600
    created = load_key_ring(settings)
    assert created is not None and created.ids == (key_id,)
    before = path.read_text()
    assert ensure_key_file(settings) is None and path.read_text() == before


def test_new_key_rotation_keeps_the_old_keys(tmp_path):
    path = tmp_path / "keys"
    first = prepend_new_key(path)
    second = prepend_new_key(path)
    rotated = parse_key_ring(path.read_text())
    assert rotated.ids == (second, first)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["keys"]  # no temporary file left
    path.write_text("broken")
    with pytest.raises(CodecKeyError):
        prepend_new_key(path)
    assert path.read_text() == "broken"


def test_the_cli_prints_only_the_new_key_id(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TRACEPOST_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("TRACEPOST_CODEC_KEYS", raising=False)
    monkeypatch.delenv("TRACEPOST_CODEC_KEYS_FILE", raising=False)
    args = build_parser().parse_args(["codec", "new-key"])
    assert args.func(args) == 0
    out, err = capsys.readouterr()
    keys = parse_key_ring((tmp_path / "codec-keys").read_text())
    assert out.strip() == keys.active_id
    other = tmp_path / "elsewhere"
    args = build_parser().parse_args(["codec", "new-key", "--file", str(other)])
    assert args.func(args) == 0
    out2, err2 = capsys.readouterr()
    assert out2.strip() == parse_key_ring(other.read_text()).active_id
    for _, key in (*keys.keys, *parse_key_ring(other.read_text()).keys):
        assert base64.b64encode(key).decode() not in out + err + out2 + err2

    monkeypatch.setenv("TRACEPOST_CODEC_KEYS", f"env:{key_text(1)}")
    args = build_parser().parse_args(["codec", "new-key"])
    assert args.func(args) == 2
    assert "TRACEPOST_CODEC_KEYS" in capsys.readouterr().err


def test_a_cli_command_without_keys_says_how_to_configure(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEPOST_CODEC")}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "tracepost"), "attention", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**env, "TRACEPOST_VAR_DIR": str(tmp_path / "var")},
    )
    assert done.returncode == 2, done.stderr
    assert "tracepost codec new-key" in done.stderr and "TRACEPOST_CODEC_KEYS" in done.stderr
    assert "Traceback" not in done.stderr


# -- the codec server -----------------------------------------------------------------------


def codec_app(tmp_path: Path, user: str | None = None, **overrides: Any) -> FastAPI:
    given: dict[str, Any] = {
        "codec_keys": SecretStr(f"k1:{key_text(1)}"),
        "codec_token": SecretStr(TOKEN),
        **overrides,
    }
    settings = Settings(var_dir=tmp_path, **given)
    app = FastAPI()

    @app.get("/ops/other")
    async def other() -> dict[str, str]:
        return {"ok": "yes"}

    codec = codec_from_settings(settings)
    assert codec is not None

    def session_user(request: Request) -> str | None:
        return user if request.cookies.get("tracepost_session") == "valid" else None

    install_codec(app, settings, codec, session_user=session_user)
    return app


def wire(payload: Payload) -> dict[str, object]:
    return {
        "metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
        "data": base64.b64encode(payload.data).decode(),
    }


BEARER = {"Authorization": f"Bearer {TOKEN}"}


async def test_the_codec_endpoints_need_the_token_or_an_operator_session(tmp_path):
    body = {"payloads": [wire(json_payload("Ada"))]}
    async with asgi_client(codec_app(tmp_path, user="jane")) as api:
        for path in ("/codec/encode", "/codec/decode"):
            refused = await api.post(path, json=body)
            assert refused.status_code == 401 and "error" in refused.json()
            wrong = await api.post(path, json=body, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            no_user = await api.post(
                path, json=body, headers={"Cookie": "tracepost_session=forged"}
            )
            assert no_user.status_code == 401
        encoded = await api.post("/codec/encode", json=body, headers=BEARER)
        assert encoded.status_code == 200, encoded.text
        (sealed,) = encoded.json()["payloads"]
        assert base64.b64decode(sealed["metadata"]["encoding"]) == ENCRYPTED_ENCODING
        assert base64.b64decode(sealed["metadata"][KEY_ID_METADATA]) == b"k1"
        api.cookies.set("tracepost_session", "valid")
        decoded = await api.post("/codec/decode", json={"payloads": [sealed]})
        assert decoded.status_code == 200, decoded.text
        assert decoded.json() == body
        assert decoded.headers["cache-control"] == "no-store"


async def test_without_a_token_setting_only_sessions_pass(tmp_path):
    body = {"payloads": [wire(json_payload("Ada"))]}
    async with asgi_client(codec_app(tmp_path, codec_token=SecretStr(""))) as api:
        empty = await api.post("/codec/decode", json=body, headers={"Authorization": "Bearer "})
        assert empty.status_code == 401


async def test_cors_answers_the_web_ui_only_and_only_on_codec_paths(tmp_path):
    preflight = {
        "Origin": UI_ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace",
    }
    async with asgi_client(codec_app(tmp_path, user="jane")) as api:
        allowed = await api.options("/codec/decode", headers=preflight)
        assert allowed.status_code == 204
        assert allowed.headers["access-control-allow-origin"] == UI_ORIGIN
        assert allowed.headers["access-control-allow-credentials"] == "true"
        assert allowed.headers["access-control-allow-headers"] == (
            "Content-Type, Authorization, X-Namespace"
        )
        assert "POST" in allowed.headers["access-control-allow-methods"]
        foreign = await api.options(
            "/codec/decode", headers={**preflight, "Origin": "https://evil.example"}
        )
        assert foreign.status_code == 403
        assert "access-control-allow-origin" not in foreign.headers
        answered = await api.post(
            "/codec/decode",
            json={"payloads": []},
            headers={"Origin": UI_ORIGIN, "Cookie": "tracepost_session=valid"},
        )
        assert answered.status_code == 200 and answered.json() == {"payloads": []}
        assert answered.headers["access-control-allow-origin"] == UI_ORIGIN
        refused = await api.post(
            "/codec/decode", json={"payloads": []}, headers={"Origin": UI_ORIGIN}
        )
        assert refused.status_code == 401  # readable by the UI: it shows why
        assert refused.headers["access-control-allow-origin"] == UI_ORIGIN
        elsewhere = await api.post(  # a signed-in operator's browser on some other site
            "/codec/decode",
            json={"payloads": []},
            headers={"Origin": "https://evil.example", "Cookie": "tracepost_session=valid"},
        )
        assert elsewhere.status_code == 403 and "may not call" in elsewhere.json()["error"]
        other = await api.get("/ops/other", headers={"Origin": UI_ORIGIN})
        assert "access-control-allow-origin" not in other.headers


async def test_configured_origins_replace_the_default(tmp_path):
    app = codec_app(tmp_path, codec_cors_origins=["https://temporal.acme.example/"])
    async with asgi_client(app) as api:
        headers = {"Access-Control-Request-Method": "POST"}
        ui = await api.options(
            "/codec/decode", headers={**headers, "Origin": "https://temporal.acme.example"}
        )
        assert ui.headers["access-control-allow-origin"] == "https://temporal.acme.example"
        local = await api.options("/codec/decode", headers={**headers, "Origin": UI_ORIGIN})
        assert "access-control-allow-origin" not in local.headers


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"payload": []}',
        b'{"payloads": {"a": 1}}',
        b'{"payloads": ["x"]}',
        b'{"payloads": [{"metadata": []}]}',
        b'{"payloads": [{"data": 5}]}',
        b'{"payloads": [{"metadata": {"encoding": 7}}]}',
        b"[" * 100_000,  # nested past Python's recursion limit
    ],
)
async def test_malformed_bodies_get_422_with_a_reason(tmp_path, content):
    async with asgi_client(codec_app(tmp_path)) as api:
        answer = await api.post(
            "/codec/decode",
            content=content,
            headers={**BEARER, "Content-Type": "application/json"},
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]


async def test_undecryptable_payloads_and_wrong_content_types_are_refused(tmp_path):
    stranger = await AesGcmCodec(parse_key_ring(f"zz:{key_text(5)}")).encode([json_payload("x")])
    async with asgi_client(codec_app(tmp_path)) as api:
        unknown = await api.post(
            "/codec/decode", json={"payloads": [wire(stranger[0])]}, headers=BEARER
        )
        assert unknown.status_code == 422 and "'zz'" in unknown.json()["error"]
        form = await api.post("/codec/decode", data={"payloads": "[]"}, headers=BEARER)
        assert form.status_code == 415


# -- on the real Temporal dev server --------------------------------------------------------


async def history_bytes(client: Client, workflow_id: str) -> bytes:
    """The raw history as the Temporal service stores and serves it."""
    raw = b""
    token = b""
    while True:
        page = await client.service_client.workflow_service.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(
                namespace=client.namespace,
                execution=WorkflowExecution(workflow_id=workflow_id),
                next_page_token=token,
            )
        )
        raw += page.history.SerializeToString()
        token = page.next_page_token
        if not token:
            return raw


async def synced_order(client: Client, tmp_path: Path, name: str, email: str, **settings):
    """Run one guest order's OrderSync on a worker of ``client``; its id and raw history."""
    async with running_stack(
        client, tmp_path, f"sqlite:///{tmp_path}/erp.db", mapping=ORDERS_MAPPING, **settings
    ) as stack:
        customer = {"name": name, "email": email, "phone": "555-0142"}
        order = await paid_order(stack, customer)
        result: OrderSyncResult = await client.get_workflow_handle_for(
            OrderSync.run, order.workflow_id
        ).result()
        assert result.outcome is OrderOutcome.SYNCED, result.reason
        created = stack.erp.get_customer(result.customer_id)
        assert created is not None and created.name == name
        return order.workflow_id, await history_bytes(client, order.workflow_id)


async def test_the_history_of_an_encrypted_workflow_holds_no_customer_data(dev_env, tmp_path):
    keys = SecretStr(f"it{uuid.uuid4().hex[:6]}:{base64.b64encode(os.urandom(32)).decode()}")
    codec = codec_from_settings(Settings(var_dir=tmp_path, codec_keys=keys))
    assert codec is not None
    encrypted = Client(
        **{**dev_env.client.config(), "data_converter": encrypted_data_converter(codec)}
    )

    name = f"Ada Codec {uuid.uuid4().hex[:8]}"
    email = new_email()
    (tmp_path / "on").mkdir()
    workflow_id, raw = await synced_order(encrypted, tmp_path / "on", name, email, codec_keys=keys)
    assert name.encode() not in raw and email.encode() not in raw
    assert b"555-0142" not in raw
    assert KEY_ID_METADATA.encode() in raw and ENCRYPTED_ENCODING in raw
    # Someone holding the keys reads it back.
    history = await encrypted.get_workflow_handle(workflow_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    decoded = await codec.decode(started.input.payloads)
    assert name.encode() in decoded[0].data and email.encode() in decoded[0].data

    # The control: the same workflow without the codec leaves the customer in clear.
    other_name = f"Ada Plain {uuid.uuid4().hex[:8]}"
    other_email = new_email()
    (tmp_path / "off").mkdir()
    _, plain = await synced_order(
        dev_env.client, tmp_path / "off", other_name, other_email, codec="off"
    )
    assert other_name.encode() in plain and other_email.encode() in plain
    assert ENCRYPTED_ENCODING not in plain
