"""Reading the processor's dispute report: columns, decisions, refusals."""

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from domain.chargeback_io import DisputeOutcome
from domain.chargeback_report import ReportFormatError, end_of_day, read_report
from domain.mapping import Mapping

NY = ZoneInfo("America/New_York")
HEADER = "Case Number,Transaction ID,Dispute Amount,Fee,Reason Code,Case Date,Reply By,Status\n"


def test_rows_read_with_the_portal_s_spellings_and_a_deadline_at_local_midnight():
    text = HEADER + "CB-1,1000123,125.00,25.00,10.4,2026-11-02,11/20/2026,Won\n"
    report = read_report(text, NY, Decimal("0"))
    (row,) = report.rows
    assert report.problems == ()
    assert row.case.case_id == "CB-1" and row.case.transaction_id == 1000123
    assert row.case.amount == Decimal("125.00") and row.case.fee == Decimal("25.00")
    assert row.case.respond_by == date(2026, 11, 20)
    assert row.case.deadline.astimezone(UTC) == datetime(2026, 11, 21, 5, 0, tzinfo=UTC)
    assert row.outcome is DisputeOutcome.WON and row.line == 2


def test_open_cases_have_no_decision_and_take_the_default_fee():
    text = "case_id,transaction_id,amount,opened_on,respond_by\nA1,77,$1,250.50,2026-11-01,2026-11-30\n"
    # the amount column holds a thousands comma inside no quotes: that is a malformed row
    report = read_report(text, NY, Decimal("15.00"))
    assert report.rows == () and report.problems[0].line == 2
    text = 'case_id,transaction_id,amount,opened_on,respond_by\nA1,77,"$1,250.50",2026-11-01,2026-11-30\n'
    (row,) = read_report(text, NY, Decimal("15.00")).rows
    assert row.outcome is None and row.case.fee == Decimal("15.00")
    assert row.case.amount == Decimal("1250.50")


def test_bad_rows_are_reported_by_line_and_the_good_ones_still_read():
    text = (
        HEADER
        + "CB-1,1000123,125.00,,,2026-11-02,2026-11-20,Pending\n"
        + "CB-2,abc,10.00,,,2026-11-02,2026-11-20,\n"
        + "CB-3,1000124,10.001,,,2026-11-02,2026-11-20,\n"
        + "CB-4,1000125,10.00,,,2026-11-22,2026-11-20,\n"
        + "CB-5,1000126,10.00,,,2026-11-02,2026-11-20,Appealed\n"
        + "\n"
    )
    report = read_report(text, NY, Decimal("0"))
    assert [r.case.case_id for r in report.rows] == ["CB-1"]
    assert [p.line for p in report.problems] == [3, 4, 5, 6]
    assert "respond_by is before opened_on" in report.problems[2].reason
    assert report.problems[3].reason == "status is not open, pending, won or lost"
    assert report.problems[0].reason == "transaction_id is not a whole number"
    assert not any("abc" in p.reason or "10.001" in p.reason for p in report.problems)


def test_a_row_holding_a_card_number_is_refused_without_echoing_it():
    text = HEADER + "CB-1,1000123,125.00,,4111111111111111,2026-11-02,2026-11-20,\n"
    report = read_report(text, NY, Decimal("0"))
    assert report.rows == ()
    (problem,) = report.problems
    assert "card number" in problem.reason and "4111" not in problem.reason


@pytest.mark.parametrize(
    "text", ["", "case_id,amount\nX,1\n", "Case Number,Dispute Amount,Reply By\n"]
)
def test_a_file_that_is_no_dispute_report_is_refused(text):
    with pytest.raises(ReportFormatError):
        read_report(text, NY, Decimal("0"))


def test_end_of_day_follows_daylight_saving():
    assert end_of_day(date(2026, 7, 1), NY).astimezone(UTC).hour == 4
    assert end_of_day(date(2026, 12, 1), NY).astimezone(UTC).hour == 5


def test_the_mapping_s_chargeback_section_is_validated():
    mapping = Mapping(
        erp="sage500",
        accounts={"chargeback_fees": "6110", "bank": "1000"},
        chargebacks={"credit_hold": True, "lost": "write_off", "default_fee": "25.00"},
    )
    policy = mapping.chargeback_policy
    assert policy.credit_hold and policy.lost.value == "write_off"
    assert (policy.fee_account, policy.bank_account) == ("6110", "1000")
    for bad in ({"lost": "forgive"}, {"default_fee": "1.234"}, {"flip_window_days": 0}):
        with pytest.raises(ValueError):
            Mapping(erp="sage500", chargebacks=bad)


def test_portal_spellings_of_decisions_and_two_digit_years_are_read():
    text = (
        HEADER
        + 'CB-1,11,10.00,"1,000.00",,11/2/26,11/20/26,Closed - Won\n'
        + "CB-2,12,10.00,,,11/2/26,11/20/26,Lost (pre-arbitration)\n"
        + "CB-3,13,10.00,,,2026-11-02,0026-11-20,\n"
    )
    report = read_report(text, NY, Decimal("0"))
    won, lost = report.rows
    assert won.outcome is DisputeOutcome.WON and won.case.respond_by == date(2026, 11, 20)
    assert won.case.fee == Decimal("1000.00")
    assert lost.outcome is DisputeOutcome.LOST
    assert [p.reason for p in report.problems] == ["respond_by is before 2000"]


def test_a_case_or_decision_carrying_a_card_number_is_refused():
    from domain.chargeback_io import ChargebackCase, OutcomeUpdate

    with pytest.raises(ValueError, match="card number"):
        OutcomeUpdate(outcome="won", note="card 4111 1111 1111 1111 was refunded")
    with pytest.raises(ValueError, match="card number"):
        ChargebackCase(
            case_id="CB9",
            transaction_id=1,
            amount=Decimal("1.00"),
            reason="4111111111111111",
            opened_on=date(2026, 11, 1),
            respond_by=date(2026, 11, 2),
            deadline=datetime(2026, 11, 3, tzinfo=UTC),
        )
    with pytest.raises(ValueError, match="1-20"):
        ChargebackCase(
            case_id="C" * 21,
            transaction_id=1,
            amount=Decimal("1.00"),
            opened_on=date(2026, 11, 1),
            respond_by=date(2026, 11, 2),
            deadline=datetime(2026, 11, 3, tzinfo=UTC),
        )
