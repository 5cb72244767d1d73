"""A settlement reconciliation report as CSV (``settlement report --csv``, the ops page export)."""

from __future__ import annotations

import csv
import io

from domain.store_io import SettlementReport

CSV_COLUMNS = (
    "transaction_id",
    "type",
    "paytrace_amount",
    "erp_document",
    "erp_amount",
    "status",
    "note",
)


def report_csv(report: SettlementReport) -> str:
    """Every line of a batch's report, one CSV row each, under a header row.

    Args:
        report: the stored report.

    Returns:
        The CSV text (CRLF line ends, as spreadsheets expect).
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for line in report.lines:
        writer.writerow(
            [
                line.transaction_id,
                line.transaction_type,
                line.paytrace_amount,
                line.erp_document,
                "" if line.erp_amount is None else line.erp_amount,
                line.status.value,
                line.note,
            ]
        )
    return out.getvalue()
