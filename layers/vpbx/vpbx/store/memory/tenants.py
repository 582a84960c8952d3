"""TenantStore in memory: tenants and API keys (found by hash like the DynamoDB by-hash item)."""

from __future__ import annotations  # `Versioned[X]` in signatures would build generic models at import

from datetime import datetime

from vpbx.domain.errors import AlreadyExists, NotFound
from vpbx.store import keys
from vpbx.store.common import check_version
from vpbx.store.memory.table import MemoryTable
from vpbx.store.models import (
    ApiKey,
    Page,
    Tenant,
)
from vpbx.store.paging import ListScope
from vpbx.store.ports import TenantStore


class MemoryTenantStore(MemoryTable, TenantStore):
    def create_tenant(self, tenant: Tenant) -> Tenant:
        with self._lock:
            pk = keys.tenant_pk(tenant.id)
            if self._get(pk, keys.TENANT_SK) is not None:
                raise AlreadyExists(f"tenant {tenant.id} already exists")
            self._put(pk, keys.TENANT_SK, tenant)
            return tenant

    def get_tenant(self, tenant_id: str) -> Tenant:
        with self._lock:
            tenant = self._get(keys.tenant_pk(tenant_id), keys.TENANT_SK)
            if tenant is None:
                raise NotFound(f"tenant {tenant_id} not found")
            return tenant

    def update_tenant(self, tenant: Tenant, expected_version: int) -> Tenant:
        with self._lock:
            pk = keys.tenant_pk(tenant.id)
            stored: Tenant = self.get_tenant(tenant.id)
            check_version(f"tenant {tenant.id}", stored.version, expected_version)
            updated = tenant.model_copy(update={"version": expected_version + 1})
            self._put(pk, keys.TENANT_SK, updated)
            self._put(pk, keys.DIRECTORY_REVISION_SK, self._revision(tenant.id) + 1)
            return updated

    def put_api_key(self, key: ApiKey) -> ApiKey:
        with self._lock:
            pk, sk = keys.tenant_pk(key.tenant_id), keys.API_KEY_PREFIX + key.id
            if self._get(pk, sk) is not None or key.key_hash in self._key_by_hash:
                raise AlreadyExists(f"API key {key.id} already exists")
            self._put(pk, sk, key)
            self._key_by_hash[key.key_hash] = (key.tenant_id, key.id)
            return key

    def find_api_key(self, key_hash: str) -> ApiKey | None:
        with self._lock:
            owner = self._key_by_hash.get(key_hash)
            if owner is None:
                return None
            return self._get(keys.tenant_pk(owner[0]), keys.API_KEY_PREFIX + owner[1])

    def list_api_keys(self, tenant_id: str, limit: int, cursor: str | None) -> Page[ApiKey]:
        pk = keys.tenant_pk(tenant_id)
        scope = ListScope(pk, keys.API_KEY_PREFIX)
        with self._lock:
            return self._page(tenant_id, scope, self._rows(pk, scope.sort_prefix), limit, cursor)

    def revoke_api_key(self, tenant_id: str, key_id: str, at: datetime) -> ApiKey:
        with self._lock:
            pk, sk = keys.tenant_pk(tenant_id), keys.API_KEY_PREFIX + key_id
            key: ApiKey | None = self._get(pk, sk)
            if key is None:
                raise NotFound(f"API key {key_id} not found")
            if key.revoked_at is None:
                key = key.model_copy(update={"revoked_at": at})
                self._put(pk, sk, key)
            return key
