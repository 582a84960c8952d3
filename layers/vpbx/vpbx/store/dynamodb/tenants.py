"""TenantStore on DynamoDB: tenants, and API keys (a listing item per tenant plus a by-hash item)."""

from __future__ import annotations  # `Versioned[X]` in signatures would build generic models at import

from datetime import datetime

from vpbx.domain.errors import AlreadyExists, NotFound
from vpbx.store import keys
from vpbx.store.common import stale_version
from vpbx.store.dynamodb.table import (
    ConditionFailed,
    DynamoTable,
    Item,
    TransactionCanceled,
    attr_n,
    attr_s,
    read_int,
    table_key,
)
from vpbx.store.dynamodb.versioned import revision_copy_steps
from vpbx.store.models import (
    ApiKey,
    Page,
    Tenant,
)
from vpbx.store.paging import ListScope
from vpbx.store.ports import TenantStore


def _tenant_item(tenant: Tenant) -> Item:
    """The tenant's JSON, and its version as an attribute the conditional write compares."""
    return {
        **table_key(keys.tenant_pk(tenant.id), keys.TENANT_SK),
        "data": attr_s(tenant.model_dump_json()),
        "version": attr_n(tenant.version),
    }


class DynamoTenantStore(DynamoTable, TenantStore):
    def create_tenant(self, tenant: Tenant) -> Tenant:
        item = _tenant_item(tenant)
        try:
            self._conditional("put_item", Item=item, ConditionExpression="attribute_not_exists(PK)")
        except ConditionFailed:
            raise AlreadyExists(f"tenant {tenant.id} already exists") from None
        return tenant

    def get_tenant(self, tenant_id: str) -> Tenant:
        item = self._get_item(keys.tenant_pk(tenant_id), keys.TENANT_SK)
        if item is None:
            raise NotFound(f"tenant {tenant_id} not found")
        return Tenant.model_validate_json(item["data"]["S"])

    def update_tenant(self, tenant: Tenant, expected_version: int) -> Tenant:
        updated = tenant.model_copy(update={"version": expected_version + 1})
        # A tenant stored before versions were an attribute is at version 1.
        unversioned = " OR attribute_not_exists(#version)" if expected_version == 1 else ""
        write = {
            "Item": _tenant_item(updated),
            "ConditionExpression": f"attribute_exists(PK) AND (#version = :expected{unversioned})",
            "ExpressionAttributeNames": {"#version": "version"},
            "ExpressionAttributeValues": {":expected": attr_n(expected_version)},
        }
        revision = {
            "Key": table_key(keys.tenant_pk(tenant.id), keys.DIRECTORY_REVISION_SK),
            "UpdateExpression": "ADD revision :one",
            "ExpressionAttributeValues": {":one": attr_n(1)},
        }
        try:
            self._transact([{"Put": write}, {"Update": revision}, *revision_copy_steps(tenant.id)])
        except TransactionCanceled as canceled:
            stored = canceled.item(0)
            if not stored:
                raise NotFound(f"tenant {tenant.id} not found") from None
            raise stale_version(f"tenant {tenant.id}", read_int(stored, "version") or 1, expected_version) from None
        return updated

    def _write_api_key(self, key: ApiKey, condition: str) -> None:
        """Both items of a key (the tenant's listing and the authorizer's by-hash lookup), on one condition."""
        data = attr_s(key.model_dump_json())
        listing = {**table_key(keys.tenant_pk(key.tenant_id), keys.API_KEY_PREFIX + key.id), "data": data}
        by_hash = {**table_key(keys.api_key_hash_pk(key.key_hash), keys.API_KEY_HASH_SK), "data": data}
        self._transact([{"Put": {"Item": item, "ConditionExpression": condition}} for item in (listing, by_hash)])

    def put_api_key(self, key: ApiKey) -> ApiKey:
        try:
            self._write_api_key(key, "attribute_not_exists(PK)")
        except TransactionCanceled:
            raise AlreadyExists(f"API key {key.id} already exists") from None
        return key

    def find_api_key(self, key_hash: str) -> ApiKey | None:
        item = self._get_item(keys.api_key_hash_pk(key_hash), keys.API_KEY_HASH_SK)
        return ApiKey.model_validate_json(item["data"]["S"]) if item else None

    def list_api_keys(self, tenant_id: str, limit: int, cursor: str | None) -> Page[ApiKey]:
        scope = ListScope(keys.tenant_pk(tenant_id), keys.API_KEY_PREFIX)
        items, next_cursor = self._query_page(tenant_id, scope, limit, cursor)
        return Page[ApiKey](items=[ApiKey.model_validate_json(i["data"]["S"]) for i in items], next_cursor=next_cursor)

    def revoke_api_key(self, tenant_id: str, key_id: str, at: datetime) -> ApiKey:
        item = self._get_item(keys.tenant_pk(tenant_id), keys.API_KEY_PREFIX + key_id)
        if item is None:
            raise NotFound(f"API key {key_id} not found")
        key = ApiKey.model_validate_json(item["data"]["S"])
        if key.revoked_at is not None:
            return key
        revoked = key.model_copy(update={"revoked_at": at})
        try:
            self._write_api_key(revoked, "attribute_exists(PK)")
        except TransactionCanceled:
            raise NotFound(f"API key {key_id} not found") from None
        return revoked
