"""The alert channels on real local servers (aiosmtpd, uvicorn), and the routing rules."""

import ssl
from datetime import UTC, datetime, timedelta

import pytest

from connectors.notify import NotifyPermanentError, NotifyTransientError, SmtpSender, WebhookSender
from connectors.notify.webhook import retry_after_seconds
from domain.alert_io import AlertChannel
from domain.alert_routing import (
    ChannelSetup,
    customer_address,
    email_content,
    redacted,
    retry_delay,
    route,
    webhook_body,
)
from domain.store_io import Alert, AlertKind
from tests.alert_receivers import (
    free_port,
    http_receiver,
    self_signed,
    silent_listener,
    smtp_receiver,
)

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CARD = "4012000098765439"
FINANCE_KINDS = [k for k in AlertKind if k is not AlertKind.CUSTOMER_NOTICE]
BOTH = ChannelSetup(email=True, finance_to=("finance@example.com",), webhook=True)


def alert(kind=AlertKind.NOTICE, **changes):
    values = dict(
        id=7,
        alert_key=f"k/{kind.value}",
        kind=kind,
        subject="subject",
        message="message",
        workflow_id="payment-1",
        detail={},
        at=AT,
    )
    values.update(changes)
    return Alert(**values)


# -- routing ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", FINANCE_KINDS, ids=str)
def test_finance_alerts_go_to_finance_email_and_the_webhook(kind):
    assert route(alert(kind), BOTH).channels == (AlertChannel.EMAIL, AlertChannel.WEBHOOK)
    only_hook = ChannelSetup(webhook=True)
    assert route(alert(kind), only_hook).channels == (AlertChannel.WEBHOOK,)
    no_recipients = ChannelSetup(email=True, webhook=True)
    assert route(alert(kind), no_recipients).channels == (AlertChannel.WEBHOOK,)
    nothing = route(alert(kind), ChannelSetup(email=True))
    assert (
        nothing.channels == () and "TRACEPOST_ALERT_EMAIL_TO" in nothing.refused[AlertChannel.NONE]
    )


def test_a_customer_notice_goes_by_email_only_to_one_valid_address():
    notice = alert(AlertKind.CUSTOMER_NOTICE, detail={"to": " ap@customer.example "})
    assert route(notice, BOTH).channels == (AlertChannel.EMAIL,)
    assert customer_address(notice.detail) == "ap@customer.example"
    assert AlertChannel.NONE in route(notice, ChannelSetup(webhook=True)).refused
    for bad in ["", "nobody", "a@b.example, c@d.example", "Ann <a@b.example>", "a@b", 42, None]:
        refused = route(alert(AlertKind.CUSTOMER_NOTICE, detail={"to": bad}), BOTH)
        assert refused.channels == () and "detail['to']" in refused.refused[AlertChannel.EMAIL]
    missing = route(alert(AlertKind.CUSTOMER_NOTICE), BOTH)
    assert "no address" in missing.refused[AlertChannel.EMAIL]


def test_retry_delay_doubles_from_one_minute_up_to_an_hour():
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert retry_delay(7) == timedelta(hours=1) and retry_delay(500) == timedelta(hours=1)
    assert retry_delay(1, retry_after=300) == timedelta(minutes=5)
    assert retry_delay(1, retry_after=86400) == timedelta(hours=1)
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("Mon, 23 Nov 2026 12:02:00 GMT", now=AT) == 120
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_redaction_masks_card_numbers_and_secrets_everywhere():
    dirty = alert(
        subject=f"card {CARD}",
        message="declined 4012 0000 9876 5439; password=hunter2 batch 1234567",
        detail={
            "card": CARD,
            "as_number": int(CARD),
            "nested": {"cards": [CARD, "x5439"], "token": "abc"},
            "csc": "999",
            "account_number": "000123456789",
            "batch_number": 1234567,
            "invoice_number": "INV-77",
        },
    )
    clean = redacted(dirty)
    everything = f"{email_content(clean)} {webhook_body(clean)}"
    assert CARD not in everything and "4012 0000 9876 5439" not in everything
    assert "hunter2" not in everything and "000123456789" not in everything
    assert "xxxxxxxxxxxx5439" in clean.subject
    assert clean.detail["as_number"] == "xxxxxxxxxxxx5439"
    assert clean.detail["nested"] == {"cards": ["xxxxxxxxxxxx5439", "x5439"], "token": "[REDACTED]"}
    assert clean.detail["csc"] == clean.detail["account_number"] == "[REDACTED]"
    assert clean.detail["batch_number"] == 1234567 and clean.detail["invoice_number"] == "INV-77"


def test_email_and_webhook_content():
    finance = redacted(
        alert(
            AlertKind.SETTLEMENT_DISCREPANCY,
            severity="critical",
            subject="batch 9\r\nBcc: x@evil.example",
            detail={"batch_number": 9},
        )
    )
    subject, body = email_content(finance)
    assert subject == "[tracepost critical] batch 9 Bcc: x@evil.example"
    assert "workflow: payment-1" in body and "batch_number: 9" in body and "alert: 7" in body
    posted = webhook_body(finance)
    assert posted["text"].startswith("[CRITICAL] batch 9 Bcc: x@evil.example\nmessage")
    assert {k: posted[k] for k in ("kind", "severity", "alert_id", "workflow_id")} == {
        "kind": "settlement_discrepancy",
        "severity": "critical",
        "alert_id": 7,
        "workflow_id": "payment-1",
    }
    assert posted["detail"] == {"batch_number": 9}
    customer = alert(
        AlertKind.CUSTOMER_NOTICE, subject="Your payment", detail={"to": "a@b.example"}
    )
    assert email_content(customer) == ("Your payment", "message\n")


# -- SMTP ---------------------------------------------------------------------------------


def sender(port, **kwargs):
    return SmtpSender("127.0.0.1", port, sender="tracepost@acme.example", timeout=5, **kwargs)


async def test_smtp_delivers_a_plain_text_mail():
    with smtp_receiver() as smtp:
        refused = await sender(smtp.port).send(
            ["finance@acme.example", "cfo@acme.example"],
            "[tracepost warning] subject",
            "body line\n",
            message_id="<tracepost-alert-7@acme.example>",
            headers={"X-Tracepost-Alert": "7"},
        )
    assert refused == {}
    (mail,) = smtp.mails
    assert mail.mail_from == "tracepost@acme.example"
    assert mail.rcpt_tos == ["finance@acme.example", "cfo@acme.example"]
    assert mail.message["Subject"] == "[tracepost warning] subject"
    assert mail.message["Message-ID"] == "<tracepost-alert-7@acme.example>"
    assert mail.message["X-Tracepost-Alert"] == "7" and mail.body == "body line\n"


async def test_smtp_recipient_refused_is_permanent_and_partial_refusal_is_reported():
    with smtp_receiver() as smtp:
        smtp.refuse = {"gone@acme.example"}
        with pytest.raises(NotifyPermanentError, match=r"refused every recipient.*550"):
            await sender(smtp.port).send(["gone@acme.example"], "s", "b")
        refused = await sender(smtp.port).send(["gone@acme.example", "ok@acme.example"], "s", "b")
    assert list(refused) == ["gone@acme.example"] and refused["gone@acme.example"].startswith("550")
    assert [m.rcpt_tos for m in smtp.mails] == [["ok@acme.example"]]


async def test_smtp_4xx_closed_port_and_silence_are_transient():
    with smtp_receiver() as smtp:
        smtp.defer = True
        with pytest.raises(NotifyTransientError, match="451"):
            await sender(smtp.port).send(["a@acme.example"], "s", "b")
    with pytest.raises(NotifyTransientError, match="unreachable: ConnectionRefusedError"):
        await sender(free_port()).send(["a@acme.example"], "s", "b")
    with silent_listener() as port:
        quick = SmtpSender("127.0.0.1", port, sender="t@acme.example", timeout=0.5)
        with pytest.raises(NotifyTransientError, match="timed out"):
            await quick.send(["a@acme.example"], "s", "b")


async def test_smtp_starttls_and_login(tmp_path):
    cert, key = self_signed(tmp_path)
    trusting = ssl.create_default_context(cafile=str(cert))
    with smtp_receiver(tls=(cert, key)) as smtp:
        good = sender(
            smtp.port, username="alerts", password="s3cret-pw", starttls=True, ssl_context=trusting
        )
        assert await good.send(["a@acme.example"], "s", "b") == {}
        wrong = sender(
            smtp.port, username="alerts", password="wrong", starttls=True, ssl_context=trusting
        )
        with pytest.raises(NotifyPermanentError, match="refused the login: 535") as failed:
            await wrong.send(["a@acme.example"], "s", "b")
        assert "wrong" not in str(failed.value)
        untrusted = sender(smtp.port, username="alerts", password="s3cret-pw", starttls=True)
        with pytest.raises(NotifyPermanentError, match="TLS certificate refused"):
            await untrusted.send(["a@acme.example"], "s", "b")
        plain = sender(smtp.port)  # the server requires STARTTLS first
        with pytest.raises(NotifyPermanentError, match="530"):
            await plain.send(["a@acme.example"], "s", "b")
    assert len(smtp.mails) == 1 and ("alerts", "s3cret-pw") in smtp.logins


async def test_a_header_with_a_line_break_is_refused_before_sending():
    with pytest.raises(NotifyPermanentError, match="cannot be built"):
        await sender(free_port()).send(["a@acme.example"], "two\nlines", "b")
    with pytest.raises(NotifyPermanentError, match="no recipient"):
        await sender(free_port()).send([], "s", "b")


# -- webhook ------------------------------------------------------------------------------


async def test_webhook_posts_json_with_a_text_field():
    async with http_receiver() as hook:
        body = webhook_body(redacted(alert(AlertKind.ESCALATION)))
        await WebhookSender(hook.url, timeout=5).post(body, idempotency_key="tracepost-alert-7")
    (post,) = hook.posts
    assert post.path == "/hooks/T000/B000/secret-token"
    assert post.headers["content-type"] == "application/json"
    assert post.headers["idempotency-key"] == "tracepost-alert-7"
    assert post.json["text"].startswith("[WARNING] subject") and post.json["kind"] == "escalation"


async def test_webhook_errors_are_classified_and_never_name_the_url():
    async with http_receiver() as hook:
        hooks = WebhookSender(hook.url, timeout=5)
        for status, answer in [(503, "down"), (500, "oops"), (408, "slow")]:
            hook.status, hook.answer = status, answer
            with pytest.raises(NotifyTransientError, match=f"answered {status}: {answer}"):
                await hooks.post({"text": "x"})
        hook.status, hook.retry_after = 429, "120"
        with pytest.raises(NotifyTransientError) as limited:
            await hooks.post({"text": "x"})
        assert limited.value.retry_after == 120
        hook.retry_after = ""
        for status, answer in [(400, "invalid_payload"), (404, "no_team"), (403, "no"), (302, "")]:
            hook.status, hook.answer = status, answer
            with pytest.raises(NotifyPermanentError, match=f"answered {status}") as refused:
                await hooks.post({"text": "x"})
            assert "secret-token" not in str(refused.value)
        hook.status, hook.delay = 200, 1.0
        with pytest.raises(NotifyTransientError, match="timed out"):
            await WebhookSender(hook.url, timeout=0.3).post({"text": "x"})
    closed = f"http://127.0.0.1:{free_port()}/hooks/secret-token"
    with pytest.raises(NotifyTransientError, match="unreachable: ConnectError") as down:
        await WebhookSender(closed, timeout=2).post({"text": "x"})
    assert "secret-token" not in str(down.value)
    with pytest.raises(NotifyPermanentError, match="unusable"):
        await WebhookSender("ftp://example.com/secret-token").post({"text": "x"})
