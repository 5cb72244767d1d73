"""Alert delivery: channels, per-channel delivery state, and what one delivery run did."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.store_io import Alert


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class AlertChannel(StrEnum):
    """Where an alert can be delivered."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    NONE = "none"
    """No channel can take the alert; its delivery row records why (a permanent failure)."""


class DeliveryStatus(StrEnum):
    """Where one alert stands on one channel."""

    PENDING = "pending"
    """Not sent yet, or sent and failed transiently: tried again at ``next_attempt_at``."""
    DELIVERED = "delivered"
    FAILED = "failed"
    """Failed permanently (``last_error`` says why): not retried until an operator asks."""


class ChannelDelivery(_Frozen):
    """The delivery state of one alert on one channel (a ``tp_alert_delivery`` row)."""

    alert_id: int
    channel: AlertChannel
    status: DeliveryStatus
    attempts: int = Field(0, description="send attempts made so far")
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    updated_at: datetime


class DueDelivery(_Frozen):
    """An alert due on one channel."""

    alert: Alert
    delivery: ChannelDelivery


class AlertDeliveryInput(_Frozen):
    """One run of the alert delivery: how many due deliveries it works through at most."""

    limit: int = Field(50, ge=1, le=1000)


class AlertDeliveryReport(_Frozen):
    """What one delivery run did (counts of channel deliveries)."""

    channels: tuple[AlertChannel, ...] = Field((), description="the channels configured")
    planned: int = Field(0, description="new alerts whose channel deliveries were recorded")
    delivered: int = 0
    retrying: int = Field(0, description="transient failures, tried again later")
    failed: int = Field(0, description="permanent failures (and alerts no channel can take)")
    skipped: int = Field(0, description="taken by another run meanwhile")
