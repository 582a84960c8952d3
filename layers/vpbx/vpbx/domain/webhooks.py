"""Webhooks: what a tenant subscribes to, the event envelope, the signature and the retry schedule. Pure Python.

A delivery is a POST of the JSON envelope `{id, type, created, tenant_id, data}` with

    Vpbx-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>[,v1=<previous secret's>]
    Vpbx-Event-Id:  <the envelope's id>

(Stripe's scheme). The id is derived from what happened, not from when it was sent: a retried or redelivered event
carries the same id, so receivers deduplicate on it (delivery is at least once).
"""

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field

from vpbx.domain.base import LazyModel, StrictModel
from vpbx.domain.errors import Conflict

EventType = Literal[
    "call.started",
    "call.answered",
    "call.completed",
    "call.missed",
    "call.voicemail",
    "call.abandoned",
    "scenario.published",
    "webhook.ping",
]
EVENT_TYPES: tuple[str, ...] = (
    "call.started",
    "call.answered",
    "call.completed",
    "call.missed",
    "call.voicemail",
    "call.abandoned",
    "scenario.published",
    "webhook.ping",
)
MAX_WEBHOOKS_PER_TENANT = 10
SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of generated secrets, not a secret
SIGNATURE_HEADER = "Vpbx-Signature"
EVENT_ID_HEADER = "Vpbx-Event-Id"
REPLAY_WINDOW_SECONDS = 300  # what the documented verification accepts; receivers may choose their own
PREVIOUS_SECRET_GRACE = timedelta(hours=24)  # after a rotation, deliveries are signed with both secrets this long

# Exponential backoff: the delay before retry n (1-based). Nine attempts in all, the last ~22 h after the first.
RETRY_DELAYS_SECONDS: tuple[int, ...] = (60, 180, 540, 1620, 4860, 14580, 28800, 28800)
RETRY_WINDOW = timedelta(hours=24)
DELIVERY_RETENTION = timedelta(days=30)  # delivery records (and dead letters) expire by TTL after this

DeliveryState = Literal["pending", "delivered", "retrying", "dead"]
"""`pending`: the first attempt is under way; `retrying`: it failed and another attempt is scheduled
(`next_attempt_at`); `delivered`: a 2xx came back; `dead`: attempts are exhausted (or the webhook was disabled or
deleted), nothing more will be tried."""


class LimitExceeded(Conflict):
    """A tenant already has the most webhooks allowed."""

    code = "limit_exceeded"


class Webhook(StrictModel):
    """A tenant's subscription: where to POST which events. The signing secret is kept beside it, never in it."""

    id: str
    url: str
    events: list[EventType]
    enabled: bool = True
    description: str | None = None

    def wants(self, event_type: str) -> bool:
        return self.enabled and event_type in self.events


class SigningSecrets(StrictModel):
    """The secret that signs deliveries and, for a while after a rotation, the one before it."""

    current: str
    previous: str | None = None
    previous_expires_at: datetime | None = None

    def active(self, now: datetime) -> list[str]:
        keep_previous = self.previous and self.previous_expires_at and now < self.previous_expires_at
        return [self.current, self.previous] if keep_previous and self.previous else [self.current]

    def rotated(self, new_secret: str, now: datetime) -> "SigningSecrets":
        grace_ends = now + PREVIOUS_SECRET_GRACE
        return SigningSecrets(current=new_secret, previous=self.current, previous_expires_at=grace_ends)


class WebhookEvent(LazyModel):
    """The envelope every delivery carries (and the body that is signed)."""

    id: str = Field(description="Stable per occurrence: a retried or redelivered event has the same id")
    type: EventType
    created: datetime = Field(description="When it happened (UTC)")
    tenant_id: str
    data: dict[str, Any]

    def body(self) -> bytes:
        return self.model_dump_json().encode()


class Delivery(LazyModel):
    """One event's delivery to one webhook: every attempt updates it."""

    event_id: str
    event_type: EventType
    webhook_id: str
    state: DeliveryState
    attempts: int = 0
    created_at: datetime
    last_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def event_id(tenant_id: str, event_type: str, *facts: str) -> str:
    """A deterministic id for one occurrence: the same facts (tenant, type, subject…) give the same id."""
    digest = hashlib.sha256("\x1f".join([tenant_id, event_type, *facts]).encode()).hexdigest()
    return f"evt_{digest[:32]}"


# ------------------------------------------------------------------------------------------------------ signatures


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secrets_: list[str], timestamp: int, body: bytes) -> str:
    """`t=<unix>,v1=<hex>[,v1=<hex>]`: one v1 per active secret (two right after a rotation)."""
    return ",".join([f"t={timestamp}", *(f"v1={signature(secret, timestamp, body)}" for secret in secrets_)])


def verify_signature(secret: str, header: str, body: bytes, now: int, tolerance: int = REPLAY_WINDOW_SECONDS) -> bool:
    """What a receiver does (docs/WEBHOOKS.md has the same, standalone): any v1 matches, and t is recent."""
    parts = [part.split("=", 1) for part in header.split(",") if "=" in part]
    timestamps = [value for name, value in parts if name.strip() == "t"]
    if len(timestamps) != 1 or not timestamps[0].strip().isdigit():
        return False
    timestamp = int(timestamps[0])
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(name.strip() == "v1" and hmac.compare_digest(value.strip(), expected) for name, value in parts)


# ------------------------------------------------------------------------------------------------------ retries


def retry_delay(attempts_made: int) -> int | None:
    """Seconds to wait after `attempts_made` failed attempts, or None when the delivery is dead."""
    if attempts_made < 1 or attempts_made > len(RETRY_DELAYS_SECONDS):
        return None
    return RETRY_DELAYS_SECONDS[attempts_made - 1]


def max_attempts() -> int:
    return len(RETRY_DELAYS_SECONDS) + 1
