"""Every workflow, for the worker to register (imported outside the workflow sandbox only)."""

from workflows.alert_delivery import AlertDelivery
from workflows.autopay import AutopayCharge, AutopaySweep
from workflows.chargeback import Chargeback
from workflows.credit_memo_refund import CreditMemoRefund
from workflows.customer_link import CustomerLink
from workflows.customer_sync import CustomerProfileSync
from workflows.erp_refund_sweep import ErpRefundSweep
from workflows.order_sync import OrderSync
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
    Chargeback,
    AutopaySweep,
    AutopayCharge,
    CustomerProfileSync,
    CustomerLink,
    OrderSync,
    AlertDelivery,
]

__all__ = [
    "ALL_WORKFLOWS",
    "AlertDelivery",
    "AutopayCharge",
    "AutopaySweep",
    "Chargeback",
    "CreditMemoRefund",
    "CustomerLink",
    "CustomerProfileSync",
    "ErpRefundSweep",
    "OrderSync",
    "PaymentPosting",
    "RefundToCreditMemo",
    "SettlementSweep",
    "SettlementSync",
    "TransactionSweep",
    "VoidReversal",
]
