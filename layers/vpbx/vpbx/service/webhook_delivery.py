"""Delivering webhook events: sign, POST, record the attempt, schedule the retry; the same code in AWS and locally.

    stream record ─events_of─▶ event ─▶ one delivery record per subscribed webhook (pending)      [dispatcher]
                                          │ DeliveryQueue.schedule(message, 0)
                                          ▼
                    attempt(message) ─▶ POST ─▶ 2xx: delivered                                   [deliveries]
                                          │ failed: schedule(message, backoff) … after the last: dead
                                          ▼
                    (SQS with a per-message delay in AWS; a timer thread in `vpbx serve`)

The stream consumer never waits on a receiver: it only records and enqueues, so a slow or dead endpoint cannot hold
up a shard; the deliveries function scales out with the queue.

At least once: a delivery is recorded (conditionally, one per webhook and event id) before it is enqueued, every
attempt is recorded, and the next attempt is enqueued before the failed attempt's record is saved; whatever crashes
in between is redone by the stream's or the queue's own redelivery, with the same event id. Receivers deduplicate on
it. A message whose `attempts` no longer matches the record is a duplicate and is dropped.

The HTTP client is the CRM lookup's (service/crm.py): https only, every resolved address checked (no loopback,
private, link-local… targets) and the connection pinned to the checked address, no redirects, one deadline.
"""

import logging
import os
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import SplitResult

from pydantic import ValidationError

from vpbx.api.settings import flag
from vpbx.domain.base import LazyModel
from vpbx.domain.errors import NotFound
from vpbx.domain.webhooks import (
    EVENT_ID_HEADER,
    RETRY_DELAYS_SECONDS,
    SIGNATURE_HEADER,
    Delivery,
    SigningSecrets,
    Webhook,
    WebhookEvent,
    event_id,
    signature_header,
)
from vpbx.service.crm import CrmClient, CrmLookupFailed, _describe, _Exchange, _remaining
from vpbx.store.dynamodb.stream_events import events_of, unknown_result
from vpbx.store.ports import WebhookStore

logger = logging.getLogger(__name__)

INSECURE_WEBHOOKS_ENV = "VPBX_ALLOW_INSECURE_WEBHOOKS"
CA_FILE_ENV = "VPBX_WEBHOOK_CA_FILE"
TIMEOUT_ENV = "VPBX_WEBHOOK_TIMEOUT_SECONDS"
RETRY_DELAYS_ENV = "VPBX_WEBHOOK_RETRY_DELAYS"
QUEUE_ENV = "WEBHOOK_QUEUE_URL"
DEFAULT_TIMEOUT_SECONDS = 10.0
MAX_TIMEOUT_SECONDS = 10.0
MAX_SQS_DELAY_SECONDS = 900  # SQS's per-message limit: longer waits are re-enqueued when they come due
USER_AGENT = "vpbx-webhooks/1"
MAX_ERROR_LENGTH = 300


# ---------------------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class WebhookSettings:
    """From the environment. The insecure switch and the extra CA are for local runs and tests only: the template
    never sets them (VPBX_ALLOW_INSECURE_WEBHOOKS lets webhooks target loopback addresses, and only then
    is VPBX_WEBHOOK_CA_FILE trusted besides the system store; https stays required)."""

    allow_insecure: bool = False
    ca_file: str | None = None
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    retry_delays: tuple[float, ...] = tuple(float(delay) for delay in RETRY_DELAYS_SECONDS)
    queue_url: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "WebhookSettings":
        env = os.environ if environ is None else environ
        allow_insecure = flag(env.get(INSECURE_WEBHOOKS_ENV, ""))
        ca_file = env.get(CA_FILE_ENV) or None
        if ca_file and not allow_insecure:
            raise ValueError(f"{CA_FILE_ENV} is honoured only with {INSECURE_WEBHOOKS_ENV}=1 (local runs and tests)")
        delays = env.get(RETRY_DELAYS_ENV)
        timeout = float(env.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT_SECONDS)
        return cls(
            allow_insecure=allow_insecure,
            ca_file=ca_file,
            timeout_seconds=min(max(timeout, 0.1), MAX_TIMEOUT_SECONDS),
            retry_delays=tuple(float(d) for d in delays.split(",")) if delays else cls.retry_delays,
            queue_url=env.get(QUEUE_ENV) or None,
        )

    def retry_delay(self, attempts_made: int) -> float | None:
        """Seconds to wait after `attempts_made` failed attempts, or None when the delivery is dead."""
        if attempts_made < 1 or attempts_made > len(self.retry_delays):
            return None
        return self.retry_delays[attempts_made - 1]


# ---------------------------------------------------------------------------------------------- the HTTP client


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class WebhookSender(CrmClient):
    """POSTs a signed body with the CRM lookup's checks (https only here, even when insecure targets are allowed)."""

    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    max_response_bytes: int = 4096

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> AttemptResult:
        started = time.monotonic()
        try:
            status = self._post(url, body, headers, deadline=started + self.timeout_seconds)
        except Exception as exc:  # every failure is an attempt's outcome, recorded and retried
            return AttemptResult(None, _describe(exc)[:MAX_ERROR_LENGTH], _ms_since(started))
        error = None if 200 <= status < 300 else f"HTTP {status}"
        return AttemptResult(status, error, _ms_since(started))

    def _checked_url(self, text: str) -> SplitResult:
        url = super()._checked_url(text)
        if url.scheme != "https":
            raise CrmLookupFailed("webhooks are delivered over https only")
        return url

    def _post(self, url_text: str, body: bytes, headers: Mapping[str, str], deadline: float) -> int:
        url = self._checked_url(url_text)
        host, port = url.hostname or "", url.port or 443
        address = self._checked_address(host, port, deadline)
        exchange = _Exchange(deadline)
        connection = self._connection(url.scheme, host, port, address, exchange)
        watchdog = threading.Timer(_remaining(deadline), exchange.abort)  # a dripping receiver stops at the deadline
        watchdog.daemon = True
        watchdog.start()
        try:
            connection.connect()
            exchange.opened(connection.sock)
            path = (url.path or "/") + (f"?{url.query}" if url.query else "")
            connection.request("POST", path, body=body, headers={**headers, "Content-Length": str(len(body))})
            exchange.tighten_timeout()
            response = connection.getresponse()
            response.read1(self.max_response_bytes)  # drained a little, never kept
            _remaining(deadline)
            return int(response.status)
        finally:
            watchdog.cancel()
            connection.close()
            exchange.close()


def build_sender(settings: WebhookSettings) -> WebhookSender:
    context = None
    if settings.ca_file:
        context = ssl.create_default_context()
        context.load_verify_locations(cafile=settings.ca_file)
    return WebhookSender(
        allow_insecure=settings.allow_insecure, ssl_context=context, timeout_seconds=settings.timeout_seconds
    )


# ---------------------------------------------------------------------------------------------- retry queue


class DeliveryMessage(LazyModel):
    """What the delivery queue carries: which delivery (its event is stored with it), how many attempts were made
    when it was enqueued, and when it is due."""

    tenant_id: str
    webhook_id: str
    event_id: str
    created: datetime
    attempts: int
    due: datetime


class DeliveryQueue(Protocol):
    def schedule(self, message: DeliveryMessage, delay_seconds: float) -> None: ...


@dataclass
class SqsDeliveryQueue:
    """SQS with a per-message delay (at most 15 min: a longer wait is re-enqueued when the message comes back)."""

    queue_url: str
    client: Any = None

    def schedule(self, message: DeliveryMessage, delay_seconds: float) -> None:
        if self.client is None:
            import boto3

            self.client = boto3.client("sqs")
        delay = int(min(max(delay_seconds, 0), MAX_SQS_DELAY_SECONDS))
        self.client.send_message(QueueUrl=self.queue_url, MessageBody=message.model_dump_json(), DelaySeconds=delay)


# ---------------------------------------------------------------------------------------------- the engine

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class WebhookDispatcher:
    """Turns table changes into deliveries and drives every attempt; storage, HTTP, queue and clock are injected."""

    store: WebhookStore
    sender: WebhookSender
    queue: DeliveryQueue
    settings: WebhookSettings = field(default_factory=WebhookSettings)
    clock: Clock = utc_now

    # ------------------------------------------------------------------------------------------ stream side
    def dispatch_record(self, record: Mapping[str, Any]) -> int:
        """Record and enqueue the deliveries of the events one stream record stands for; how many were enqueued."""
        unknown = unknown_result(record)
        if unknown is not None:
            logger.warning("call result without a webhook event mapping", extra={"result": unknown})
        return sum(self.dispatch(event) for event in events_of(record))

    def dispatch(self, event: WebhookEvent) -> int:
        attempted = 0
        for webhook, _ in self.store.webhook_targets(event.tenant_id):
            if webhook.wants(event.type):
                attempted += self._deliver_new(webhook, event)
        return attempted

    def _deliver_new(self, webhook: Webhook, event: WebhookEvent) -> int:
        delivery = Delivery(
            event_id=event.id,
            event_type=event.type,
            webhook_id=webhook.id,
            state="pending",
            created_at=event.created,
        )
        if not self.store.create_delivery(event.tenant_id, delivery, event):
            existing = self.store.get_delivery(event.tenant_id, webhook.id, event.created, event.id)
            if existing is None or existing[0].state != "pending" or existing[0].attempts:
                return 0  # a redelivered record: this event is under way, delivered or dead already
            # recorded, but maybe never enqueued (a crash in between): enqueue again; a duplicate is dropped
        self.queue.schedule(_message(event.tenant_id, webhook.id, event, attempts=0, due=self.clock()), 0)
        return 1

    # ------------------------------------------------------------------------------------------ queue side
    def deliver(self, message: DeliveryMessage) -> None:
        """One queued attempt: the first (attempts 0) or a retry; re-enqueued while it is not yet due."""
        now = self.clock()
        if message.due > now + timedelta(seconds=1):
            self.queue.schedule(message, (message.due - now).total_seconds())  # SQS's 15-minute steps
            return
        found = self.store.get_delivery(message.tenant_id, message.webhook_id, message.created, message.event_id)
        if found is None:
            return  # expired: nothing left to retry
        delivery, event = found
        if delivery.state not in ("retrying", "pending") or delivery.attempts != message.attempts:
            return  # delivered, dead, or a duplicate of a message already handled
        target = self._target(message.tenant_id, message.webhook_id)
        if target is None or not target[0].enabled:
            reason = "the webhook was deleted" if target is None else "the webhook is disabled"
            self.store.save_delivery(message.tenant_id, _dead(delivery, reason))
            return
        self.attempt(message.tenant_id, target[0], target[1], delivery, event)

    def _target(self, tenant_id: str, webhook_id: str) -> tuple[Webhook, SigningSecrets] | None:
        return next((t for t in self.store.webhook_targets(tenant_id) if t[0].id == webhook_id), None)

    # ------------------------------------------------------------------------------------------ one attempt
    def ping(self, tenant_id: str, webhook_id: str) -> Delivery:
        """Send `webhook.ping` now (not retried): the recorded delivery."""
        target = self._target(tenant_id, webhook_id)
        if target is None:
            raise NotFound(f"webhook {webhook_id} not found")
        now = self.clock()
        event = WebhookEvent(
            id=event_id(tenant_id, "webhook.ping", webhook_id, uuid.uuid4().hex),
            type="webhook.ping",
            created=now,
            tenant_id=tenant_id,
            data={"webhook_id": webhook_id, "message": "vpbx webhook test"},
        )
        delivery = Delivery(
            event_id=event.id, event_type=event.type, webhook_id=webhook_id, state="pending", created_at=now
        )
        self.store.create_delivery(tenant_id, delivery, event)
        return self.attempt(tenant_id, target[0], target[1], delivery, event, retries=False)

    def attempt(
        self,
        tenant_id: str,
        webhook: Webhook,
        secrets: SigningSecrets,
        delivery: Delivery,
        event: WebhookEvent,
        retries: bool = True,
    ) -> Delivery:
        """POST the event once, schedule the next attempt when it failed, record the outcome."""
        now = self.clock()
        body = event.body()
        result = self.sender.post(webhook.url, body, self.headers(secrets, event, body, now))
        attempts = delivery.attempts + 1
        outcome = {
            "attempts": attempts,
            "last_attempt_at": now,
            "last_status_code": result.status_code,
            "last_error": result.error,
        }
        delay = self.settings.retry_delay(attempts) if retries and not result.ok else None
        if result.ok:
            updated = delivery.model_copy(update={**outcome, "state": "delivered", "next_attempt_at": None})
        elif delay is None:
            updated = delivery.model_copy(update={**outcome, "state": "dead", "next_attempt_at": None})
        else:
            due = now + timedelta(seconds=delay)
            updated = delivery.model_copy(update={**outcome, "state": "retrying", "next_attempt_at": due})
            message = _message(tenant_id, webhook.id, event, attempts=attempts, due=due)
            self.queue.schedule(message, delay)  # before the record: a lost save is redone, a lost retry is not
        self.store.save_delivery(tenant_id, updated)
        logger.info(
            "webhook attempt",
            extra={
                "webhook_id": webhook.id,
                "event_id": event.id,
                "attempt": attempts,
                "status_code": result.status_code,
                "error": result.error,
                "state": updated.state,
                "ms": result.duration_ms,
            },
        )
        return updated

    def headers(self, secrets: SigningSecrets, event: WebhookEvent, body: bytes, now: datetime) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: signature_header(secrets.active(now), int(now.timestamp()), body),
            EVENT_ID_HEADER: event.id,
        }


def _message(tenant_id: str, webhook_id: str, event: WebhookEvent, attempts: int, due: datetime) -> DeliveryMessage:
    return DeliveryMessage(
        tenant_id=tenant_id,
        webhook_id=webhook_id,
        event_id=event.id,
        created=event.created,
        attempts=attempts,
        due=due,
    )


def _dead(delivery: Delivery, reason: str) -> Delivery:
    return delivery.model_copy(update={"state": "dead", "last_error": reason, "next_attempt_at": None})


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


# ---------------------------------------------------------------------------------------------- Lambda entry points


def handle_stream_batch(dispatcher: WebhookDispatcher, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A DynamoDB Streams batch in order; on a failure (storage, queue) report that record, so Lambda retries from it
    (ReportBatchItemFailures) and the records before it are not sent again."""
    for record in records:
        try:
            dispatcher.dispatch_record(record)
        except Exception:
            logger.exception("webhook dispatch failed; the stream will redeliver from this record")
            sequence = (record.get("dynamodb") or {}).get("SequenceNumber")
            return {"batchItemFailures": [{"itemIdentifier": sequence}]}
    return {"batchItemFailures": []}


def handle_delivery_batch(dispatcher: WebhookDispatcher, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """An SQS batch of attempts; messages that failed (storage, queue) come back (ReportBatchItemFailures) and go to the
    dead-letter queue after the queue's maxReceiveCount. An unreadable message is logged and dropped."""
    failures = []
    for record in records:
        try:
            message = DeliveryMessage.model_validate_json(record.get("body") or "")
        except ValidationError:
            logger.error("unreadable webhook delivery message dropped", extra={"message_id": record.get("messageId")})
            continue
        try:
            dispatcher.deliver(message)
        except Exception:
            logger.exception("webhook delivery failed; SQS will redeliver the message")
            failures.append({"itemIdentifier": record.get("messageId")})
    return {"batchItemFailures": failures}


def build_dispatcher(store: WebhookStore, queue: DeliveryQueue | None = None) -> WebhookDispatcher:
    """The dispatcher as a Lambda function (or `vpbx serve`) runs it, configured from the environment."""
    settings = WebhookSettings.from_env()
    if queue is None:
        if settings.queue_url is None:
            raise ValueError(f"{QUEUE_ENV} is not set: no queue for deliveries")
        queue = SqsDeliveryQueue(settings.queue_url)
    return WebhookDispatcher(store=store, sender=build_sender(settings), queue=queue, settings=settings)


def json_records(event: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    records = event.get("Records") if isinstance(event, Mapping) else None
    return [record for record in records or [] if isinstance(record, Mapping)]


__all__ = [
    "AttemptResult",
    "DeliveryMessage",
    "DeliveryQueue",
    "SqsDeliveryQueue",
    "WebhookDispatcher",
    "WebhookSender",
    "WebhookSettings",
    "build_dispatcher",
    "handle_delivery_batch",
    "handle_stream_batch",
]
