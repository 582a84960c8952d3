"""Tenants and their API keys: what the operator and tenant admins may do.

A tenant admin sees only its own tenant: any other tenant id is NotFound, exactly like a tenant that does not exist.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime

from vpbx.domain.errors import AlreadyExists, Forbidden, InvalidInput, NotFound
from vpbx.domain.tenancy import OPERATOR_TENANT, TENANT_ROLES, Caller, Role
from vpbx.service.keys import IssuedKey, hash_secret, issue_key
from vpbx.service.usage_plans import NoUsagePlans, UsagePlans
from vpbx.store.models import DEFAULT_CALL_HISTORY_DAYS, ApiKey, Page, Tenant
from vpbx.store.ports import TenantStore

FIRST_ADMIN_KEY_NAME = "first admin key"


@dataclass(frozen=True)
class TenantSettings:
    """What a tenant's admin may set: everything of the tenant but its id, creation time and usage key."""

    name: str
    sip_domain: str | None = None
    crm_url: str | None = None
    default_country: str | None = None
    call_history_days: int = DEFAULT_CALL_HISTORY_DAYS


def new_tenant_id() -> str:
    return "t" + secrets.token_hex(6)


def create_tenant(
    repository: TenantStore,
    name: str,
    at: datetime,
    tenant_id: str | None = None,
    sip_domain: str | None = None,
    crm_url: str | None = None,
    usage_plans: UsagePlans | None = None,
    *,
    default_country: str | None = None,
    call_history_days: int = DEFAULT_CALL_HISTORY_DAYS,
) -> tuple[Tenant, IssuedKey]:
    """Create a tenant, its usage identifier (when plans are configured) and its first admin key.

    The admin key's secret is returned once and never stored.
    """
    tenant_id = tenant_id or new_tenant_id()
    _check_tenant_absent(repository, tenant_id)  # before provisioning, so a taken id leaves no stray usage key
    usage_key = (usage_plans or NoUsagePlans()).provision(tenant_id)
    settings = TenantSettings(name, sip_domain, crm_url, default_country, call_history_days)
    tenant = repository.create_tenant(Tenant(id=tenant_id, **vars(settings), created_at=at, usage_key=usage_key))
    issued = issue_key(tenant.id, "admin", FIRST_ADMIN_KEY_NAME, at, usage_key=tenant.usage_key)
    repository.put_api_key(issued.key)
    return tenant, issued


def get_tenant(repository: TenantStore, caller: Caller, tenant_id: str) -> Tenant:
    _check_tenant_visible(caller, tenant_id)
    return repository.get_tenant(tenant_id)


def replace_tenant_settings(
    repository: TenantStore, caller: Caller, tenant_id: str, settings: TenantSettings, expected_version: int
) -> Tenant:
    """Replace every setting at once (PUT); the store refuses a stale `expected_version` (412)."""
    current = get_tenant(repository, caller, tenant_id)
    return repository.update_tenant(current.model_copy(update=vars(settings)), expected_version)


def create_key(
    repository: TenantStore, caller: Caller, tenant_id: str, role: Role, name: str, at: datetime
) -> IssuedKey:
    if tenant_id == OPERATOR_TENANT:
        if not caller.is_operator:
            raise NotFound(f"tenant {tenant_id} not found")
        if role != "operator":
            raise InvalidInput("Keys of the platform tenant have the role 'operator'", [_role_detail()])
        usage_key = None  # the platform tenant is metered under the default plan
    else:
        usage_key = get_tenant(repository, caller, tenant_id).usage_key
        if role not in TENANT_ROLES:
            raise InvalidInput(f"A tenant key's role is one of {', '.join(TENANT_ROLES)}", [_role_detail()])
    issued = issue_key(tenant_id, role, name, at, usage_key=usage_key)
    repository.put_api_key(issued.key)
    return issued


def list_keys(repository: TenantStore, caller: Caller, tenant_id: str, limit: int, cursor: str | None) -> Page[ApiKey]:
    if tenant_id != OPERATOR_TENANT or not caller.is_operator:
        get_tenant(repository, caller, tenant_id)
    return repository.list_api_keys(tenant_id, limit, cursor)


def revoke_key(repository: TenantStore, caller: Caller, tenant_id: str, key_id: str, at: datetime) -> ApiKey:
    if tenant_id != OPERATOR_TENANT or not caller.is_operator:
        _check_tenant_visible(caller, tenant_id)
    if tenant_id == OPERATOR_TENANT and key_id == caller.key_id:
        raise Forbidden("An operator cannot revoke the key it is using; use another operator key")
    return repository.revoke_api_key(tenant_id, key_id, at)


def ensure_operator_key(repository: TenantStore, secret: str, at: datetime, name: str = "bootstrap") -> ApiKey:
    """Make `secret` a working operator key (bootstrap for the local server or a fresh deployment); idempotent."""
    existing = repository.find_api_key(hash_secret(secret))
    if existing is not None:
        if existing.tenant_id != OPERATOR_TENANT or existing.role != "operator" or not existing.active:
            raise InvalidInput("That secret belongs to another key; choose a new operator key")
        return existing
    issued = issue_key(OPERATOR_TENANT, "operator", name, at, secret=secret)
    return repository.put_api_key(issued.key)


def _check_tenant_absent(repository: TenantStore, tenant_id: str) -> None:
    try:
        repository.get_tenant(tenant_id)
    except NotFound:
        return
    raise AlreadyExists(f"tenant {tenant_id} already exists")


def _check_tenant_visible(caller: Caller, tenant_id: str) -> None:
    if not caller.is_operator and caller.tenant_id != tenant_id:
        raise NotFound(f"tenant {tenant_id} not found")


def _role_detail() -> dict[str, object]:
    return {"loc": ["body", "role"], "msg": "role not allowed for this tenant", "type": "role"}
