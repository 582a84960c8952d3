"""Webhooks for tenant admins: create, read, replace, delete, rotate the secret, list deliveries, send a test ping.

The URL gets the CRM lookup's checks twice: here, what the text alone can tell (https, a host, no credentials, no
literal loopback/private/link-local address, no `localhost`); at delivery, every address the name resolves to, and
the connection pinned to the checked one (service/crm.py). The signing secret is generated here, returned once by
the create (and the rotate) response, stored beside the webhook in its own attribute, and never returned again.
"""

import ipaddress
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

from vpbx.domain.base import StrictModel
from vpbx.domain.errors import NotFound
from vpbx.domain.webhooks import DeliveryState, EventType, SigningSecrets, Webhook, new_secret
from vpbx.service.crm import refusal_reason
from vpbx.service.versioned import VersionMeta, new_id
from vpbx.service.webhook_delivery import WebhookSettings
from vpbx.store.models import Page, Versioned
from vpbx.store.ports import WebhookStore

MAX_URL_LENGTH = 2048
_LOCAL_NAMES = ("localhost", ".localhost", ".local", ".internal", ".localdomain")


def check_webhook_url(url: str) -> str:
    """The URL as given, or a `webhook_url` validation error saying why it may not receive webhooks."""
    try:
        return _checked_webhook_url(url, WebhookSettings.from_env().allow_insecure)
    except ValueError as refusal:
        raise PydanticCustomError("webhook_url", "{reason}", {"reason": str(refusal)}) from None


def _checked_webhook_url(url: str, allow_insecure: bool) -> str:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ValueError(f"not a valid URL: {exc}") from None
    if parts.scheme != "https":
        raise ValueError("must be an https:// URL")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise ValueError("must name a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials (user:password@)")
    if parts.fragment:
        raise ValueError("must not have a #fragment")
    if not allow_insecure:
        if host == "localhost" or host.endswith(_LOCAL_NAMES):
            raise ValueError(f"{host} is not a public host")
        if _is_ip(host):
            reason = refusal_reason(host, allow_loopback=False)
            if reason:
                raise ValueError(reason)
    return url


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


WebhookUrl = Annotated[
    str,
    StringConstraints(max_length=MAX_URL_LENGTH, pattern=r"^https://"),
    AfterValidator(check_webhook_url),
]
Description = Annotated[str, StringConstraints(max_length=500)]


# ------------------------------------------------------------------------------------------------ bodies and views


class WebhookReplace(StrictModel):
    """Body of `PUT /v1/webhooks/{webhook_id}`: the whole webhook (its id and secret do not change)."""

    url: WebhookUrl = Field(description="Where deliveries are POSTed: https, a public host (checked again at delivery)")
    events: list[EventType] = Field(
        min_length=1, max_length=8, description="Event types to deliver (webhook.ping is always allowed by the test)"
    )
    enabled: bool = Field(default=True, description="A disabled webhook gets no deliveries; its retries end as dead")
    description: Description | None = None


class WebhookCreate(WebhookReplace):
    """Body of `POST /v1/webhooks`; the id and the signing secret are generated."""


class WebhookOut(VersionMeta):
    """A webhook as the API returns it: never its secret."""

    id: str
    url: str
    events: list[EventType]
    enabled: bool
    description: str | None = None


class WebhookCreatedOut(WebhookOut):
    """The create (and rotate) answer: the only responses that carry the signing secret."""

    secret: str = Field(description="whsec_…: signs every delivery (Vpbx-Signature). Shown only in this response")


class DeliveryOut(StrictModel):
    event_id: str
    event_type: EventType
    state: DeliveryState = Field(description="pending: queued; retrying: see next_attempt_at; delivered; dead")
    attempts: int
    created_at: datetime = Field(description="When the event happened")
    last_attempt_at: datetime | None = None
    last_status_code: int | None = Field(default=None, description="The receiver's HTTP status; null: no answer")
    last_error: str | None = Field(
        default=None, description="Why the last attempt failed (timeout, refused, HTTP 500…)"
    )
    next_attempt_at: datetime | None = Field(default=None, description="When the next retry is due (state retrying)")


def webhook_out(record: Versioned[Webhook]) -> WebhookOut:
    hook = record.item
    return WebhookOut(
        id=hook.id,
        url=hook.url,
        events=list(hook.events),
        enabled=hook.enabled,
        description=hook.description,
        version=record.version,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def webhook_created_out(record: Versioned[Webhook], secret: str) -> WebhookCreatedOut:
    return WebhookCreatedOut(**webhook_out(record).model_dump(), secret=secret)


def delivery_out(delivery: object) -> DeliveryOut:
    return DeliveryOut.model_validate(delivery, from_attributes=True)


# ------------------------------------------------------------------------------------------------ the service


class WebhooksService:
    def __init__(self, store: WebhookStore, tenant_id: str) -> None:
        self.store = store
        self.tenant_id = tenant_id

    def create(self, body: WebhookCreate) -> tuple[Versioned[Webhook], str]:
        secret = new_secret()
        webhook = Webhook(id=new_id("wh"), **body.model_dump())
        return self.store.create_webhook(self.tenant_id, webhook, SigningSecrets(current=secret)), secret

    def get(self, webhook_id: str) -> Versioned[Webhook]:
        return self.store.get_webhook(self.tenant_id, webhook_id)

    def list(self, limit: int, cursor: str | None) -> Page[Versioned[Webhook]]:
        return self.store.list_webhooks(self.tenant_id, limit, cursor)

    def replace(self, webhook_id: str, body: WebhookReplace, version: int) -> Versioned[Webhook]:
        self.store.get_webhook(self.tenant_id, webhook_id)  # 404 before 412 for another tenant's id
        webhook = Webhook(id=webhook_id, **body.model_dump())
        return self.store.update_webhook(self.tenant_id, webhook, version)

    def delete(self, webhook_id: str, version: int) -> None:
        self.store.delete_webhook(self.tenant_id, webhook_id, version)

    def rotate_secret(
        self, webhook_id: str, version: int, now: datetime | None = None
    ) -> tuple[Versioned[Webhook], str]:
        """A new secret; the previous one keeps signing (as a second v1) for PREVIOUS_SECRET_GRACE."""
        self.store.get_webhook(self.tenant_id, webhook_id)  # 404 for another tenant's id
        current = next((s for w, s in self.store.webhook_targets(self.tenant_id) if w.id == webhook_id), None)
        if current is None:  # deleted in between
            raise NotFound(f"webhook {webhook_id} not found")
        secret = new_secret()
        rotated = current.rotated(secret, now or datetime.now(UTC))
        return self.store.rotate_webhook_secret(self.tenant_id, webhook_id, rotated, version), secret

    def deliveries(self, webhook_id: str, limit: int, cursor: str | None) -> Page[DeliveryOut]:
        self.store.get_webhook(self.tenant_id, webhook_id)  # another tenant's (or a deleted) webhook is 404
        page = self.store.list_deliveries(self.tenant_id, webhook_id, limit, cursor)
        return Page[DeliveryOut](items=[delivery_out(d) for d in page.items], next_cursor=page.next_cursor)
