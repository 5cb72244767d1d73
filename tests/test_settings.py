"""Settings: defaults of the embedded stack, validation, and docs that cover every setting."""

import re
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from workers.settings import Settings

DOCS = Path(__file__).parent.parent / "docs" / "configuration.md"


def test_defaults_are_the_embedded_stack(monkeypatch, tmp_path):
    for name in list(__import__("os").environ):
        if name.startswith("TRACEPOST_"):
            monkeypatch.delenv(name)
    s = Settings()
    assert s.temporal_address == "127.0.0.1:7233" and s.ui_port == 8233 and s.api_port == 8000
    assert s.paytrace_base_url == "http://127.0.0.1:8001" and s.simulator_port == 8001
    assert s.erp_url == "sqlite:///var/sage500.db" and s.store_url == "sqlite:///var/store.db"
    assert s.erp_task_queue == "tracepost-erp"


def test_environment_overrides(monkeypatch, tmp_path):
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        'erp = "sage500"\n[invoices]\nprefixes = ["INV-", "INV"]\n[matching]\ntolerance = "0.05"\n'
    )
    monkeypatch.setenv("TRACEPOST_MAPPING_FILE", str(mapping))
    monkeypatch.setenv("TRACEPOST_ERP_URL", "postgresql+psycopg://db/erp")
    s = Settings()
    assert s.mapping.invoices.prefixes == ("INV-", "INV")
    assert s.match_policy.tolerance == Decimal("0.05")
    assert s.erp_url == "postgresql+psycopg://db/erp"


def test_the_starter_mapping_of_the_erp_is_the_default(monkeypatch):
    monkeypatch.delenv("TRACEPOST_MAPPING_FILE", raising=False)
    assert Settings(erp="sage500").mapping.erp == "sage500"
    assert Settings(erp="dynamics_sl").mapping.erp == "dynamics_sl"
    assert Settings(erp="dynamics_sl").mapping.customers.paytrace_id_field == "User1"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"erp": "oracle"}, "TRACEPOST_ERP must be one of"),
        ({"mapping_file": "/nonexistent/mapping.toml"}, "cannot be read"),
        (
            {"erp": "dynamics_sl", "mapping_file": "workers/mappings/sage500.toml"},
            "is for 'sage500' but TRACEPOST_ERP is 'dynamics_sl'",
        ),
        ({"erp_posting_strategy": "procedures"}, "needs TRACEPOST_ERP_URL=mssql"),
        ({"paytrace_base_url": "https://api.paytrace.com"}, "TRACEPOST_SILENT_POST_SECRET"),
    ],
)
def test_invalid_configuration_is_explained(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        Settings(**kwargs)


def test_secrets_do_not_print():
    s = Settings(paytrace_password="hunter2-secret", silent_post_secret="path-token-secret")
    assert "hunter2-secret" not in repr(s) and "path-token-secret" not in str(s)


def test_every_setting_is_documented():
    text = DOCS.read_text()
    documented = set(re.findall(r"`(TRACEPOST_[A-Z0-9_]+)`", text))
    expected = {f"TRACEPOST_{name.upper()}" for name in Settings.model_fields}
    assert expected - documented == set(), "settings missing from docs/configuration.md"
    assert documented - expected == set(), "docs/configuration.md names settings that do not exist"


@pytest.mark.parametrize("bad", ["1002", "=5.00", "1002=abc", "1002=-1", "1002=0"])
def test_attention_invoice_argument_is_checked(bad):
    from domain.money import MoneyError
    from workers.attention import parse_invoice

    with pytest.raises((ValueError, MoneyError)):
        parse_invoice(bad)


def test_attention_invoice_argument():
    from workers.attention import parse_invoice

    parsed = parse_invoice(" 1002 =80.5")
    assert (parsed.invoice_number, parsed.amount) == ("1002", Decimal("80.50"))


def test_invalid_configuration_never_echoes_a_secret():
    with pytest.raises(ValidationError) as info:
        Settings(paytrace_base_url="https://api.paytrace.com", paytrace_password="hunter2-SECRET")
    assert "hunter2-SECRET" not in str(info.value)


def test_database_urls_are_printed_without_password():
    from workers.composition import display_url

    shown = display_url("postgresql+psycopg://tp:s3cr3t-pw@db:5432/erp")
    assert "s3cr3t-pw" not in shown and "db:5432/erp" in shown
    assert display_url("sqlite:///var/sage500.db") == "sqlite:///var/sage500.db"


def test_dev_banner_hides_database_passwords():
    from workers.dev import banner

    text = banner(Settings(erp_url="postgresql+psycopg://tp:s3cr3t-pw@db/erp"))
    assert "s3cr3t-pw" not in text


def test_settings_moved_into_the_mapping_are_refused_with_their_new_key(monkeypatch):
    monkeypatch.setenv("TRACEPOST_ERP_COMPANY_ID", "ACM")
    with pytest.raises(ValidationError, match="TRACEPOST_ERP_COMPANY_ID → company"):
        Settings()


def test_a_real_erp_needs_a_company_in_the_mapping():
    with pytest.raises(ValidationError, match="names no company"):
        Settings(erp_url="mssql+pyodbc://u:p@host/db", erp_posting_strategy="manual")
