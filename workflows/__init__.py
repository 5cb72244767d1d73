"""Temporal workflows, one module per use case."""

from workflows.payment_posting import PaymentPosting
from workflows.transaction_sweep import TransactionSweep

ALL_WORKFLOWS = [PaymentPosting, TransactionSweep]

__all__ = ["ALL_WORKFLOWS", "PaymentPosting", "TransactionSweep"]
