"""Every tracepost setting, in one pydantic-settings class (environment prefix ``TRACEPOST_``).

Defaults are those of the embedded stack (``tracepost dev``). docs/configuration.md documents each.
"""

from __future__ import annotations

import ipaddress
import os
from datetime import time
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

import sqlalchemy as sa
from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.erp.engine import ISOLATION_LEVELS, ErpEngineOptions
from connectors.erp.protocol import PostingStrategy
from connectors.paytrace.simulator.faults import FaultRule
from domain.mapping import Mapping
from domain.matching import MatchPolicy
from workers.mapping_file import load_mapping, starter_path
from workflows.options import erp_queue

SUPPORTED_ERPS = ("sage500", "dynamics_sl")
MOVED_TO_MAPPING = {
    "TRACEPOST_ERP_COMPANY_ID": "company",
    "TRACEPOST_ERP_PAYTRACE_ID_FIELD": "customers.paytrace_id_field",
    "TRACEPOST_ERP_CASH_ACCOUNT": "receipts.card_cash_account",
    "TRACEPOST_ERP_ACCOUNTS": "[accounts]",
    "TRACEPOST_MATCH_TOLERANCE": "matching.tolerance",
    "TRACEPOST_MATCH_ALLOCATE_OLDEST_FIRST": "matching.allocate_oldest_first",
    "TRACEPOST_INVOICE_PREFIXES": "invoices.prefixes",
}
"""Settings that moved into the mapping file: a process refuses to start while one is set."""
ERP_LABELS = {"sage500": "Sage 500", "dynamics_sl": "Dynamics SL"}
PAYTRACE_PRODUCTION_HOST = "api.paytrace.com"
DEV_SILENT_POST_SECRET = "dev-silent-post-secret"  # noqa: S105 - the embedded stack only


def _backend(url: str) -> str:
    """The database backend of a SQLAlchemy URL (``sqlite``, ``postgresql``, ``mssql``)."""
    try:
        return sa.engine.make_url(url).get_backend_name()
    except sa.exc.ArgumentError:
        return "unknown"


class Settings(BaseSettings):
    """tracepost configuration."""

    # hide_input_in_errors: a validation error must never echo a password back.
    model_config = SettingsConfigDict(
        env_prefix="TRACEPOST_", extra="ignore", hide_input_in_errors=True
    )
    _mapping: Mapping = PrivateAttr()

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    # Temporal connection (production)
    temporal_tls: bool | None = None
    """TLS to the frontend; unset: on when a CA, server name, client certificate or API key is set."""
    temporal_tls_ca_cert: Path | None = None
    """PEM CA the server's certificate is checked against; unset: the system's roots."""
    temporal_tls_server_name: str = ""
    """The name the server's certificate carries, when it is not the host of the address."""
    temporal_tls_client_cert: Path | None = None
    """PEM client certificate of mutual TLS (with ``temporal_tls_client_key``)."""
    temporal_tls_client_key: Path | None = None
    """Its unencrypted PEM private key (a file only this process's user can read)."""
    temporal_api_key: SecretStr = SecretStr("")
    """API key (Temporal Cloud), sent as a bearer token; turns TLS on."""
    temporal_api_key_allow_plaintext: bool = False
    """Allow the API key with ``temporal_tls=false`` (a TLS-terminating proxy on a trusted link)."""
    # Temporal: task queue and the embedded dev server
    task_queue: str = "tracepost"
    ui_port: int = 8233
    temporal_cli: str = ""
    log_level: str = "INFO"
    # api process
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    silent_post_secret: SecretStr = SecretStr(DEV_SILENT_POST_SECRET)
    silent_post_allowed_ips: list[str] = Field(default_factory=list)
    """Addresses or CIDR networks Silent Posts may come from; empty allows any."""
    event_secrets: SecretStr = SecretStr("")
    """HMAC secrets of ``/webhooks/events``, comma separated (two during a rotation)."""
    event_replay_window_seconds: int = Field(300, ge=30, le=3600)
    # ops pages
    ops_users_file: Path | None = None
    """TOML file of ops users (name, role, password hash); default ``var/ops-users.toml``."""
    ops_session_secret: SecretStr = SecretStr("")
    """Signs the ops session cookie; default a random key kept under ``var/``."""
    ops_session_hours: int = Field(12, ge=1, le=168)
    ops_cookie_secure: bool = False
    ui_base_url: str = ""
    """The Temporal Web UI as operators reach it; default ``http://<api host>:<ui port>``."""
    # payload encryption (AES-GCM codec) and the codec server
    codec: str = "on"
    """``on`` encrypts every tracepost payload; ``off`` only when explicitly configured."""
    codec_keys: SecretStr = SecretStr("")
    """``id:base64-key`` pairs, comma separated; the first encrypts, all decrypt."""
    codec_keys_file: Path | None = None
    """Where keys are kept when ``codec_keys`` is blank; default ``var/codec-keys``."""
    codec_token: SecretStr = SecretStr("")
    """Bearer token the codec endpoints accept (besides an ops session)."""
    codec_cors_origins: list[str] = Field(default_factory=list)
    """Origins allowed to call the codec endpoints; default the Web UI's own."""
    # alerts
    alert_email_to: list[str] = Field(default_factory=list)
    alert_email_from: str = "tracepost@localhost"
    alert_smtp_host: str = ""
    alert_smtp_port: int = 25
    alert_smtp_username: str = ""
    alert_smtp_password: SecretStr = SecretStr("")
    alert_smtp_starttls: bool = False
    alert_smtp_timeout_seconds: float = Field(10.0, gt=0)
    alert_webhook_url: SecretStr = SecretStr("")
    alert_webhook_timeout_seconds: float = Field(10.0, gt=0)
    alert_delivery_interval_seconds: int = Field(30, ge=5)
    alert_failure_attempts: int = Field(5, ge=2)
    """An activity failing this many attempts in a row raises a ``repeated_failure`` alert."""
    # PayTrace
    paytrace_base_url: str = "http://127.0.0.1:8001"
    paytrace_username: str = "demo"
    paytrace_password: SecretStr = SecretStr("demo")
    paytrace_integrator_id: str = ""
    paytrace_timezone: str = "America/New_York"
    paytrace_connect_timeout: float = 5.0
    paytrace_read_timeout: float = 30.0
    # ERP
    erp: str = "sage500"
    erp_url: str = ""
    erp_user_id: str = "tracepost"
    erp_posting_strategy: PostingStrategy = PostingStrategy.EMULATED
    erp_isolation_level: str = "READ COMMITTED"
    erp_connect_timeout_seconds: float = Field(15.0, gt=0)
    erp_lock_timeout_seconds: float = Field(30.0, gt=0)
    erp_odbc_driver: str = ""
    erp_pool_size: int = Field(5, ge=1)
    erp_max_activities_per_second: float = 20.0
    paytrace_in_flight_grace_seconds: float = Field(90.0, gt=0)
    # store
    store_url: str = ""
    # local files
    var_dir: Path = Path("var")
    # mapping (accounts, documents, matching, settlement: docs/mapping.md)
    mapping_file: Path | None = None
    # needs-attention
    attention_sla_minutes: int = Field(240, ge=0)
    attention_reminder_hours: int = Field(24, ge=1)
    # sweeps
    sweep_interval_seconds: int = Field(15, ge=1)
    sweep_overlap_minutes: int = Field(10, ge=0)
    sweep_first_lookback_days: int = Field(1, ge=0)
    sweep_ach: bool = True
    lookback_interval_seconds: int = Field(300, ge=10)
    void_lookback_days: int = Field(10, ge=1, le=30)
    return_lookback_days: int = Field(10, ge=1, le=120)
    erp_refund_sweep_interval_seconds: int = Field(60, ge=10)
    # settlement
    settlement_time: time = time(6, 0)
    settlement_lookback_days: int = Field(7, ge=1, le=90)
    # autopay (the mapping's [autopay] section turns it on)
    autopay_time: time = time(7, 0)
    # customer profile sync (0: no schedule)
    customer_sync_interval_seconds: int = Field(300, ge=0)
    # observability (docs/operations.md, "Monitoring: traces, metrics, logs")
    log_format: str = "text"
    """``text`` (one line per record) or ``json`` (one JSON object per line, with workflow ids)."""
    otel_exporter: str = "none"
    """Where trace spans go: ``none``, ``console`` (stdout, for dev) or ``otlp`` (a collector)."""
    otel_endpoint: str = ""
    """OTLP/HTTP endpoint, e.g. ``http://otel-collector:4318``; blank: the OTEL_EXPORTER_* default."""
    otel_service_name: str = ""
    """``service.name`` of the spans; blank: ``tracepost-worker``, ``tracepost-api``, ``tracepost-dev``."""
    metrics_bind: str = ""
    """``host:port`` of the worker's (and ``tracepost dev``'s) Prometheus endpoint; blank: off."""
    api_metrics_bind: str = ""
    """``host:port`` of the api process's Prometheus endpoint; blank: off."""
    metrics_refresh_seconds: int = Field(30, ge=5, le=3600)
    """How often the worker re-reads the store for the needs-attention, sweep and settlement gauges."""
    # simulator (dev stack)
    simulator_db: str = ""
    simulator_settlement_cutoff: time = time(3, 0)
    simulator_auto_settle: bool = True
    simulator_faults: list[FaultRule] = Field(default_factory=list)
    simulator_fault_seed: int | None = None
    # deployment
    worker_shutdown_grace_seconds: float = Field(20.0, gt=0)
    """On SIGTERM, how long running activities get to finish before they are cancelled."""

    @field_validator("erp")
    @classmethod
    def _known_erp(cls, value: str) -> str:
        if value not in SUPPORTED_ERPS:
            raise ValueError(
                f"TRACEPOST_ERP must be one of {', '.join(SUPPORTED_ERPS)}, not {value!r}"
            )
        return value

    @field_validator("codec")
    @classmethod
    def _codec_mode(cls, value: str) -> str:
        if value.lower() not in ("on", "off"):
            raise ValueError(f"TRACEPOST_CODEC must be on or off, not {value!r}")
        return value.lower()

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value.strip().lower() not in ("text", "json"):
            raise ValueError(f"TRACEPOST_LOG_FORMAT must be text or json, not {value!r}")
        return value.strip().lower()

    @field_validator("otel_exporter")
    @classmethod
    def _otel_exporter(cls, value: str) -> str:
        if value.strip().lower() not in ("none", "console", "otlp"):
            raise ValueError(
                f"TRACEPOST_OTEL_EXPORTER must be none, console or otlp, not {value!r}"
            )
        return value.strip().lower()

    @field_validator("metrics_bind", "api_metrics_bind")
    @classmethod
    def _bind_address(cls, value: str) -> str:
        value = value.strip()
        host, sep, port = value.rpartition(":")
        if value and (not sep or not host or not port.isdigit() or not 0 < int(port) < 65536):
            raise ValueError(f"a metrics endpoint is host:port (e.g. 0.0.0.0:9464), not {value!r}")
        if value:
            try:  # the Temporal runtime binds an IP address literal only, not a host name
                ipaddress.ip_address(host.strip("[]"))
            except ValueError:
                raise ValueError(
                    f"a metrics endpoint's host is an IP address (0.0.0.0, 127.0.0.1, [::]),"
                    f" not {host!r}"
                ) from None
        return value

    @field_validator(
        "temporal_tls_ca_cert", "temporal_tls_client_cert", "temporal_tls_client_key", mode="before"
    )
    @classmethod
    def _blank_path_is_none(cls, value: object) -> object:
        # TRACEPOST_TEMPORAL_TLS_CA_CERT= (as ${VAR:-} writes it) means unset, not the folder "."
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("erp_isolation_level")
    @classmethod
    def _isolation(cls, value: str) -> str:
        if value.upper() not in ISOLATION_LEVELS:
            raise ValueError(
                f"TRACEPOST_ERP_ISOLATION_LEVEL must be one of {', '.join(ISOLATION_LEVELS)}"
            )
        return value.upper()

    @model_validator(mode="after")
    def _safe_combination(self) -> Self:
        erp_backend = _backend(self.erp_url) if self.erp_url else "sqlite"
        if self.erp_posting_strategy is PostingStrategy.PROCEDURES and erp_backend != "mssql":
            raise ValueError(
                "TRACEPOST_ERP_POSTING_STRATEGY=procedures calls the ERP's own posting procedures"
                " and needs TRACEPOST_ERP_URL=mssql+pyodbc://...; use manual (leave balanced"
                " batches for the ERP user) or emulated (stand-in databases only)"
            )
        if self.erp_posting_strategy is PostingStrategy.EMULATED and erp_backend == "mssql":
            raise ValueError(
                "TRACEPOST_ERP_POSTING_STRATEGY=emulated is for the stand-in databases; on a real"
                " ERP (mssql+pyodbc) use manual or procedures"
            )
        if (
            self.paytrace_is_production
            and self.silent_post_secret.get_secret_value() == DEV_SILENT_POST_SECRET
        ):
            raise ValueError(
                "TRACEPOST_SILENT_POST_SECRET must be set to a long random value for production"
            )
        return self

    @model_validator(mode="after")
    def _load_mapping(self) -> Self:
        moved = sorted(name for name in MOVED_TO_MAPPING if name in os.environ)
        if moved:
            where = ", ".join(f"{name} → {MOVED_TO_MAPPING[name]}" for name in moved)
            raise ValueError(
                f"these settings moved into the mapping file (docs/mapping.md): {where}; set"
                " them there and unset the variables"
            )
        path = self.mapping_file or starter_path(self.erp)
        mapping = load_mapping(path)
        if mapping.erp != self.erp:
            raise ValueError(
                f"mapping file {path} is for {mapping.erp!r} but TRACEPOST_ERP is {self.erp!r}"
            )
        if not mapping.company and self.erp_url and _backend(self.erp_url) == "mssql":
            raise ValueError(
                f"mapping file {path} names no company: on a real ERP (mssql+pyodbc) set"
                " `company` (Sage CompanyID, SL CpnyID); blank means the stand-in's demo company"
            )
        self._mapping = mapping
        return self

    @model_validator(mode="after")
    def _defaults_under_var(self) -> Self:
        if not self.erp_url:
            self.erp_url = f"sqlite:///{self.var_dir / (self.erp + '.db')}"
        if not self.store_url:
            self.store_url = f"sqlite:///{self.var_dir / 'store.db'}"
        if not self.simulator_db:
            self.simulator_db = str(self.var_dir / "paytrace-sim.db")
        if self.ops_users_file is None:
            self.ops_users_file = self.var_dir / "ops-users.toml"
        if self.codec_keys_file is None:
            self.codec_keys_file = self.var_dir / "codec-keys"
        if not self.ui_base_url:
            self.ui_base_url = f"http://{self.api_host}:{self.ui_port}"
        if not self.codec_cors_origins:
            self.codec_cors_origins = [self.ui_base_url.rstrip("/")]
        return self

    @property
    def erp_engine_options(self) -> ErpEngineOptions:
        """Connection settings of the ERP database."""
        return ErpEngineOptions(
            isolation_level=self.erp_isolation_level,
            connect_timeout=self.erp_connect_timeout_seconds,
            lock_timeout=self.erp_lock_timeout_seconds,
            odbc_driver=self.erp_odbc_driver,
            pool_size=self.erp_pool_size,
        )

    @property
    def paytrace_is_production(self) -> bool:
        """True when the PayTrace base URL is PayTrace's production API (real money)."""
        return urlsplit(self.paytrace_base_url).hostname == PAYTRACE_PRODUCTION_HOST

    @property
    def erp_task_queue(self) -> str:
        """The task queue of ERP activities (rate limited to protect the ERP)."""
        return erp_queue(self.task_queue)

    @property
    def mapping(self) -> Mapping:
        """The deployment's mapping (``TRACEPOST_MAPPING_FILE``, else the ERP's starter file)."""
        return self._mapping

    @property
    def match_policy(self) -> MatchPolicy:
        """The matching policy the mapping describes."""
        return self._mapping.match_policy

    @property
    def simulator_port(self) -> int:
        """The port the bundled simulator listens on (taken from the PayTrace base URL)."""
        return urlsplit(self.paytrace_base_url).port or 8001

    @property
    def api_url(self) -> str:
        """Base URL of the api process."""
        return f"http://{self.api_host}:{self.api_port}"

    @property
    def silent_post_url(self) -> str:
        """The Silent Post URL to configure in PayTrace's hosted checkout."""
        return f"{self.api_url}/webhooks/paytrace/silent-post/{self.silent_post_secret.get_secret_value()}"
