"""Activity names: the only thing workflows import from ``activities``.

Workflows call activities by these names so that no connector (httpx, SQLAlchemy) is imported into
the workflow sandbox.
"""

FETCH_TRANSACTION = "paytrace.fetch_transaction"
EXPORT_SWEEP_WINDOW = "paytrace.export_sweep_window"

LOAD_MATCH_INPUT = "erp.load_match_input"
FIND_RECEIPT = "erp.find_receipt"
WRITE_RECEIPT = "erp.write_receipt"
POST_RECEIPT = "erp.post_receipt"
INVOICES_BY_NUMBER = "erp.invoices_by_number"

RECORD_AUDIT = "store.record_audit"
RECORD_POSTING = "store.record_posting"
OPEN_DEAD_LETTER = "store.open_dead_letter"
RESOLVE_DEAD_LETTER = "store.resolve_dead_letter"
GET_SWEEP_CURSOR = "store.get_sweep_cursor"
SAVE_SWEEP_CURSOR = "store.save_sweep_cursor"

START_PAYMENT_POSTINGS = "temporal.start_payment_postings"
CHARGE_CUSTOMER = "paytrace.charge_customer"
REFUND_TRANSACTION = "paytrace.refund_transaction"
VOID_TRANSACTION = "paytrace.void_transaction"
