"""WebhookStore in memory: the same limit, versions, secrets kept apart and delivery paging as on DynamoDB."""

from __future__ import annotations  # `Versioned[X]` in signatures would build generic models at import

from datetime import datetime

from vpbx.domain.webhooks import MAX_WEBHOOKS_PER_TENANT, Delivery, SigningSecrets, Webhook, WebhookEvent
from vpbx.store import keys
from vpbx.store.dynamodb.webhooks import WEBHOOKS, limit_exceeded
from vpbx.store.memory.table import MemoryTable
from vpbx.store.models import Page, Versioned
from vpbx.store.paging import ListScope
from vpbx.store.ports import WebhookStore

_SECRETS_PREFIX = "WHSECRET#"  # in memory only: the secrets' own slot (an attribute of the webhook on DynamoDB)


class MemoryWebhookStore(MemoryTable, WebhookStore):
    def create_webhook(self, tenant_id: str, webhook: Webhook, secrets: SigningSecrets) -> Versioned[Webhook]:
        pk = keys.tenant_pk(tenant_id)
        with self._lock:
            if sum(1 for _ in self._rows(pk, WEBHOOKS.prefix)) >= MAX_WEBHOOKS_PER_TENANT:
                raise limit_exceeded()
            created: Versioned[Webhook] = self._create_in(tenant_id, WEBHOOKS, webhook.id, webhook)
            self._put(pk, _SECRETS_PREFIX + webhook.id, secrets)
            return created

    def get_webhook(self, tenant_id: str, webhook_id: str) -> Versioned[Webhook]:
        return self._read_in(tenant_id, WEBHOOKS, webhook_id)

    def list_webhooks(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Versioned[Webhook]]:
        return self._list_in(tenant_id, WEBHOOKS, limit, cursor)

    def update_webhook(self, tenant_id: str, webhook: Webhook, expected_version: int) -> Versioned[Webhook]:
        return self._update_in(tenant_id, WEBHOOKS, webhook.id, webhook, expected_version)

    def rotate_webhook_secret(
        self, tenant_id: str, webhook_id: str, secrets: SigningSecrets, expected_version: int
    ) -> Versioned[Webhook]:
        with self._lock:
            stored = self._read_at(tenant_id, WEBHOOKS, webhook_id, expected_version)
            updated: Versioned[Webhook] = self._update_in(
                tenant_id, WEBHOOKS, webhook_id, stored.item, expected_version
            )
            self._put(keys.tenant_pk(tenant_id), _SECRETS_PREFIX + webhook_id, secrets)
            return updated

    def delete_webhook(self, tenant_id: str, webhook_id: str, expected_version: int) -> None:
        with self._lock:
            self._delete_in(tenant_id, WEBHOOKS, webhook_id, expected_version)
            self._delete(keys.tenant_pk(tenant_id), _SECRETS_PREFIX + webhook_id)

    def webhook_targets(self, tenant_id: str) -> list[tuple[Webhook, SigningSecrets]]:
        pk = keys.tenant_pk(tenant_id)
        with self._lock:
            return [
                (stored.item, self._get(pk, _SECRETS_PREFIX + stored.item.id))
                for _, stored in self._rows(pk, WEBHOOKS.prefix)
            ]

    def create_delivery(self, tenant_id: str, delivery: Delivery, event: WebhookEvent) -> bool:
        pk, sk = (
            keys.tenant_pk(tenant_id),
            keys.delivery_sk(delivery.webhook_id, delivery.created_at, delivery.event_id),
        )
        with self._lock:
            if self._get(pk, sk) is not None:
                return False
            self._put(pk, sk, (delivery, event))
            return True

    def get_delivery(
        self, tenant_id: str, webhook_id: str, created: datetime, event_id: str
    ) -> tuple[Delivery, WebhookEvent] | None:
        with self._lock:
            found: tuple[Delivery, WebhookEvent] | None = self._get(
                keys.tenant_pk(tenant_id), keys.delivery_sk(webhook_id, created, event_id)
            )
            return found

    def save_delivery(self, tenant_id: str, delivery: Delivery) -> None:
        pk, sk = (
            keys.tenant_pk(tenant_id),
            keys.delivery_sk(delivery.webhook_id, delivery.created_at, delivery.event_id),
        )
        with self._lock:
            stored = self._get(pk, sk)
            if stored is not None:
                self._put(pk, sk, (delivery, stored[1]))

    def list_deliveries(self, tenant_id: str, webhook_id: str, limit: int, cursor: str | None) -> Page[Delivery]:
        pk, prefix = keys.tenant_pk(tenant_id), keys.deliveries_prefix(webhook_id)
        with self._lock:
            page = self._page(tenant_id, ListScope(pk, prefix), self._rows(pk, prefix), limit, cursor, descending=True)
        return Page[Delivery](items=[delivery for delivery, _ in page.items], next_cursor=page.next_cursor)
