"""How tracepost reaches a production Temporal: TLS, mutual TLS and API keys, from the settings.

| settings | connection |
|---|---|
| none of the below (the embedded stack) | plaintext |
| ``TRACEPOST_TEMPORAL_TLS=true`` | TLS; the server's certificate is checked against the system's roots |
| ``TRACEPOST_TEMPORAL_TLS_CA_CERT`` | TLS; checked against this CA instead (a private CA) |
| ``TRACEPOST_TEMPORAL_TLS_SERVER_NAME`` | TLS; the name the certificate must carry, when it is not the host dialled |
| ``TRACEPOST_TEMPORAL_TLS_CLIENT_CERT`` + ``..._KEY`` | mutual TLS: the client proves who it is |
| ``TRACEPOST_TEMPORAL_API_KEY`` | a bearer API key (Temporal Cloud); TLS |

Setting any TLS option or an API key turns TLS on unless ``TRACEPOST_TEMPORAL_TLS=false`` says
otherwise, and that combination is refused (an API key travels in plaintext only with
``TRACEPOST_TEMPORAL_API_KEY_ALLOW_PLAINTEXT=true``). Files are read and checked when a process
connects, so a missing, unreadable or mismatched file stops it with a message naming the setting
instead of a TLS handshake error. Neither the API key nor a private key ever appears in a message.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from temporalio.service import TLSConfig

from workers.settings import Settings

CA_CERT = "TRACEPOST_TEMPORAL_TLS_CA_CERT"
SERVER_NAME = "TRACEPOST_TEMPORAL_TLS_SERVER_NAME"
CLIENT_CERT = "TRACEPOST_TEMPORAL_TLS_CLIENT_CERT"
CLIENT_KEY = "TRACEPOST_TEMPORAL_TLS_CLIENT_KEY"
TLS = "TRACEPOST_TEMPORAL_TLS"
API_KEY = "TRACEPOST_TEMPORAL_API_KEY"
ALLOW_PLAINTEXT = "TRACEPOST_TEMPORAL_API_KEY_ALLOW_PLAINTEXT"


class TemporalConnectionError(ValueError):
    """The Temporal connection settings cannot work; the message names the setting to fix."""


class ConnectionOptions(TypedDict):
    """Keyword arguments of ``temporalio.client.Client.connect`` for TLS and authentication."""

    tls: TLSConfig | bool
    api_key: str | None


def _read(setting: str, path: Path) -> bytes:
    """The bytes of a configured file, or an error naming the setting."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TemporalConnectionError(
            f"{setting}: cannot read {path}: {exc.strerror or exc}"
        ) from None
    if not data.strip():
        raise TemporalConnectionError(f"{setting}: {path} is empty")
    return data


def _certificates(setting: str, path: Path) -> tuple[bytes, list[x509.Certificate]]:
    """A PEM file of one or more certificates, parsed to check it."""
    data = _read(setting, path)
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise TemporalConnectionError(
            f"{setting}: {path} is not a PEM certificate file (-----BEGIN CERTIFICATE-----)"
        ) from None
    return data, certs


def _private_key(setting: str, path: Path) -> tuple[bytes, bytes]:
    """A PEM private key file and its public key (DER), to match it with its certificate."""
    data = _read(setting, path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:  # cryptography: "Password was not given but private key is encrypted"
        raise TemporalConnectionError(
            f"{setting}: {path} is an encrypted private key; the Temporal SDK needs it"
            " unencrypted (openssl pkey -in <file> -out <new file>), protected by the file's"
            " permissions and the secret store it is mounted from"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        # The reason is not printed: it could quote part of the file.
        raise TemporalConnectionError(
            f"{setting}: {path} is not a PEM private key (-----BEGIN PRIVATE KEY-----)"
        ) from None
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data, public


def _client_identity(cert_path: Path, key_path: Path) -> tuple[bytes, bytes]:
    """The client certificate and key of mutual TLS, checked to belong together and be valid."""
    cert_pem, certs = _certificates(CLIENT_CERT, cert_path)
    key_pem, key_public = _private_key(CLIENT_KEY, key_path)
    leaf = certs[0]
    leaf_public = leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if leaf_public != key_public:
        raise TemporalConnectionError(
            f"{CLIENT_KEY}: {key_path} is not the private key of the certificate in"
            f" {CLIENT_CERT} ({cert_path}, {leaf.subject.rfc4514_string()})"
        )
    expires = leaf.not_valid_after_utc
    if expires <= datetime.now(UTC):
        raise TemporalConnectionError(
            f"{CLIENT_CERT}: the certificate in {cert_path} ({leaf.subject.rfc4514_string()})"
            f" expired on {expires:%Y-%m-%d %H:%M} UTC; install a renewed one"
        )
    return cert_pem, key_pem


def tls_enabled(settings: Settings) -> bool:
    """Tell whether these settings connect with TLS.

    Args:
        settings: tracepost settings.

    Returns:
        ``TRACEPOST_TEMPORAL_TLS`` when set, else True when any TLS option or an API key is set.
    """
    if settings.temporal_tls is not None:
        return settings.temporal_tls
    return _tls_options_set(settings)


def tls_configured(settings: Settings) -> bool:
    """Tell whether any TLS or API-key setting is given, whatever ``TRACEPOST_TEMPORAL_TLS`` says.

    Args:
        settings: tracepost settings.

    Returns:
        True when ``TRACEPOST_TEMPORAL_TLS`` is true or any TLS option or the API key is set.
    """
    return bool(settings.temporal_tls) or _tls_options_set(settings)


def _tls_options_set(settings: Settings) -> bool:
    return bool(
        settings.temporal_tls_ca_cert
        or settings.temporal_tls_server_name
        or settings.temporal_tls_client_cert
        or settings.temporal_tls_client_key
        or settings.temporal_api_key.get_secret_value().strip()
    )


def connection_options(settings: Settings) -> ConnectionOptions:
    """The TLS and API key arguments of ``Client.connect`` these settings describe.

    Args:
        settings: tracepost settings (``temporal_tls*``, ``temporal_api_key*``).

    Returns:
        ``tls`` (False, or a ``TLSConfig`` with the CA, server name and client identity read from
        their files) and ``api_key`` (None when not configured).

    Raises:
        TemporalConnectionError: a file is missing, unreadable or not what it should be; a client
            certificate without its key (or the reverse), or a key of another certificate; TLS
            options or an API key while ``TRACEPOST_TEMPORAL_TLS=false``.
    """
    api_key = settings.temporal_api_key.get_secret_value().strip() or None
    cert_path = settings.temporal_tls_client_cert
    key_path = settings.temporal_tls_client_key
    tls_options = [
        name
        for name, value in (
            (CA_CERT, settings.temporal_tls_ca_cert),
            (SERVER_NAME, settings.temporal_tls_server_name),
            (CLIENT_CERT, cert_path),
            (CLIENT_KEY, key_path),
        )
        if value
    ]
    if not tls_enabled(settings):
        if tls_options:
            raise TemporalConnectionError(
                f"{TLS}=false but {', '.join(tls_options)} {'is' if len(tls_options) == 1 else 'are'}"
                f" set: remove {TLS} (or set it to true) to connect with TLS, or unset them"
            )
        if api_key is not None and not settings.temporal_api_key_allow_plaintext:
            raise TemporalConnectionError(
                f"{API_KEY} would be sent unencrypted because {TLS}=false: connect with TLS"
                f" (Temporal Cloud requires it), or set {ALLOW_PLAINTEXT}=true if this process"
                " reaches Temporal through a TLS-terminating proxy on a trusted local link"
            )
        return {"tls": False, "api_key": api_key}
    if (cert_path is None) != (key_path is None):
        given, missing = (
            (CLIENT_CERT, CLIENT_KEY) if key_path is None else (CLIENT_KEY, CLIENT_CERT)
        )
        raise TemporalConnectionError(
            f"{CLIENT_CERT} and {CLIENT_KEY} go together (mutual TLS): {given} is set but"
            f" {missing} is not"
        )
    ca_pem = None
    if settings.temporal_tls_ca_cert is not None:
        ca_pem, _ = _certificates(CA_CERT, settings.temporal_tls_ca_cert)
    client_cert = client_key = None
    if cert_path is not None and key_path is not None:
        client_cert, client_key = _client_identity(cert_path, key_path)
    return {
        "tls": TLSConfig(
            server_root_ca_cert=ca_pem,
            domain=settings.temporal_tls_server_name or None,
            client_cert=client_cert,
            client_private_key=client_key,
        ),
        "api_key": api_key,
    }


def describe_connection(settings: Settings) -> str:
    """Where and how these settings connect, for messages (never the key or a file's content).

    Args:
        settings: tracepost settings.

    Returns:
        For example ``namespace prod.a1b2c at prod.a1b2c.tmprl.cloud:7233 (TLS, API key)``.
    """
    if tls_enabled(settings):
        parts = ["TLS"]
        if settings.temporal_tls_ca_cert:
            parts.append(f"CA {settings.temporal_tls_ca_cert}")
        if settings.temporal_tls_server_name:
            parts.append(f"server name {settings.temporal_tls_server_name}")
        if settings.temporal_tls_client_cert:
            parts.append(f"client certificate {settings.temporal_tls_client_cert}")
    else:
        parts = ["plaintext"]
    if settings.temporal_api_key.get_secret_value().strip():
        parts.append("API key")
    return (
        f"namespace {settings.temporal_namespace} at {settings.temporal_address}"
        f" ({', '.join(parts)})"
    )
