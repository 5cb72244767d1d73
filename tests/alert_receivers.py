"""Real local receivers for the alert channels: an SMTP server (aiosmtpd) and an HTTP webhook
receiver (Starlette served by uvicorn), both on 127.0.0.1 and a free port."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import ipaddress
import json
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.serving import served


def free_port() -> int:
    """A TCP port nothing listens on (connecting to it is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: Message

    @property
    def body(self) -> str:
        payload = self.message.get_payload(decode=True)
        assert isinstance(payload, bytes)
        return payload.decode().replace("\r\n", "\n")


@dataclass
class SmtpReceiver:
    """Keeps what it receives; ``refuse`` addresses get 550, ``defer`` answers DATA with 451."""

    port: int = 0
    mails: list[Mail] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    defer: bool = False
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.defer:
            return "451 4.3.0 try again later"
        raw = bytes(envelope.original_content or envelope.content)
        self.mails.append(
            Mail(envelope.mail_from, list(envelope.rcpt_tos), raw, email.message_from_bytes(raw))
        )
        return "250 Message accepted"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((login, password))
        ok = (login, password) == ("alerts", "s3cret-pw")
        return AuthResult(success=ok, handled=False)

    def to(self, address: str) -> list[Mail]:
        return [m for m in self.mails if address in m.rcpt_tos]


@contextmanager
def smtp_receiver(tls: tuple[Path, Path] | None = None) -> Iterator[SmtpReceiver]:
    """An SMTP server on 127.0.0.1; with ``tls`` (cert, key) it requires STARTTLS and a login."""
    receiver = SmtpReceiver(port=free_port())
    kwargs: dict[str, Any] = {}
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        kwargs = {
            "tls_context": context,
            "require_starttls": True,
            "auth_required": True,
            "authenticator": receiver.authenticate,
        }
    controller = Controller(receiver, hostname="127.0.0.1", port=receiver.port, **kwargs)
    controller.start()
    try:
        yield receiver
    finally:
        controller.stop()


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert and key PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "smtp-cert.pem", tmp_path / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Post:
    path: str
    raw: bytes
    headers: dict[str, str]

    @property
    def json(self) -> Any:
        return json.loads(self.raw)


@dataclass
class HttpReceiver:
    """Answers ``status`` (with ``retry_after`` when set) after ``delay`` seconds; keeps posts."""

    port: int = 0
    status: int = 200
    answer: str = "ok"
    retry_after: str = ""
    delay: float = 0.0
    posts: list[Post] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/T000/B000/secret-token"

    async def receive(self, request: Request) -> PlainTextResponse:
        raw = await request.body()
        if self.delay:
            await asyncio.sleep(self.delay)
        self.posts.append(Post(request.url.path, raw, dict(request.headers)))
        headers = {"Retry-After": self.retry_after} if self.retry_after else None
        return PlainTextResponse(self.answer, status_code=self.status, headers=headers)


@asynccontextmanager
async def http_receiver() -> AsyncIterator[HttpReceiver]:
    """A webhook receiver served by uvicorn on 127.0.0.1 and a free port."""
    receiver = HttpReceiver()
    app = Starlette(routes=[Route("/hooks/{rest:path}", receiver.receive, methods=["POST"])])
    async with served(app, "webhook receiver") as url:
        receiver.port = int(url.rsplit(":", 1)[1])
        yield receiver


@contextmanager
def silent_listener() -> Iterator[int]:
    """A port that accepts connections and never answers (an SMTP server that hangs)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])
