"""WebhookStore on DynamoDB: webhooks as versioned items, the per-tenant count that enforces the limit, deliveries.

| item      | PK          | SK                                           | attributes                                 |
|-----------|-------------|----------------------------------------------|--------------------------------------------|
| webhook   | TENANT#<t>  | WEBHOOK#<id>                                 | data (Webhook JSON), secrets, version, …   |
| count     | TENANT#<t>  | WEBHOOKS                                     | count                                      |
| delivery  | TENANT#<t>  | WHDLV#<webhook id>#<event time>#<event id>   | data (Delivery JSON), event, expires_at    |

The signing secrets live in their own attribute: API reads decode `data` only, and only the dispatcher's reads
(`webhook_targets`, `get_delivery`'s caller) decode `secrets`. Creates and deletes change the count in the same
transaction, so concurrent creates can never pass the limit.
"""

from __future__ import annotations  # `Versioned[X]` in signatures would build generic models at import

from datetime import datetime

from vpbx.domain.errors import AlreadyExists
from vpbx.domain.webhooks import (
    DELIVERY_RETENTION,
    MAX_WEBHOOKS_PER_TENANT,
    Delivery,
    LimitExceeded,
    SigningSecrets,
    Webhook,
    WebhookEvent,
)
from vpbx.store import keys
from vpbx.store.common import Family
from vpbx.store.dynamodb.table import ConditionFailed, Item, TransactionCanceled, attr_n, attr_s, table_key
from vpbx.store.dynamodb.versioned import VersionedTable
from vpbx.store.models import Page, Versioned
from vpbx.store.paging import ListScope
from vpbx.store.ports import WebhookStore

WEBHOOKS = Family(keys.WEBHOOK_PREFIX, Webhook, "webhook")


def limit_exceeded() -> LimitExceeded:
    return LimitExceeded(
        f"a tenant may have at most {MAX_WEBHOOKS_PER_TENANT} webhooks; delete one first",
        [{"loc": ["body"], "msg": f"at most {MAX_WEBHOOKS_PER_TENANT} webhooks", "type": "limit_exceeded"}],
    )


def delivery_expiry(delivery: Delivery) -> int:
    return int((delivery.created_at + DELIVERY_RETENTION).timestamp())


class DynamoWebhookStore(VersionedTable, WebhookStore):
    def _count_step(self, tenant_id: str, change: int) -> dict[str, object]:
        update: dict[str, object] = {
            "Key": table_key(keys.tenant_pk(tenant_id), keys.WEBHOOK_COUNT_SK),
            "UpdateExpression": "ADD #count :change",
            "ExpressionAttributeNames": {"#count": "count"},
            "ExpressionAttributeValues": {":change": attr_n(change)},
        }
        if change > 0:
            update["ConditionExpression"] = "attribute_not_exists(#count) OR #count < :max"
            update["ExpressionAttributeValues"] = {":change": attr_n(change), ":max": attr_n(MAX_WEBHOOKS_PER_TENANT)}
        return {"Update": update}

    def create_webhook(self, tenant_id: str, webhook: Webhook, secrets: SigningSecrets) -> Versioned[Webhook]:
        now = self._clock()
        item = self._versioned_item(keys.tenant_pk(tenant_id), WEBHOOKS.prefix + webhook.id, webhook, 1, now)
        item["secrets"] = attr_s(secrets.model_dump_json())
        put = {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}
        try:
            self._transact([put, self._count_step(tenant_id, +1)])
        except TransactionCanceled as canceled:
            if canceled.failed(0):
                raise AlreadyExists(f"webhook {webhook.id} already exists") from None
            raise limit_exceeded() from None
        return Versioned[Webhook](item=webhook, version=1, created_at=now, updated_at=now)

    def get_webhook(self, tenant_id: str, webhook_id: str) -> Versioned[Webhook]:
        return self._read_in(tenant_id, WEBHOOKS, webhook_id)

    def list_webhooks(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Versioned[Webhook]]:
        return self._list_in(tenant_id, WEBHOOKS, limit, cursor)

    def update_webhook(self, tenant_id: str, webhook: Webhook, expected_version: int) -> Versioned[Webhook]:
        return self._update_in(tenant_id, WEBHOOKS, webhook.id, webhook, expected_version)

    def rotate_webhook_secret(
        self, tenant_id: str, webhook_id: str, secrets: SigningSecrets, expected_version: int
    ) -> Versioned[Webhook]:
        key = table_key(keys.tenant_pk(tenant_id), WEBHOOKS.prefix + webhook_id)
        assignments = {"secrets": attr_s(secrets.model_dump_json())}
        stored = self._guarded_update(key, assignments, expected_version, WEBHOOKS.what(webhook_id))
        return self._decode_versioned(stored, Webhook)

    def delete_webhook(self, tenant_id: str, webhook_id: str, expected_version: int) -> None:
        key = table_key(keys.tenant_pk(tenant_id), WEBHOOKS.prefix + webhook_id)
        delete = {"Delete": {"Key": key, **self._version_condition(expected_version)}}
        try:
            self._transact([delete, self._count_step(tenant_id, -1)])
        except TransactionCanceled as canceled:
            self._raise_stale(canceled.item(0), expected_version, WEBHOOKS.what(webhook_id))

    def webhook_targets(self, tenant_id: str) -> list[tuple[Webhook, SigningSecrets]]:
        items = self._query_all(keys.tenant_pk(tenant_id), WEBHOOKS.prefix)
        return [_target(item) for item in items]

    # ------------------------------------------------------------------------------------------ deliveries
    def _delivery_item(self, tenant_id: str, delivery: Delivery) -> Item:
        sk = keys.delivery_sk(delivery.webhook_id, delivery.created_at, delivery.event_id)
        return {
            **table_key(keys.tenant_pk(tenant_id), sk),
            "data": attr_s(delivery.model_dump_json()),
            "expires_at": attr_n(delivery_expiry(delivery)),
        }

    def create_delivery(self, tenant_id: str, delivery: Delivery, event: WebhookEvent) -> bool:
        item = {**self._delivery_item(tenant_id, delivery), "event": attr_s(event.model_dump_json())}
        try:
            self._conditional("put_item", Item=item, ConditionExpression="attribute_not_exists(PK)")
        except ConditionFailed:
            return False
        return True

    def get_delivery(
        self, tenant_id: str, webhook_id: str, created: datetime, event_id: str
    ) -> tuple[Delivery, WebhookEvent] | None:
        item = self._get_item(keys.tenant_pk(tenant_id), keys.delivery_sk(webhook_id, created, event_id))
        if item is None:
            return None
        return Delivery.model_validate_json(item["data"]["S"]), WebhookEvent.model_validate_json(item["event"]["S"])

    def save_delivery(self, tenant_id: str, delivery: Delivery) -> None:
        item = self._delivery_item(tenant_id, delivery)
        self._request(
            "update_item",
            TableName=self.table_name,
            Key=table_key(item["PK"]["S"], item["SK"]["S"]),
            UpdateExpression="SET #d = :d, expires_at = :e",
            ExpressionAttributeNames={"#d": "data"},
            ExpressionAttributeValues={":d": item["data"], ":e": item["expires_at"]},
        )

    def list_deliveries(self, tenant_id: str, webhook_id: str, limit: int, cursor: str | None) -> Page[Delivery]:
        scope = ListScope(keys.tenant_pk(tenant_id), keys.deliveries_prefix(webhook_id))
        items, next_cursor = self._query_page(tenant_id, scope, limit, cursor, descending=True)
        return Page[Delivery](
            items=[Delivery.model_validate_json(item["data"]["S"]) for item in items], next_cursor=next_cursor
        )


def _target(item: Item) -> tuple[Webhook, SigningSecrets]:
    return Webhook.model_validate_json(item["data"]["S"]), SigningSecrets.model_validate_json(item["secrets"]["S"])
