"""Plain-text e-mail through an SMTP server (stdlib ``smtplib``, run in a worker thread).

Port 465 without STARTTLS means SMTPS (TLS from the first byte); otherwise the connection is plain
and ``starttls`` upgrades it before any login. The password is only ever handed to ``login``.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid

from connectors.notify.errors import NotifyError, NotifyPermanentError, NotifyTransientError

SMTPS_PORT = 465


def _smtp_error(code: int, what: str, text: bytes | str) -> NotifyError:
    """SMTP 4xx (and unknown codes) are transient, 5xx permanent."""
    reply = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    message = f"{what}: {code} {reply}".strip()
    if 500 <= code < 600:
        return NotifyPermanentError(message)
    return NotifyTransientError(message)


class SmtpSender:
    """Sends e-mail through one SMTP server.

    Args:
        host: the SMTP server.
        port: its port (25, 587 with ``starttls``, 465 for SMTPS).
        sender: the From address.
        username: login name; blank sends without logging in.
        password: login password.
        starttls: upgrade the connection with STARTTLS before logging in.
        timeout: seconds for connecting and for each SMTP command.
        implicit_tls: TLS from the first byte (SMTPS); default: on for port 465 without STARTTLS.
        ssl_context: the TLS settings (default: the system's trusted CAs, hostname checked).
    """

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        sender: str,
        username: str = "",
        password: str = "",
        starttls: bool = False,
        timeout: float = 10.0,
        implicit_tls: bool | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout
        self._implicit_tls = (
            (port == SMTPS_PORT and not starttls) if implicit_tls is None else implicit_tls
        )
        self._ssl_context = ssl_context

    def __repr__(self) -> str:
        return f"SmtpSender({self.host}:{self.port})"

    def message(
        self,
        to: Sequence[str],
        subject: str,
        body: str,
        *,
        message_id: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> EmailMessage:
        """Build the e-mail.

        Args:
            to: the recipients.
            subject: one line.
            body: plain text.
            message_id: a stable ``Message-ID`` (``<…@…>``) so receivers can drop a duplicate.
            headers: more headers (``X-…``).

        Returns:
            The message.

        Raises:
            NotifyPermanentError: a header with a line break, or no recipient.
        """
        if not to:
            raise NotifyPermanentError("the e-mail has no recipient")
        msg = EmailMessage(policy=SMTP_POLICY)
        try:
            msg["From"] = self.sender
            msg["To"] = ", ".join(to)
            msg["Subject"] = subject
            msg["Date"] = formatdate(usegmt=True)
            msg["Message-ID"] = message_id or make_msgid(domain="tracepost")
            for name, value in (headers or {}).items():
                msg[name] = value
        except ValueError as exc:
            raise NotifyPermanentError(f"the e-mail cannot be built: {exc}") from None
        msg.set_content(body)
        return msg

    async def send(
        self,
        to: Sequence[str],
        subject: str,
        body: str,
        *,
        message_id: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """Send one e-mail to every recipient (one SMTP transaction).

        Args:
            to: the recipients.
            subject: one line.
            body: plain text.
            message_id: a stable ``Message-ID``.
            headers: more headers.

        Returns:
            The recipients the server refused while accepting the others (address → reply);
            empty when all were accepted.

        Raises:
            NotifyTransientError: the server is unreachable, timed out or answered 4xx.
            NotifyPermanentError: the server answered 5xx (every recipient refused, sender
                refused, login refused), or TLS cannot be set up.
        """
        msg = self.message(to, subject, body, message_id=message_id, headers=headers)
        return await asyncio.to_thread(self._send_sync, msg, list(to))

    def _connect(self) -> smtplib.SMTP:
        if self._implicit_tls:
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self._timeout, context=self._context()
            )
        return smtplib.SMTP(self.host, self.port, timeout=self._timeout)

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()

    def _send_sync(self, msg: EmailMessage, to: list[str]) -> dict[str, str]:
        where = f"SMTP {self.host}:{self.port}"
        smtp: smtplib.SMTP | None = None
        try:
            smtp = self._connect()
            smtp.ehlo()
            if self._starttls:
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if self._username:
                smtp.login(self._username, self._password)
            refused = smtp.send_message(msg, from_addr=self.sender, to_addrs=to)
        except smtplib.SMTPRecipientsRefused as exc:
            replies = {
                addr: f"{code} {text.decode(errors='replace')}"
                for addr, (code, text) in exc.recipients.items()
            }
            listed = "; ".join(f"{addr}: {reply}" for addr, reply in replies.items())
            codes = [code for code, _ in exc.recipients.values()]
            if codes and all(400 <= code < 500 for code in codes):
                raise NotifyTransientError(f"{where} deferred every recipient: {listed}") from None
            raise NotifyPermanentError(f"{where} refused every recipient: {listed}") from None
        except smtplib.SMTPSenderRefused as exc:
            raise _smtp_error(
                exc.smtp_code, f"{where} refused the sender", exc.smtp_error
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise _smtp_error(exc.smtp_code, f"{where} refused the login", exc.smtp_error) from None
        except smtplib.SMTPResponseException as exc:
            raise _smtp_error(exc.smtp_code, f"{where} answered", exc.smtp_error) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise NotifyPermanentError(
                f"{where}: {exc} (check STARTTLS and login settings)"
            ) from None
        except smtplib.SMTPServerDisconnected as exc:
            raise NotifyTransientError(f"{where} disconnected: {exc}") from None
        except ssl.SSLCertVerificationError as exc:
            raise NotifyPermanentError(
                f"{where}: TLS certificate refused: {exc.verify_message}"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise NotifyTransientError(
                f"{where} unreachable: {type(exc).__name__}: {exc}"
            ) from None
        finally:
            if smtp is not None:
                _quit(smtp)
        return {
            addr: f"{code} {text.decode(errors='replace')}"
            for addr, (code, text) in refused.items()
        }


def _quit(smtp: smtplib.SMTP) -> None:
    """End the session; the message is already accepted, so a failing QUIT changes nothing."""
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()
