"""ERP activities of the Chargeback workflow: reapply, credit hold, write-off, its policy.

On the ERP's rate-limited task queue, like every ERP call. Synchronous: the worker's thread pool.
"""

from __future__ import annotations

from temporalio import activity

from activities import names
from activities.erp import erp_call
from connectors.erp.protocol import ErpConnector
from domain.chargeback_io import ChargebackPolicy, CreditHoldRequest
from domain.erp_documents import CustomerDetail, ErpDocument, InvoiceWriteOff, Reapplication
from domain.mapping import Mapping


class ChargebackErpActivities:
    """The ERP side of disputes, with the connector and the mapping injected.

    Args:
        erp: the ERP connector.
        mapping: the deployment's mapping (its ``chargebacks`` section and accounts).
    """

    def __init__(self, erp: ErpConnector, mapping: Mapping) -> None:
        self._erp = erp
        self._mapping = mapping

    @activity.defn(name=names.CHARGEBACK_POLICY)
    def chargeback_policy(self, case_id: str) -> ChargebackPolicy:
        """What the mapping says a case does; read once when a case opens.

        Args:
            case_id: the case asking, for the log.

        Returns:
            The policy the case keeps for its life.
        """
        activity.logger.info("chargeback %s reads the mapping's chargeback policy", case_id)
        return self._mapping.chargeback_policy

    @activity.defn(name=names.GET_CUSTOMER)
    def get_customer(self, customer_id: str) -> CustomerDetail | None:
        """A customer with its ERP-owned fields and hold state, or None when unknown."""
        return erp_call(lambda: self._erp.get_customer(customer_id))

    @activity.defn(name=names.SET_CREDIT_HOLD)
    def set_credit_hold(self, request: CreditHoldRequest) -> CustomerDetail:
        """Put the customer on credit hold or release it (idempotent)."""
        return erp_call(lambda: self._erp.set_credit_hold(request.customer_id, request.on_hold))

    @activity.defn(name=names.REAPPLY_RECEIPT)
    def reapply_receipt(self, reapplication: Reapplication) -> ErpDocument:
        """Apply a reversed payment again to what it first paid, exactly once per key."""
        return erp_call(lambda: self._erp.reapply_receipt(reapplication))

    @activity.defn(name=names.WRITE_OFF_INVOICE)
    def write_off_invoice(self, write_off: InvoiceWriteOff) -> ErpDocument:
        """Write off an invoice's balance to the write-off account, exactly once per key."""
        return erp_call(lambda: self._erp.write_off_invoice(write_off))
