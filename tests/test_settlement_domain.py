"""Settlement reconciliation as pure logic: lines, strays, fees, deposit, totals that disagree."""

from datetime import date, datetime
from decimal import Decimal as D

from domain.erp_documents import DocumentKind, DocumentStatus, ErpDocument
from domain.mapping import DocumentAction, SettlementMap
from domain.settlement import BatchInfo, BatchLine, StrayReceipt, fees_of, reconcile
from domain.store_io import SettlementLineStatus as S

BATCH = BatchInfo(
    number=77,
    settled_at=datetime(2026, 12, 1, 0, 0, 5),
    sales_count=3,
    sales_amount=D("300.00"),
    refund_count=1,
    refund_amount=D("25.00"),
    net_amount=D("275.00"),
)


def line(txn, kind, amount, action=None):
    default = DocumentAction.CREDIT_MEMO if kind == "REFUND" else DocumentAction.RECEIPT
    return BatchLine(
        transaction_id=txn, transaction_type=kind, amount=D(amount), action=action or default
    )


def doc(kind, txn, amount, status=DocumentStatus.POSTED):
    return ErpDocument(
        kind=kind,
        key=str(txn),
        erp="sage500",
        erp_document=f"D{txn}",
        batch="B",
        amount=D(amount),
        status=status,
        paytrace_transaction_id=txn,
    )


LINES = [
    line(1, "SALE", "100.00"),
    line(2, "SALE", "120.00"),
    line(3, "CAPTURE", "80.00"),
    line(4, "REFUND", "25.00"),
]


def test_a_batch_that_matches_is_reconciled_and_deposits_its_net():
    docs = {
        (DocumentKind.RECEIPT, "1"): doc(DocumentKind.RECEIPT, 1, "100.00"),
        (DocumentKind.RECEIPT, "2"): doc(DocumentKind.RECEIPT, 2, "120.00"),
        (DocumentKind.RECEIPT, "3"): doc(DocumentKind.RECEIPT, 3, "80.00"),
        (DocumentKind.CREDIT_MEMO, "4"): doc(DocumentKind.CREDIT_MEMO, 4, "25.00"),
    }
    report = reconcile(BATCH, LINES, docs, [], SettlementMap())
    assert report.status == "reconciled" and report.discrepancies == ()
    assert [ln.status for ln in report.lines] == [S.MATCHED] * 4
    assert (report.sales_amount, report.refund_amount, report.fees) == (
        D("300.00"),
        D("25.00"),
        D("0.00"),
    )
    assert report.deposit_amount == D("275.00") and report.deposit_date == date(2026, 12, 1)


def test_missing_documents_amount_differences_and_strays_are_discrepancies():
    docs = {
        (DocumentKind.RECEIPT, "1"): doc(DocumentKind.RECEIPT, 1, "100.00"),
        (DocumentKind.RECEIPT, "2"): doc(DocumentKind.RECEIPT, 2, "12.00"),
    }
    strays = [
        StrayReceipt(document=doc(DocumentKind.RECEIPT, 9, "40.00"), paytrace_type="VOID"),
        StrayReceipt(document=doc(DocumentKind.RECEIPT, 8, "10.00"), reversed=True),
    ]
    report = reconcile(BATCH, LINES, docs, strays, SettlementMap())
    by_txn = {ln.transaction_id: ln for ln in report.lines}
    assert by_txn[2].status is S.AMOUNT_DIFFERS and "ERP 12.00" in by_txn[2].note
    assert by_txn[3].status is S.MISSING_IN_ERP
    assert by_txn[4].status is S.MISSING_IN_ERP and "credit memo" in by_txn[4].note
    assert by_txn[9].status is S.IN_ERP_NOT_IN_PAYTRACE and "VOID" in by_txn[9].note
    assert 8 not in by_txn  # a stray that was reversed is fine
    assert report.status == "discrepancies" and len(report.discrepancies) == 4


def test_ignored_types_are_not_discrepancies():
    lines = [*LINES[:3], line(4, "REFUND", "25.00", DocumentAction.IGNORE)]
    docs = {
        (DocumentKind.RECEIPT, str(n)): doc(DocumentKind.RECEIPT, n, a)
        for n, a in ((1, "100.00"), (2, "120.00"), (3, "80.00"))
    }
    report = reconcile(BATCH, lines, docs, [], SettlementMap())
    assert report.lines[-1].status is S.NOT_POSTED_BY_DESIGN and report.status == "reconciled"


def test_daily_fees_are_percent_of_sales_plus_a_fee_per_sale():
    policy = SettlementMap(fees="daily", fee_percent=D("2.9"), fee_per_transaction=D("0.30"))
    assert fees_of(LINES, policy) == D("8.70") + D("0.90")  # 2.9 % of 300.00, 3 sales
    odd = [line(1, "SALE", "10.05")]
    assert fees_of(odd, policy) == D("0.29") + D("0.30")  # 0.29145 rounds half up to 0.29
    report = reconcile(BATCH, LINES, {}, [], policy)
    assert report.fees == D("9.60") and report.deposit_amount == D("265.40")


def test_a_summary_that_disagrees_with_its_lines_is_noted():
    short = BATCH.model_copy(update={"sales_amount": D("299.00")})
    docs = {
        (DocumentKind.RECEIPT, str(n)): doc(DocumentKind.RECEIPT, n, a)
        for n, a in ((1, "100.00"), (2, "120.00"), (3, "80.00"))
    } | {(DocumentKind.CREDIT_MEMO, "4"): doc(DocumentKind.CREDIT_MEMO, 4, "25.00")}
    report = reconcile(short, LINES, docs, [], SettlementMap())
    assert report.status == "discrepancies" and "summary says 3 for 299.00" in report.notes[0]
