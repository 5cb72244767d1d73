"""The composition root: builds connectors from settings and injects them into activities."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from temporalio.client import Client

from activities.alerts import AlertDeliveryActivities
from activities.autopay import AutopayCardActivities, AutopayErpActivities
from activities.cases import CaseActivities
from activities.customers import (
    CustomerErpActivities,
    CustomerStoreActivities,
    CustomerVaultActivities,
)
from activities.erp import ErpActivities
from activities.erp_chargebacks import ChargebackErpActivities
from activities.erp_documents import ErpDocumentActivities
from activities.orders import OrderErpActivities, OrderPolicyActivities
from activities.paytrace import PaytraceActivities
from activities.paytrace_ach import AchActivities
from activities.paytrace_money import PaytraceMoneyActivities
from activities.settlement import SettlementActivities
from activities.starter import StarterActivities
from activities.store import StoreActivities
from connectors.erp.engine import server_engine
from connectors.erp.protocol import ErpConnector
from connectors.erp.standin import ConnectorOptions, stand_in
from connectors.notify import SmtpSender, WebhookSender
from connectors.paytrace.client import PaytraceClient
from connectors.store import Store
from domain.mapping import Mapping
from workers.erp_admin import erp_company
from workers.settings import Settings


def make_engine(url: str) -> sa.Engine:
    """Create a SQLAlchemy engine with tracepost's connection settings.

    SQLite gets WAL mode and a busy timeout so the worker's threads and the api can share a file;
    server databases get pre-ping so a dropped connection is replaced instead of failing a write.

    Args:
        url: any SQLAlchemy URL (``sqlite:///…``, ``postgresql+psycopg://…``,
            ``mssql+pyodbc://…``).

    Returns:
        The engine.
    """
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def display_url(url: str) -> str:
    """A database URL fit for printing: the password is masked.

    Args:
        url: a SQLAlchemy URL.

    Returns:
        The URL with ``***`` in place of its password.
    """
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unreadable database URL>"


def build_erp(settings: Settings, engine: sa.Engine) -> ErpConnector:
    """Build the configured ERP connector.

    Args:
        settings: tracepost settings.
        engine: the ERP database engine.

    Returns:
        The connector.
    """
    mapping = settings.mapping
    options = ConnectorOptions(
        company_id=erp_company(settings.erp, mapping.company),
        strategy=settings.erp_posting_strategy,
        user_id=settings.erp_user_id,
        paytrace_id_field=mapping.customers.paytrace_id_field,
        autopay_field=mapping.customers.autopay_field,
        card_field=mapping.customers.card_field,
        invoice_prefixes=mapping.invoices.prefixes,
        cash_account=mapping.card_cash_account,
        accounts=mapping.accounts.by_purpose(),
    )
    return stand_in(settings.erp).build_connector(engine, options)


def make_erp_engine(settings: Settings) -> sa.Engine:
    """The ERP database engine: SQL Server or PostgreSQL with the configured timeouts.

    Args:
        settings: tracepost settings.

    Returns:
        The engine; a SQLite stand-in gets the same engine as ``make_engine``.
    """
    if settings.erp_url.startswith("sqlite"):
        return make_engine(settings.erp_url)
    return server_engine(settings.erp_url, settings.erp_engine_options)


def build_paytrace(settings: Settings) -> PaytraceClient:
    """Build the PayTrace client."""
    return PaytraceClient(
        settings.paytrace_base_url,
        settings.paytrace_username,
        settings.paytrace_password.get_secret_value(),
        integrator_id=settings.paytrace_integrator_id,
        timeout=httpx.Timeout(
            connect=settings.paytrace_connect_timeout,
            read=settings.paytrace_read_timeout,
            write=settings.paytrace_read_timeout,
            pool=settings.paytrace_connect_timeout,
        ),
    )


def build_alert_delivery(settings: Settings, store: Store) -> AlertDeliveryActivities:
    """The alert delivery activities with the configured channels (a blank host or URL: none).

    Args:
        settings: tracepost settings (``alert_*``).
        store: the store holding the alert outbox.

    Returns:
        The activities.
    """
    email = webhook = None
    if settings.alert_smtp_host:
        email = SmtpSender(
            settings.alert_smtp_host,
            settings.alert_smtp_port,
            sender=settings.alert_email_from,
            username=settings.alert_smtp_username,
            password=settings.alert_smtp_password.get_secret_value(),
            starttls=settings.alert_smtp_starttls,
            timeout=settings.alert_smtp_timeout_seconds,
        )
    if url := settings.alert_webhook_url.get_secret_value():
        webhook = WebhookSender(url, timeout=settings.alert_webhook_timeout_seconds)
    return AlertDeliveryActivities(
        store, email=email, email_to=settings.alert_email_to, webhook=webhook
    )


@dataclass
class Components:
    """Every long-lived connector of a process."""

    settings: Settings
    paytrace: PaytraceClient
    erp_engine: sa.Engine
    erp: ErpConnector
    store: Store
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings) -> Components:
        """Build all connectors from settings."""
        erp_engine = make_erp_engine(settings)
        store = Store(make_engine(settings.store_url))
        return cls(
            settings=settings,
            paytrace=build_paytrace(settings),
            erp_engine=erp_engine,
            erp=build_erp(settings, erp_engine),
            store=store,
        )

    def workflow_queue_activities(self, client: Client) -> list[Any]:
        """Activities of the main task queue: PayTrace, store, starter, alert delivery."""
        settings = self.settings
        mapping = settings.mapping
        tz = settings.paytrace_timezone
        paytrace = PaytraceActivities(self.paytrace, tz, mapping.documents, mapping.statuses)
        ach = AchActivities(self.paytrace, tz, mapping.documents)
        money = PaytraceMoneyActivities(
            self.paytrace,
            tz,
            in_flight_grace=timedelta(seconds=settings.paytrace_in_flight_grace_seconds),
        )
        store = StoreActivities(
            self.store,
            sla_seconds=settings.attention_sla_minutes * 60,
            reminder_seconds=settings.attention_reminder_hours * 3600,
        )
        starter = StarterActivities(client, settings.task_queue)
        return [
            paytrace.fetch_transaction,
            paytrace.export_sweep_window,
            paytrace.export_voids,
            paytrace.settled_batches,
            ach.fetch_check,
            ach.export_checks_window,
            ach.export_check_reversals,
            money.charge_customer,
            money.refund_transaction,
            money.void_transaction,
            store.record_audit,
            store.record_posting,
            store.record_document,
            store.open_dead_letter,
            store.open_attention,
            store.escalate_attention,
            store.resolve_dead_letter,
            store.raise_alert,
            store.get_sweep_cursor,
            store.save_sweep_cursor,
            store.request_card_refund,
            store.finish_card_refund,
            store.card_refunds_of,
            store.card_refunds_like,
            store.settlement_deposited,
            starter.start_payment_postings,
            starter.start_workflows,
            starter.workflows_open,
            AutopayCardActivities(self.paytrace, tz).card_on_file,
            *self._case_activities(),
            OrderPolicyActivities(mapping).order_policy,
            *self._customer_activities(),
            build_alert_delivery(settings, self.store).deliver_alerts,
        ]

    def _customer_activities(self) -> list[Any]:
        """Customer profile sync on the main queue: the PayTrace vault and the sync's store rows."""
        vault = CustomerVaultActivities(self.paytrace)
        store = CustomerStoreActivities(self.store)
        return [
            vault.vault_profiles,
            vault.vault_profile,
            vault.push_customer_profiles,
            store.get_sync_cursor,
            store.save_sync_cursor,
            store.record_customer_decision,
        ]

    def _case_activities(self) -> list[Any]:
        cases = CaseActivities(self.store)
        return [cases.record_case, cases.open_chargebacks]

    def erp_queue_activities(self) -> list[Any]:
        """Activities of the ERP task queue (rate limited to protect the ERP)."""
        mapping = self.settings.mapping
        erp = ErpActivities(self.erp, mapping, self.settings.paytrace_timezone)
        documents = ErpDocumentActivities(self.erp, mapping)
        settlement = SettlementActivities(
            self.paytrace, self.erp, self.store, mapping, self.settings.paytrace_timezone
        )
        return [
            erp.load_match_input,
            erp.invoices_by_number,
            erp.find_receipt,
            erp.find_receipt_of,
            erp.write_receipt,
            erp.post_receipt,
            erp.post_receipt_of,
            erp.open_period_date,
            documents.find_document,
            documents.post_document,
            documents.load_refund_context,
            documents.write_credit_memo,
            documents.reverse_receipt,
            documents.write_deposit,
            documents.write_journal,
            documents.flagged_refund_memos,
            settlement.inspect_batch,
            settlement.reconcile_batch,
            *self._chargeback_activities(mapping),
            *self._customer_erp_activities(mapping),
            *self._order_activities(mapping),
        ]

    def _order_activities(self, mapping: Mapping) -> list[Any]:
        orders = OrderErpActivities(self.erp, mapping)
        return [orders.resolve_order_customer, orders.write_sales_order]

    def _customer_erp_activities(self, mapping: Mapping) -> list[Any]:
        customers = CustomerErpActivities(self.erp, mapping, self.settings.paytrace_timezone)
        return [
            customers.customers_changed,
            customers.plan_vault_profiles,
            customers.write_cards_on_file,
            customers.link_candidates,
            customers.link_customer,
        ]

    def _chargeback_activities(self, mapping: Mapping) -> list[Any]:
        chargebacks = ChargebackErpActivities(self.erp, mapping)
        return [
            chargebacks.chargeback_policy,
            chargebacks.get_customer,
            chargebacks.set_credit_hold,
            chargebacks.reapply_receipt,
            chargebacks.write_off_invoice,
            *self._autopay_activities(mapping),
        ]

    def _autopay_activities(self, mapping: Mapping) -> list[Any]:
        autopay = AutopayErpActivities(self.erp, mapping, self.settings.paytrace_timezone)
        return [autopay.autopay_due, autopay.autopay_standing]

    async def aclose(self) -> None:
        """Close connection pools."""
        await self.paytrace.aclose()
        self.erp_engine.dispose()
        self.store.engine.dispose()
