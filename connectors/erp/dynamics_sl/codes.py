"""Dynamics SL codes tracepost writes and reads: document types, statuses, screens.

Every value a real SL database might contradict lives here; docs/erp/dynamics_sl.md gives the
evidence and confidence of each.
"""

from __future__ import annotations

ERP_NAME = "dynamics_sl"
ERP_LABEL = "Dynamics SL"
DEFAULT_COMPANY = "0010"
SETUP_ID_AR = "AR"
MODULE_AR = "AR"
JRNL_TYPE_AR = "AR"
CURY_ID = "USD"
REF_WIDTH = 10
BAT_WIDTH = 10

# ARDoc.DocType
DOC_INVOICE = "IN"
DOC_DEBIT_MEMO = "DM"
DOC_FINANCE_CHARGE = "FI"
DOC_NSF_CHARGE = "NC"
DOC_CREDIT_MEMO = "CM"
DOC_PAYMENT = "PA"
DOC_PREPAYMENT = "PP"
PAYMENT_TYPES = (DOC_PAYMENT, DOC_PREPAYMENT)
DOC_SMALL_BALANCE = "SB"
DOC_NSF_REVERSAL = "NS"
DEBIT_TYPES = (DOC_INVOICE, DOC_DEBIT_MEMO, DOC_FINANCE_CHARGE, DOC_NSF_CHARGE)

# Batch.Status (H hold, B balanced, S suspended, V voided, U released, P posted, C completed)
BATCH_BALANCED = "B"
BATCH_VOIDED = "V"
BATCH_RELEASED = "U"
BATCH_POSTED = "P"
BATCH_COMPLETED = "C"
BATCH_RELEASED_STATES = (BATCH_RELEASED, BATCH_POSTED, BATCH_COMPLETED)
BAT_TYPE_NORMAL = "N"

# Batch.EditScrnNbr / Crtd_Prog: the SL screen a batch appears to come from.
SCREEN_INVOICES = "08010"
SCREEN_PAYMENTS = "08030"
PROG_RELEASE = "08400"

# ARTran.DrCr
DRCR_APPLICATION = "U"
DRCR_DEBIT = "D"
DRCR_CREDIT = "C"
FIRST_LINE_NBR = -32767
LINE_NBR_STEP = 256

# Customer.Status
CUST_ACTIVE = "A"
CUST_INACTIVE = "I"
CUST_CREDIT_HOLD = "H"
CUST_ADMIN_HOLD = "R"
CUST_ONE_TIME = "O"
HOLD_STATES = (CUST_CREDIT_HOLD, CUST_ADMIN_HOLD)
USABLE_STATES = (CUST_ACTIVE, CUST_ONE_TIME)

DEFAULT_SHIP_TO = "DEFAULT"
DOC_STATUS_ACTIVE = "A"
DOC_CLASS_NORMAL = "N"
CURY_MULT = "M"


def line_nbr(index: int) -> int:
    """``ARTran.LineNbr`` of the index-th line (0-based): SL grids start at -32767, step 256."""
    return FIRST_LINE_NBR + LINE_NBR_STEP * index
