"""What the tenant and key views expose: everything a client needs, never the stored hash or metering key."""

from datetime import UTC, datetime

from vpbx.api.routes.admin import KeyCreated, KeyView, TenantView
from vpbx.service.keys import issue_key
from vpbx.store.models import Tenant

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_tenant_view_shows_the_public_fields_only() -> None:
    tenant = Tenant(id="acme", name="Acme", sip_domain="pbx.acme.example", created_at=NOW, usage_key="meter-1")
    view = TenantView.of(tenant).model_dump(mode="json")
    assert view == {
        "id": "acme",
        "name": "Acme",
        "sip_domain": "pbx.acme.example",
        "crm_url": None,
        "default_country": None,
        "call_history_days": 90,
        "created_at": "2026-11-25T12:00:00Z",
        "version": 1,
    }


def test_key_views_never_carry_the_hash_and_show_the_secret_only_when_created() -> None:
    issued = issue_key("acme", "viewer", "dashboard", NOW, usage_key="meter-1")
    listed = KeyView.of(issued.key).model_dump(mode="json")
    assert set(listed) == {"id", "tenant_id", "role", "name", "prefix", "created_at", "revoked_at", "status"}
    assert (listed["role"], listed["status"]) == ("viewer", "active")
    assert issued.key.key_hash not in str(listed)

    revoked = KeyView.of(issued.key.model_copy(update={"revoked_at": NOW}))
    assert revoked.status == "revoked"
    created = KeyCreated.issued(issued).model_dump(mode="json")
    assert created["secret"] == issued.secret
    assert "key_hash" not in created
    assert "usage_key" not in created
