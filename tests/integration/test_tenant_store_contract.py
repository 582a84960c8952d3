"""TenantStore contract (tenants, API keys), on the in-memory and the DynamoDB implementation alike."""

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from vpbx.domain.errors import AlreadyExists, NotFound
from vpbx.store.models import (
    Tenant,
)
from vpbx.store.ports import MAX_PAGE_LIMIT

if TYPE_CHECKING:  # conftest is loaded by pytest itself; import it for the annotation only
    pass

from vpbx.store.ports import TenantStore

from tests.integration.store_contract import T0, A, B, api_key


def test_tenant_create_get_and_duplicate(repository: TenantStore) -> None:
    tenant = Tenant(id=A, name="Acme", sip_domain="acme.example", created_at=T0)
    assert repository.create_tenant(tenant) == tenant
    assert repository.get_tenant(A) == tenant
    with pytest.raises(AlreadyExists):
        repository.create_tenant(tenant.model_copy(update={"name": "Other"}))
    with pytest.raises(NotFound):
        repository.get_tenant(B)


def test_api_keys_found_by_hash_listed_per_tenant_and_revoked(repository: TenantStore) -> None:
    first, second, foreign = api_key("k1"), api_key("k2"), api_key("k1", tenant_id=B)
    for key in (first, second, foreign):
        repository.put_api_key(key)
    assert repository.find_api_key(first.key_hash) == first
    assert repository.find_api_key("unknown") is None
    assert [k.id for k in repository.list_api_keys(A, 10, None).items] == ["k1", "k2"]
    with pytest.raises(AlreadyExists):
        repository.put_api_key(api_key("k1"))
    with pytest.raises(AlreadyExists):
        repository.put_api_key(api_key("k3", key_hash=first.key_hash))
    with pytest.raises(NotFound):
        repository.revoke_api_key(B, "k2", T0)

    revoked = repository.revoke_api_key(A, "k1", T0 + timedelta(hours=1))
    assert revoked.revoked_at == T0 + timedelta(hours=1)
    found = repository.find_api_key(first.key_hash)
    assert found is not None
    assert not found.active
    assert repository.revoke_api_key(A, "k1", T0 + timedelta(hours=2)).revoked_at == revoked.revoked_at
    assert repository.find_api_key(foreign.key_hash) == foreign


# ------------------------------------------------------------------------------------------------------ directory


def test_limit_never_exceeds_max_page_limit(repository: TenantStore) -> None:
    for i in range(MAX_PAGE_LIMIT + 1):
        repository.put_api_key(api_key(f"k{i:03d}"))
    page = repository.list_api_keys(A, MAX_PAGE_LIMIT * 5, None)
    assert len(page.items) == MAX_PAGE_LIMIT
    assert page.next_cursor is not None
    rest = repository.list_api_keys(A, MAX_PAGE_LIMIT, page.next_cursor)
    assert [k.id for k in rest.items] == [f"k{MAX_PAGE_LIMIT:03d}"]
    assert rest.next_cursor is None
