"""Activity names: the only thing workflows import from ``activities``.

Workflows call activities by these names so that no connector (httpx, SQLAlchemy) is imported into
the workflow sandbox.
"""

# PayTrace reads
FETCH_TRANSACTION = "paytrace.fetch_transaction"
FETCH_CHECK = "paytrace.fetch_check"
EXPORT_SWEEP_WINDOW = "paytrace.export_sweep_window"
EXPORT_VOIDS = "paytrace.export_voids"
EXPORT_CHECKS_WINDOW = "paytrace.export_checks_window"
EXPORT_CHECK_REVERSALS = "paytrace.export_check_reversals"
SETTLED_BATCHES = "paytrace.settled_batches"

# PayTrace money (read back before any retry)
CHARGE_CUSTOMER = "paytrace.charge_customer"
REFUND_TRANSACTION = "paytrace.refund_transaction"
VOID_TRANSACTION = "paytrace.void_transaction"

# ERP (their own rate-limited task queue)
LOAD_MATCH_INPUT = "erp.load_match_input"
FIND_RECEIPT = "erp.find_receipt"
WRITE_RECEIPT = "erp.write_receipt"
POST_RECEIPT = "erp.post_receipt"
INVOICES_BY_NUMBER = "erp.invoices_by_number"
FIND_RECEIPT_OF = "erp.find_receipt_of"
POST_RECEIPT_OF = "erp.post_receipt_of"
FIND_DOCUMENT = "erp.find_document"
POST_DOCUMENT = "erp.post_document"
LOAD_REFUND_CONTEXT = "erp.load_refund_context"
WRITE_CREDIT_MEMO = "erp.write_credit_memo"
REVERSE_RECEIPT = "erp.reverse_receipt"
WRITE_DEPOSIT = "erp.write_deposit"
WRITE_JOURNAL = "erp.write_journal"
OPEN_PERIOD_DATE = "erp.open_period_date"
FLAGGED_REFUND_MEMOS = "erp.flagged_refund_memos"

# ERP: chargebacks
CHARGEBACK_POLICY = "erp.chargeback_policy"
GET_CUSTOMER = "erp.get_customer"
SET_CREDIT_HOLD = "erp.set_credit_hold"
REAPPLY_RECEIPT = "erp.reapply_receipt"
WRITE_OFF_INVOICE = "erp.write_off_invoice"

# autopay
AUTOPAY_DUE = "erp.autopay_due"
AUTOPAY_STANDING = "erp.autopay_standing"
CARD_ON_FILE = "paytrace.card_on_file"

# customer profile sync (PayTrace vault, ERP customers, the sync cursor and decisions)
VAULT_PROFILES = "paytrace.vault_profiles"
VAULT_PROFILE = "paytrace.vault_profile"
PUSH_CUSTOMER_PROFILES = "paytrace.push_customer_profiles"
CUSTOMERS_CHANGED = "erp.customers_changed"
PLAN_VAULT_PROFILES = "erp.plan_vault_profiles"
WRITE_CARDS_ON_FILE = "erp.write_cards_on_file"
LINK_CANDIDATES = "erp.link_candidates"
LINK_CUSTOMER = "erp.link_customer"
GET_SYNC_CURSOR = "store.get_sync_cursor"
SAVE_SYNC_CURSOR = "store.save_sync_cursor"
RECORD_CUSTOMER_DECISION = "store.record_customer_decision"

# settlement (reads PayTrace and the ERP, writes the report; on the ERP task queue)
INSPECT_BATCH = "settlement.inspect_batch"
RECONCILE_BATCH = "settlement.reconcile_batch"

# tracepost's store
RECORD_AUDIT = "store.record_audit"
RECORD_POSTING = "store.record_posting"
RECORD_DOCUMENT = "store.record_document"
OPEN_DEAD_LETTER = "store.open_dead_letter"
OPEN_ATTENTION = "store.open_attention"
ESCALATE_ATTENTION = "store.escalate_attention"
RESOLVE_DEAD_LETTER = "store.resolve_dead_letter"
RAISE_ALERT = "store.raise_alert"
GET_SWEEP_CURSOR = "store.get_sweep_cursor"
SAVE_SWEEP_CURSOR = "store.save_sweep_cursor"
REQUEST_CARD_REFUND = "store.request_card_refund"
FINISH_CARD_REFUND = "store.finish_card_refund"
CARD_REFUNDS_OF = "store.card_refunds_of"
CARD_REFUNDS_LIKE = "store.card_refunds_like"
SETTLEMENT_DEPOSITED = "store.settlement_deposited"
RECORD_CASE = "store.record_case"
OPEN_CHARGEBACKS = "store.open_chargebacks"

# alert delivery (the tp_alert outbox to e-mail and the webhook)
DELIVER_ALERTS = "alerts.deliver"

# Temporal itself
START_PAYMENT_POSTINGS = "temporal.start_payment_postings"
START_WORKFLOWS = "temporal.start_workflows"
WORKFLOWS_OPEN = "temporal.workflows_open"

# eCommerce orders (OrderSync)
ORDER_POLICY = "orders.policy"
RESOLVE_ORDER_CUSTOMER = "erp.resolve_order_customer"
WRITE_SALES_ORDER = "erp.write_sales_order"
