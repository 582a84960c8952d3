"""TenantStore contract (tenants, API keys), on the in-memory and the DynamoDB implementation alike."""

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from vpbx.domain.errors import AlreadyExists, NotFound, VersionMismatch
from vpbx.store.models import (
    Tenant,
)
from vpbx.store.ports import MAX_PAGE_LIMIT

if TYPE_CHECKING:  # conftest is loaded by pytest itself; import it for the annotation only
    pass

from vpbx.store.ports import Repository, TenantStore

from tests.integration.store_contract import T0, A, B, api_key


def test_tenant_create_get_and_duplicate(repository: TenantStore) -> None:
    tenant = Tenant(id=A, name="Acme", sip_domain="acme.example", created_at=T0)
    assert repository.create_tenant(tenant) == tenant
    assert repository.get_tenant(A) == tenant
    with pytest.raises(AlreadyExists):
        repository.create_tenant(tenant.model_copy(update={"name": "Other"}))
    with pytest.raises(NotFound):
        repository.get_tenant(B)


def test_tenant_update_is_versioned_and_advances_the_directory_revision(repository: Repository) -> None:
    tenant = Tenant(id=A, name="Acme", created_at=T0)
    repository.create_tenant(tenant)
    revision = repository.directory_revision(A)
    settings = {"sip_domain": "pbx.acme.example", "default_country": "RU", "call_history_days": 30}

    updated = repository.update_tenant(tenant.model_copy(update=settings), expected_version=1)

    assert (updated.version, updated.default_country, updated.call_history_days) == (2, "RU", 30)
    assert repository.get_tenant(A) == updated
    assert repository.directory_revision(A) == revision + 1  # caches keyed by the revision see new settings
    with pytest.raises(VersionMismatch):
        repository.update_tenant(tenant.model_copy(update={"name": "Stale"}), expected_version=1)
    assert repository.get_tenant(A) == updated
    assert repository.directory_revision(A) == revision + 1  # a refused write advances nothing
    with pytest.raises(NotFound):
        repository.update_tenant(tenant.model_copy(update={"id": B}), expected_version=1)
    assert repository.directory_revision(B) == 0


def test_tenant_defaults_for_settings_added_later(repository: TenantStore) -> None:
    tenant = repository.create_tenant(Tenant(id=A, name="Acme", created_at=T0))
    assert (tenant.default_country, tenant.call_history_days, tenant.version) == (None, 90, 1)
    old_record = Tenant.model_validate_json('{"id": "a", "name": "Old", "created_at": "2026-01-01T00:00:00Z"}')
    assert (old_record.default_country, old_record.call_history_days) == (None, 90)


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


def test_a_tenant_stored_without_a_version_attribute_updates_as_version_1(dynamo_table: tuple[str, str]) -> None:
    """Tenants created before the version was an item attribute: If-Match "1" (what GET shows) still works."""
    import boto3
    from vpbx.store import keys
    from vpbx.store.dynamodb import DynamoRepository

    endpoint, table_name = dynamo_table
    legacy = Tenant(id=A, name="Acme", created_at=T0)
    boto3.client("dynamodb", endpoint_url=endpoint).put_item(
        TableName=table_name,
        Item={"PK": {"S": keys.tenant_pk(A)}, "SK": {"S": keys.TENANT_SK}, "data": {"S": legacy.model_dump_json()}},
    )
    repository = DynamoRepository(table_name, endpoint_url=endpoint)
    with pytest.raises(VersionMismatch):
        repository.update_tenant(legacy, expected_version=2)
    assert repository.update_tenant(legacy.model_copy(update={"name": "Acme Ltd"}), expected_version=1).version == 2
    with pytest.raises(VersionMismatch):
        repository.update_tenant(legacy, expected_version=1)
