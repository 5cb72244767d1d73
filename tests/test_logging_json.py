"""JSON logs: one object per line with the workflow id, run id and transaction id, and the
redaction filter on every handler (uvicorn's too), proven through the real configured handlers.

Card numbers are the networks' published test numbers only.
"""

import dataclasses
import json
import logging
import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio import activity, workflow
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from domain.workflow_ids import transaction_of
from tests.logging_probe_workflow import LoggingProbe
from workers.http import embedded_server
from workers.logging_setup import (
    JsonFormatter,
    RedactingFilter,
    configure_logging,
    secure_handlers,
)

VISA = "4111111111111111"
VISA_SPACED = "4012 0000 9876 5439"
SECRETS = (VISA, VISA_SPACED, "4012000098765439", "hunter2", "987", "000123456789", "tok-3f9a")


@pytest.fixture
def restore_logging():
    """Put the root logger (pytest's capture handlers) and the SDK loggers back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    uvicorn = {n: logging.getLogger(n).handlers[:] for n in ("uvicorn", "uvicorn.access")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, kept in uvicorn.items():
        logging.getLogger(name).handlers[:] = kept
    activity.logger.activity_info_on_message = True
    workflow.logger.workflow_info_on_message = True


def lines(capsys) -> list[dict[str, Any]]:
    err = capsys.readouterr().err
    return [json.loads(line) for line in err.splitlines() if line.strip()]


def assert_no_secret(records: list[dict[str, Any]]) -> None:
    text = json.dumps(records)
    for secret in SECRETS:
        assert secret not in text, secret


async def app_that_never_runs(scope, receive, send) -> None:
    raise AssertionError("the server is built, never started")


def log_secrets(logger: logging.Logger | logging.LoggerAdapter[logging.Logger]) -> None:
    logger.warning("card %s declined, csc=%s", VISA, "987")
    logger.warning("retyped card %s for account_number=000123456789", VISA_SPACED)
    logger.warning('PayTrace said {"password": "hunter2", "access_token": "tok-3f9a"}')
    try:
        raise ValueError("card 4012000098765439 was refused")
    except ValueError:
        logger.exception("PayTrace call failed")


def test_json_lines_carry_no_card_data_and_every_handler_redacts(capsys, restore_logging):
    configure_logging("INFO", "json")
    log_secrets(logging.getLogger("tracepost.test"))
    records = lines(capsys)
    assert len(records) == 4
    assert {r["level"] for r in records} == {"WARNING", "ERROR"}
    assert records[0]["message"] == "card xxxxxxxxxxxx1111 declined, csc=[REDACTED]"
    assert "xxxxxxxxxxxx5439" in records[3]["exception"] and "ValueError" in records[3]["exception"]
    assert_no_secret(records)

    # uvicorn installs handlers of its own when a server is built; they are secured too
    embedded_server(app_that_never_runs, "127.0.0.1", 0)
    assert secure_handlers("json") >= 3
    log_secrets(logging.getLogger("uvicorn.error"))
    records = lines(capsys)
    assert len(records) == 4 and all(r["logger"] == "uvicorn.error" for r in records)
    assert_no_secret(records)
    every = [
        h for name in ("", "uvicorn", "uvicorn.access") for h in logging.getLogger(name).handlers
    ]
    assert every and all(any(isinstance(f, RedactingFilter) for f in h.filters) for h in every)
    assert all(isinstance(h.formatter, JsonFormatter) for h in every)


def test_text_format_redacts_too(capsys, restore_logging):
    configure_logging("INFO", "text")
    log_secrets(logging.getLogger("tracepost.test"))
    err = capsys.readouterr().err
    assert "WARNING tracepost.test: card xxxxxxxxxxxx1111 declined" in err
    for secret in SECRETS:
        assert secret not in err, secret


async def test_activity_logger_fields(capsys, restore_logging):
    configure_logging("INFO", "json")
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info,
        workflow_id="payment-1000123",
        workflow_run_id="run-7",
        workflow_type="PaymentPosting",
        activity_type="erp.write_receipt",
    )

    def write() -> None:
        activity.logger.warning("writing for card %s", VISA)
        activity.logger.info("receipt written", extra={"transaction_id": 1000999})

    env.run(write)
    first, second = lines(capsys)
    assert first["workflow_id"] == "payment-1000123" and first["run_id"] == "run-7"
    assert first["transaction_id"] == 1000123  # from the business-key workflow id
    assert first["activity_type"] == "erp.write_receipt"
    assert first["message"] == "writing for card xxxxxxxxxxxx1111"  # no context appended in JSON
    assert second["transaction_id"] == 1000999  # an explicit one wins
    assert_no_secret([first, second])


async def test_workflow_logger_fields(dev_env, capsys, restore_logging):
    configure_logging("INFO", "json")
    queue = f"log-probe-{uuid.uuid4().hex[:8]}"
    workflow_id = f"payment-{uuid.uuid4().int % 10**12}"
    async with Worker(dev_env.client, task_queue=queue, workflows=[LoggingProbe]):
        handle = await dev_env.client.start_workflow(
            LoggingProbe.run,
            VISA,
            id=workflow_id,
            task_queue=queue,
            execution_timeout=timedelta(seconds=30),
        )
        assert await handle.result() == "ok"
    probe = [r for r in lines(capsys) if r["message"].startswith("probe got card")]
    assert probe, "the workflow's log line was not written"
    record = probe[0]
    assert record["workflow_id"] == workflow_id
    assert record["run_id"] == handle.result_run_id
    assert record["workflow_type"] == "LoggingProbe"
    assert record["transaction_id"] == transaction_of(workflow_id)
    assert record["message"] == "probe got card xxxxxxxxxxxx1111"
    assert_no_secret(probe)


@pytest.mark.parametrize(
    ("workflow_id", "transaction"),
    [
        ("payment-1000123", 1000123),
        ("payment-ach-5000001", 5000001),
        ("void-1000123", 1000123),
        ("ach-return-5000001", 5000001),
        ("refund-1000130", 1000130),
        ("settlement-77", None),
        ("memo-refund-CM001", None),
        ("customer-sync", None),
    ],
)
def test_transaction_of_business_key(workflow_id, transaction):
    assert transaction_of(workflow_id) == transaction


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="text or json"):
        configure_logging("INFO", "xml")
