"""The mapping file: validation with reasons, the starters, and the check against each ERP."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.erp.standin import ERP_NAMES, ConnectorOptions, stand_in
from domain.mapping import DocumentAction, Mapping
from workers.mapping_file import (
    MappingError,
    check_mapping,
    errors_of,
    load_mapping,
    starter_path,
    structural_problems,
)

TODAY = date.today()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("erp", ERP_NAMES)
def test_the_starter_files_are_valid(erp):
    mapping = load_mapping(starter_path(erp))
    assert mapping.erp == erp
    assert mapping.documents.action("SALE") is DocumentAction.RECEIPT
    assert mapping.documents.action("refund") is DocumentAction.CREDIT_MEMO
    assert mapping.documents.action("SETTLED") is DocumentAction.IGNORE
    assert mapping.accounts.undeposited == "1010" and mapping.card_cash_account == "1010"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('erp = "sage500"\n[accounts]\ncash = "1010"\n', "accounts.cash: Extra inputs"),
        ('erp = "sage500"\n[matching]\ntolerance = "-0.01"\n', "must not be negative"),
        ('erp = "sage500"\n[matching]\ntolerance = "0.005"\n', "whole cents"),
        ('erp = "sage500"\n[documents]\nrefund = "receipt"\n', "documents.refund must be"),
        ('erp = "sage500"\n[statuses]\ndeclined = [101]\n', "both approved and declined"),
        ('erp = "sage500"\n[statuses]\napproved = []\n', "at least one"),
        ('erp = "sage500"\n[settlement]\nfees = "daily"\n', "needs fee_percent"),
        ('erp = "sage500"\n[settlement]\nfee_percent = "2.9"\n', "fees = 'none'"),
        ('erp = "sage500"\n[refunds]\nflag = "R"\n', "refunds.flag must be"),
        ('erp = "sage500"\n[customers]\nid_sources = ["phone"]\n', "unknown ['phone']"),
        ("[accounts]\n", "erp: Field required"),
        ('erp = "sage500"\n[periods]\nclosed = "later"\n', "periods.closed"),
    ],
)
def test_an_invalid_mapping_is_explained_field_by_field(tmp_path, text, reason):
    with pytest.raises(MappingError) as raised:
        load_mapping(write(tmp_path, text))
    assert reason in str(raised.value)
    assert str(tmp_path) in str(raised.value)


def test_not_toml_and_missing_files_are_explained(tmp_path):
    with pytest.raises(MappingError, match="not valid TOML"):
        load_mapping(write(tmp_path, "erp = sage500\n"))
    with pytest.raises(MappingError, match="cannot be read"):
        load_mapping(tmp_path / "absent.toml")


def test_customer_ids_are_harmonized_by_the_rules():
    mapping = Mapping.model_validate(
        {
            "erp": "dynamics_sl",
            "customers": {"uppercase": True, "strip_prefixes": ["CUST-", "C"], "zero_pad": 6},
        }
    )
    rules = mapping.customers
    assert rules.harmonize(" cust-42 ") == "000042"  # the longer prefix wins
    assert rules.harmonize("acme") == "ACME"  # not numeric: no padding
    assert rules.harmonize("C") == "C"  # a prefix alone is kept
    assert Mapping(erp="sage500").customers.harmonize(" c0001 ") == "c0001"


def test_structural_problems_need_no_erp():
    mapping = Mapping.model_validate(
        {
            "erp": "sage500",
            "accounts": {"card_fees": "6100"},
            "settlement": {"fees": "daily", "fee_percent": "2.9"},
        }
    )
    problems = structural_problems(mapping, "dynamics_sl")
    wheres = {(p.severity, p.where) for p in problems}
    assert ("error", "erp") in wheres
    assert ("error", "accounts.undeposited") in wheres
    assert ("warning", "accounts.bank") in wheres


def connector(erp_name, erp_url):
    engine = sa.create_engine(erp_url)
    standin = stand_in(erp_name)
    standin.seed_demo(engine, customers=5, invoices=8, today=TODAY)
    return engine, standin, standin.build_connector(engine, ConnectorOptions())


def test_the_starter_is_usable_against_the_demo_company(erp_name, erp_url):
    engine, _, erp = connector(erp_name, erp_url)
    problems = check_mapping(load_mapping(starter_path(erp_name)), erp_name, erp, TODAY)
    assert errors_of(problems) == [], problems
    engine.dispose()


def test_missing_accounts_and_missing_periods_are_errors(erp_name, erp_url):
    engine, _, erp = connector(erp_name, erp_url)
    data = load_mapping(starter_path(erp_name)).model_dump()
    data["accounts"]["card_fees"] = "6199"
    data["receipts"]["ach_cash_account"] = "1999"
    mapping = Mapping.model_validate(data)
    problems = check_mapping(mapping, erp_name, erp, TODAY)
    errors = {p.where: p.message for p in errors_of(problems)}
    assert "does not exist" in errors["accounts.card_fees"]
    assert "does not exist" in errors["receipts.ach_cash_account"]
    far = date(TODAY.year + 30, 1, 1)
    # Sage keeps fiscal periods as rows (none so far ahead); SL computes them from GLSetup
    uncovered = erp.fiscal_period(far) is None
    assert uncovered == (erp_name == "sage500")
    far_errors = errors_of(check_mapping(mapping, erp_name, erp, far))
    assert any(p.where == "periods" for p in far_errors) == uncovered
    engine.dispose()


def test_a_closed_period_today_is_a_warning(erp_name, erp_url):
    engine, standin, erp = connector(erp_name, erp_url)
    standin.set_period_open(engine, company_id=standin.default_company, day=TODAY, is_open=False)
    problems = check_mapping(load_mapping(starter_path(erp_name)), erp_name, erp, TODAY)
    assert [p.severity for p in problems if p.where == "periods"] == ["warning"]
    assert "closed" in next(p.message for p in problems if p.where == "periods")
    engine.dispose()


def test_the_match_policy_follows_the_mapping():
    mapping = Mapping.model_validate(
        {
            "erp": "sage500",
            "invoices": {"prefixes": ["INV-"]},
            "matching": {"tolerance": "0.05", "allocate_oldest_first": True},
            "periods": {"closed": "current"},
        }
    )
    policy = mapping.match_policy
    assert policy.tolerance == Decimal("0.05") and policy.allocate_oldest_first
    assert policy.invoice_prefixes == ("INV-",) and policy.closed_periods == "current"
