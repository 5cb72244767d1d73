"""Nothing sensitive reaches a log line."""

import io
import logging

from domain.redaction import contains_card_number, luhn_valid, mask_pan, redact
from workers.logging_setup import RedactingFilter

CARD = "4012000098765439"


def test_luhn_and_mask():
    assert luhn_valid(CARD) and luhn_valid("371449635392376")
    assert not luhn_valid("4012000098765430") and not luhn_valid("12ab")
    assert mask_pan("4012 0000 9876 5439") == "xxxxxxxxxxxx5439"


def test_redact_masks_cards_secrets_and_tokens_but_keeps_ids():
    text = (
        f"card {CARD} spaced 4012 0000 9876 5439 dashed 4012-0000-9876-5439 "
        'password=hunter2 {"csc": "123"} Authorization: Bearer abc.def '
        "POST http://127.0.0.1:8000/webhooks/paytrace/silent-post/topsecret ok "
        "transaction 1000001 amount 125.00 invoice 0000001001"
    )
    out = redact(text)
    for secret in (
        CARD,
        "4012 0000 9876 5439",
        "4012-0000-9876-5439",
        "hunter2",
        '"123"',
        "abc.def",
        "topsecret",
    ):
        assert secret not in out
    assert "xxxxxxxxxxxx5439" in out
    assert "transaction 1000001 amount 125.00 invoice 0000001001" in out


def test_pasted_numbers_with_unicode_spaces_or_dashes_are_cards_too():
    for separator in ("\u00a0", "\u202f", "\u2013", "\t"):
        typed = separator.join(("4012", "0000", "9876", "5439"))
        assert contains_card_number(typed) and redact(typed) == "xxxxxxxxxxxx5439"
    assert not contains_card_number("4012.0000.9876.5439")  # dots: amounts, not cards


def test_filter_on_a_handler_redacts_messages_args_and_tracebacks():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("tracepost.test.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("charging %s with password=%s", CARD, "pw-123")
        try:
            raise ValueError(f"bad card {CARD}")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert CARD not in out and "pw-123" not in out
    assert out.count("xxxxxxxxxxxx5439") == 2
