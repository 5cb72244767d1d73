"""Temporal connection options: TLS with a private CA and a server name, mutual TLS, API keys.

``temporal server start-dev`` has no TLS flags, so the real TLS tests put a TLS terminator in
front of the real dev server, the way a load balancer or an ingress fronts a self-hosted Temporal
frontend: it serves a certificate of a throwaway CA (made here with ``cryptography``) for a DNS
name that is not the address dialled, negotiates HTTP/2, optionally requires a client certificate
of that CA, and passes the bytes through. The client side is tracepost's own ``connect()``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from temporalio.service import TLSConfig

from workers.settings import Settings
from workers.temporal_client import connect
from workers.temporal_connection import (
    TemporalConnectionError,
    connection_options,
    describe_connection,
)

SERVER_NAME = "temporal.tracepost.test"
CODEC_KEYS = "tls-test:" + base64.b64encode(bytes(range(32))).decode()
API_KEY = "tp-api-key-do-not-print-7f3a"


# -- a throwaway PKI ------------------------------------------------------------------------


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _cert(
    cn: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
    *,
    ca: bool = False,
    dns: str | None = None,
    usage: x509.ObjectIdentifier | None = None,
    valid: tuple[timedelta, timedelta] = (timedelta(minutes=-5), timedelta(days=1)),
) -> x509.Certificate:
    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    issuer_cert, issuer_key = issuer if issuer else (None, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_cert.subject if issuer_cert else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + valid[0])
        .not_valid_after(now + valid[1])
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        ).add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    else:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), False)
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey, password: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


@dataclass(frozen=True)
class Pki:
    """Files of a test CA, a server certificate for SERVER_NAME and client identities."""

    folder: Path
    ca: Path
    ca_pem: bytes
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path
    stranger_cert: Path
    stranger_key: Path
    expired_cert: Path
    expired_key: Path
    encrypted_key: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca_key, other_key = _key(), _key()
    ca = _cert("tracepost test CA", ca_key, ca=True)
    other = _cert("some other CA", other_key, ca=True)
    server_key, client_key, stranger_key, expired_key = _key(), _key(), _key(), _key()
    files = {
        "ca.pem": _pem(ca),
        "other-ca.pem": _pem(other),
        "server.pem": _pem(
            _cert(
                SERVER_NAME,
                server_key,
                (ca, ca_key),
                dns=SERVER_NAME,
                usage=ExtendedKeyUsageOID.SERVER_AUTH,
            )
        ),
        "server.key": _key_pem(server_key),
        "client.pem": _pem(
            _cert(
                "tracepost-worker",
                client_key,
                (ca, ca_key),
                usage=ExtendedKeyUsageOID.CLIENT_AUTH,
            )
        ),
        "client.key": _key_pem(client_key),
        "stranger.pem": _pem(
            _cert(
                "tracepost-worker",
                stranger_key,
                (other, other_key),
                usage=ExtendedKeyUsageOID.CLIENT_AUTH,
            )
        ),
        "stranger.key": _key_pem(stranger_key),
        "expired.pem": _pem(
            _cert(
                "old-worker",
                expired_key,
                (ca, ca_key),
                usage=ExtendedKeyUsageOID.CLIENT_AUTH,
                valid=(timedelta(days=-30), timedelta(days=-1)),
            )
        ),
        "expired.key": _key_pem(expired_key),
        "encrypted.key": _key_pem(client_key, b"passphrase"),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return Pki(
        folder=folder,
        ca=folder / "ca.pem",
        ca_pem=files["ca.pem"],
        server_cert=folder / "server.pem",
        server_key=folder / "server.key",
        client_cert=folder / "client.pem",
        client_key=folder / "client.key",
        other_ca=folder / "other-ca.pem",
        stranger_cert=folder / "stranger.pem",
        stranger_key=folder / "stranger.key",
        expired_cert=folder / "expired.pem",
        expired_key=folder / "expired.key",
        encrypted_key=folder / "encrypted.key",
    )


def settings(**kwargs: Any) -> Settings:
    return Settings(codec_keys=CODEC_KEYS, **kwargs)


# -- option building ------------------------------------------------------------------------


def test_no_tls_setting_means_plaintext_as_in_the_embedded_stack():
    assert connection_options(settings()) == {"tls": False, "api_key": None}
    assert describe_connection(settings()) == "namespace default at 127.0.0.1:7233 (plaintext)"


def test_tls_alone_uses_the_system_roots():
    options = connection_options(settings(temporal_tls=True))
    assert options == {"tls": TLSConfig(), "api_key": None}


def test_mutual_tls_options_carry_the_files_and_the_server_name(pki):
    options = connection_options(
        settings(
            temporal_tls_ca_cert=pki.ca,
            temporal_tls_server_name=SERVER_NAME,
            temporal_tls_client_cert=pki.client_cert,
            temporal_tls_client_key=pki.client_key,
        )
    )
    tls = options["tls"]
    assert isinstance(tls, TLSConfig)
    assert tls.server_root_ca_cert == pki.ca_pem
    assert tls.domain == SERVER_NAME
    assert tls.client_cert == pki.client_cert.read_bytes()
    assert tls.client_private_key == pki.client_key.read_bytes()
    assert options["api_key"] is None


def test_an_api_key_turns_tls_on_and_is_never_shown(monkeypatch):
    monkeypatch.setenv("TRACEPOST_TEMPORAL_API_KEY", f"  {API_KEY}\n")  # a mounted secret file
    monkeypatch.setenv("TRACEPOST_TEMPORAL_ADDRESS", "prod.a1b2c.tmprl.cloud:7233")
    monkeypatch.setenv("TRACEPOST_TEMPORAL_NAMESPACE", "prod.a1b2c")
    configured = settings()
    assert connection_options(configured) == {"tls": TLSConfig(), "api_key": API_KEY}
    shown = describe_connection(configured)
    assert shown == "namespace prod.a1b2c at prod.a1b2c.tmprl.cloud:7233 (TLS, API key)"
    assert API_KEY not in repr(configured) and API_KEY not in str(configured)


def test_a_blank_certificate_setting_is_unset_not_the_current_folder(monkeypatch):
    for name in ("CA_CERT", "CLIENT_CERT", "CLIENT_KEY"):
        monkeypatch.setenv(f"TRACEPOST_TEMPORAL_TLS_{name}", "")  # as ${VAR:-} writes it
    assert connection_options(settings()) == {"tls": False, "api_key": None}


async def test_a_bad_tls_setting_makes_the_api_answer_503_not_500(tmp_path):
    from workers.gateway import TemporalGateway, TemporalUnavailableError

    configured = settings(var_dir=tmp_path, temporal_tls_ca_cert=tmp_path / "missing.pem")
    with pytest.raises(TemporalUnavailableError, match="TRACEPOST_TEMPORAL_TLS_CA_CERT"):
        await TemporalGateway(configured).client()


def test_tls_is_read_from_the_environment(monkeypatch):
    assert settings().temporal_tls is None
    monkeypatch.setenv("TRACEPOST_TEMPORAL_TLS", "false")
    assert settings().temporal_tls is False
    monkeypatch.setenv("TRACEPOST_TEMPORAL_TLS", "true")
    assert settings().temporal_tls is True


def test_an_api_key_in_plaintext_only_when_explicitly_allowed():
    with pytest.raises(TemporalConnectionError) as refused:
        connection_options(settings(temporal_tls=False, temporal_api_key=API_KEY))
    message = str(refused.value)
    assert "TRACEPOST_TEMPORAL_API_KEY would be sent unencrypted" in message
    assert "TRACEPOST_TEMPORAL_API_KEY_ALLOW_PLAINTEXT=true" in message
    assert API_KEY not in message
    allowed = settings(
        temporal_tls=False, temporal_api_key=API_KEY, temporal_api_key_allow_plaintext=True
    )
    assert connection_options(allowed) == {"tls": False, "api_key": API_KEY}


def _bad(pki: Pki, case: str) -> dict[str, Any]:
    missing = pki.folder / "missing.pem"
    empty = pki.folder / "empty.pem"
    empty.write_bytes(b"")
    cases: dict[str, dict[str, Any]] = {
        "tls off with a CA": {"temporal_tls": False, "temporal_tls_ca_cert": pki.ca},
        "cert without key": {"temporal_tls_client_cert": pki.client_cert},
        "key without cert": {"temporal_tls_client_key": pki.client_key},
        "missing CA": {"temporal_tls_ca_cert": missing},
        "CA is a folder": {"temporal_tls_ca_cert": pki.folder},
        "empty CA": {"temporal_tls_ca_cert": empty},
        "CA is a key": {"temporal_tls_ca_cert": pki.server_key},
        "key is a cert": {
            "temporal_tls_client_cert": pki.client_cert,
            "temporal_tls_client_key": pki.client_cert,
        },
        "encrypted key": {
            "temporal_tls_client_cert": pki.client_cert,
            "temporal_tls_client_key": pki.encrypted_key,
        },
        "key of another cert": {
            "temporal_tls_client_cert": pki.client_cert,
            "temporal_tls_client_key": pki.stranger_key,
        },
        "expired cert": {
            "temporal_tls_client_cert": pki.expired_cert,
            "temporal_tls_client_key": pki.expired_key,
        },
    }
    return cases[case]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (
            "tls off with a CA",
            "TRACEPOST_TEMPORAL_TLS=false but TRACEPOST_TEMPORAL_TLS_CA_CERT is set",
        ),
        (
            "cert without key",
            "TRACEPOST_TEMPORAL_TLS_CLIENT_CERT is set but TRACEPOST_TEMPORAL_TLS_CLIENT_KEY is not",
        ),
        (
            "key without cert",
            "TRACEPOST_TEMPORAL_TLS_CLIENT_KEY is set but TRACEPOST_TEMPORAL_TLS_CLIENT_CERT is not",
        ),
        ("missing CA", "TRACEPOST_TEMPORAL_TLS_CA_CERT: cannot read {folder}/missing.pem: No such"),
        ("CA is a folder", "TRACEPOST_TEMPORAL_TLS_CA_CERT: cannot read {folder}: Is a directory"),
        ("empty CA", "TRACEPOST_TEMPORAL_TLS_CA_CERT: {folder}/empty.pem is empty"),
        ("CA is a key", "TRACEPOST_TEMPORAL_TLS_CA_CERT: {folder}/server.key is not a PEM cert"),
        (
            "key is a cert",
            "TRACEPOST_TEMPORAL_TLS_CLIENT_KEY: {folder}/client.pem is not a PEM pri",
        ),
        ("encrypted key", "TRACEPOST_TEMPORAL_TLS_CLIENT_KEY: {folder}/encrypted.key is an encr"),
        (
            "key of another cert",
            "TRACEPOST_TEMPORAL_TLS_CLIENT_KEY: {folder}/stranger.key is not the private key of"
            " the certificate in TRACEPOST_TEMPORAL_TLS_CLIENT_CERT",
        ),
        ("expired cert", "TRACEPOST_TEMPORAL_TLS_CLIENT_CERT: the certificate in {folder}/expired"),
    ],
)
def test_unusable_settings_are_explained_by_name_without_the_key(pki, case, expected):
    with pytest.raises(TemporalConnectionError) as refused:
        connection_options(settings(**_bad(pki, case)))
    message = str(refused.value)
    assert expected.format(folder=pki.folder) in message
    for secret in (pki.client_key, pki.stranger_key, pki.server_key, pki.encrypted_key):
        body = secret.read_text().splitlines()[1]  # a line of the key's base64
        assert body not in message


def test_every_connecting_process_goes_through_connect():
    """The worker, the api's gateway, the dev stack and the CLI commands all call
    ``workers.temporal_client.connect``; only it calls ``Client.connect``."""
    root = Path(__file__).parent.parent / "workers"
    callers = sorted(
        path.name for path in root.rglob("*.py") if "Client.connect(" in path.read_text()
    )
    assert callers == ["temporal_client.py"]


# -- real TLS in front of the real dev server -----------------------------------------------


class TlsTerminator:
    """TLS (and optionally client certificate checking) in front of a plaintext frontend.

    Args:
        upstream: ``host:port`` of the dev server.
        pki: the certificates.
        require_client_cert: refuse a client without a certificate of the test CA.
    """

    def __init__(self, upstream: str, pki: Pki, *, require_client_cert: bool) -> None:
        self.upstream = upstream
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(pki.server_cert, pki.server_key)
        self.context.set_alpn_protocols(["h2"])  # gRPC clients insist on HTTP/2
        if require_client_cert:
            self.context.verify_mode = ssl.CERT_REQUIRED
            self.context.load_verify_locations(cadata=pki.ca_pem.decode())
        self.clients: list[str] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        peer = writer.get_extra_info("peercert") or {}
        subject = dict(item[0] for item in peer.get("subject", ()))
        self.clients.append(subject.get("commonName", "(no client certificate)"))
        host, _, port = self.upstream.rpartition(":")
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except asyncio.CancelledError:
            writer.close()
        finally:
            self._tasks.discard(task)

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        """Serve on a free port of 127.0.0.1; yields the address to dial."""
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.context)
        try:
            yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
        finally:
            server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)


@pytest.fixture
def quiet_handshakes(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Refused handshakes are logged by asyncio; they are the point of some tests here."""
    caplog.set_level("CRITICAL", logger="asyncio")
    yield


async def refusal(configured: Settings) -> str | None:
    """Connect with tracepost's ``connect()`` and make a real call through the connection.

    Returns None when both work, else the SDK's connection error (it names the TLS reason).
    """
    try:
        client = await asyncio.wait_for(connect(configured), timeout=15)
        await asyncio.wait_for(client.count_workflows(), timeout=15)
    except RuntimeError as exc:
        return str(exc)
    return None


async def test_tls_with_a_private_ca_and_a_server_name_reaches_real_temporal(
    dev_env, pki, quiet_handshakes
):
    upstream = dev_env.client.service_client.config.target_host
    terminator = TlsTerminator(upstream, pki, require_client_cert=False)
    async with terminator.serving() as address:
        tls = {"temporal_address": address, "temporal_tls_ca_cert": pki.ca}
        assert await refusal(settings(**tls, temporal_tls_server_name=SERVER_NAME)) is None
        # An API key rides on the same TLS connection (the dev server ignores it).
        with_key = settings(**tls, temporal_tls_server_name=SERVER_NAME, temporal_api_key=API_KEY)
        assert await refusal(with_key) is None
        # The certificate names SERVER_NAME, not 127.0.0.1: without the override it is refused.
        assert "NotValidForName" in (await refusal(settings(**tls)) or "")
        # The system's roots do not know the private CA.
        system_roots = settings(
            temporal_address=address, temporal_tls=True, temporal_tls_server_name=SERVER_NAME
        )
        assert "UnknownIssuer" in (await refusal(system_roots) or "")
        # Nor does another CA.
        other_ca = settings(
            temporal_address=address,
            temporal_tls_ca_cert=pki.other_ca,
            temporal_tls_server_name=SERVER_NAME,
        )
        assert "UnknownIssuer" in (await refusal(other_ca) or "")
        # Plaintext to a TLS port fails.
        assert await refusal(settings(temporal_address=address)) is not None
    assert len(terminator.clients) >= 2


async def test_mutual_tls_presents_the_client_certificate(dev_env, pki, quiet_handshakes):
    upstream = dev_env.client.service_client.config.target_host
    terminator = TlsTerminator(upstream, pki, require_client_cert=True)
    async with terminator.serving() as address:
        tls = {
            "temporal_address": address,
            "temporal_tls_ca_cert": pki.ca,
            "temporal_tls_server_name": SERVER_NAME,
        }
        identity = settings(
            **tls, temporal_tls_client_cert=pki.client_cert, temporal_tls_client_key=pki.client_key
        )
        assert await refusal(identity) is None
        assert terminator.clients == ["tracepost-worker"]
        assert await refusal(settings(**tls)) is not None  # no client certificate
        stranger = settings(  # a certificate of another CA
            **tls,
            temporal_tls_client_cert=pki.stranger_cert,
            temporal_tls_client_key=pki.stranger_key,
        )
        assert await refusal(stranger) is not None
    assert terminator.clients == ["tracepost-worker"]  # the refused never got through


async def test_the_dev_stack_refuses_production_temporal_settings(tmp_path):
    from workers.dev import DevConfigError, run_dev

    for production in (
        {"temporal_api_key": API_KEY},
        {"temporal_tls_server_name": SERVER_NAME},
        {"temporal_tls": True},
        # TLS switched off explicitly but TLS options given: still not a dev-server setting
        {"temporal_tls": False, "temporal_tls_server_name": SERVER_NAME},
        {"temporal_tls": False, "temporal_api_key": API_KEY},
    ):
        with pytest.raises(DevConfigError, match="own plaintext Temporal dev server") as refused:
            await run_dev(settings(var_dir=tmp_path, **production))
        assert API_KEY not in str(refused.value)
    assert not (tmp_path / "temporal.db").exists()  # refused before anything started
