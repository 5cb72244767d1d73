"""Temporal workflows, one module per use case."""

from workflows.credit_memo_refund import CreditMemoRefund
from workflows.erp_refund_sweep import ErpRefundSweep
from workflows.payment_posting import PaymentPosting
from workflows.refund_to_credit_memo import RefundToCreditMemo
from workflows.settlement_sync import SettlementSweep, SettlementSync
from workflows.transaction_sweep import TransactionSweep
from workflows.void_reversal import VoidReversal

ALL_WORKFLOWS = [
    PaymentPosting,
    TransactionSweep,
    RefundToCreditMemo,
    CreditMemoRefund,
    VoidReversal,
    SettlementSweep,
    SettlementSync,
    ErpRefundSweep,
]

__all__ = [
    "ALL_WORKFLOWS",
    "CreditMemoRefund",
    "ErpRefundSweep",
    "PaymentPosting",
    "RefundToCreditMemo",
    "SettlementSweep",
    "SettlementSync",
    "TransactionSweep",
    "VoidReversal",
]
