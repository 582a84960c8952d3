"""Operator and tenant-admin routes: tenants and API keys (`/v1/tenants…`)."""

from datetime import UTC, datetime
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel, Field, field_validator

from vpbx.api.context import current_caller
from vpbx.api.deps import get_repository, get_usage_plans
from vpbx.api.errors import JSON_CONTENT_TYPE
from vpbx.api.idempotency import IdempotencyKey, idempotent
from vpbx.api.keys import IssuedKey
from vpbx.api.models import Cursor, Limit, PageOf, RequestModel
from vpbx.api.responses import CREATE_ERRORS, READ_ERRORS, created, documented
from vpbx.api.settings import get_settings
from vpbx.domain.base import LazyModel, Name, ResourceId
from vpbx.domain.tenancy import Role
from vpbx.service import admin
from vpbx.store.models import ApiKey, Tenant

router = Router()

TenantId = Annotated[str, Path(max_length=64, description="Tenant id")]
KeyId = Annotated[str, Path(max_length=64, description="API key id")]
SipDomain = Annotated[str, Field(pattern=r"^[A-Za-z0-9]([A-Za-z0-9\-]{0,62}\.)*[A-Za-z0-9\-]{1,63}$", max_length=253)]


class TenantCreate(RequestModel):
    name: Name
    id: ResourceId | None = Field(default=None, description="Chosen id; generated when absent")
    sip_domain: SipDomain | None = Field(default=None, description="Internal subscribers ring at sip:<ext>@<domain>")
    crm_url: str | None = Field(default=None, max_length=2048, description="Default CRM for external_routing (https)")

    @field_validator("crm_url")
    @classmethod
    def _https_only(cls, url: str | None) -> str | None:
        insecure_ok = get_settings().allow_insecure_crm and url is not None and url.startswith("http://")
        if url is not None and not (url.startswith("https://") or insecure_ok):
            raise ValueError("crm_url must be an https:// URL")
        return url


class KeyCreate(RequestModel):
    role: Role = Field(description="admin, editor, viewer or telephony (operator only for the platform tenant)")
    name: Annotated[str, Field(max_length=200)] = ""


class TenantView(LazyModel):
    id: str
    name: str
    sip_domain: str | None
    crm_url: str | None
    created_at: datetime

    @classmethod
    def of(cls, tenant: Tenant) -> "TenantView":
        return cls.model_validate(tenant, from_attributes=True)  # usage_key and version stay internal


class KeyView(LazyModel):
    id: str
    tenant_id: str
    role: Role
    name: str
    prefix: str = Field(description="First characters of the secret, to tell keys apart")
    created_at: datetime
    revoked_at: datetime | None
    status: Literal["active", "revoked"]

    @classmethod
    def of(cls, key: ApiKey) -> "KeyView":
        # key_hash and usage_key are not fields here, so they never leave the service
        return cls.model_validate({**key.model_dump(), "status": "active" if key.active else "revoked"})


class KeyCreated(KeyView):
    secret: str = Field(description="The API key; shown only in this response — store it now")

    @classmethod
    def issued(cls, issued: IssuedKey) -> "KeyCreated":
        return cls(**KeyView.of(issued.key).model_dump(), secret=issued.secret)


class TenantCreated(TenantView):
    admin_key: KeyCreated


def _created(model: BaseModel, location: str) -> Response:
    return Response(
        status_code=201,
        content_type=JSON_CONTENT_TYPE,
        body=model.model_dump(mode="json"),
        headers={"Location": location},
    )


def _now() -> datetime:
    return datetime.now(UTC)


TENANTS, KEYS = ["Tenants"], ["Keys"]


@router.post(
    "/v1/tenants",
    operation_id="createTenant",
    summary="Create a tenant and its first admin key (operator)",
    description="Creates a company on the platform and issues its first `admin` key; the secret is in "
    "`admin_key.secret` and is shown only in this response. Operator keys only. Answers 201 with the tenant and "
    "its Location; 409 when the id is taken.",
    middlewares=[idempotent],
    tags=TENANTS,
    responses=created(TenantCreated, CREATE_ERRORS, etag=False),
)
def create_tenant(
    request: Annotated[TenantCreate, Body()],
    idempotency_key: IdempotencyKey = None,
) -> Response[TenantCreated]:
    tenant, key = admin.create_tenant(
        get_repository(),
        request.name,
        _now(),
        request.id,
        request.sip_domain,
        request.crm_url,
        usage_plans=get_usage_plans(),
    )
    body = TenantCreated(**TenantView.of(tenant).model_dump(), admin_key=KeyCreated.issued(key))
    return _created(body, f"/v1/tenants/{tenant.id}")


@router.get(
    "/v1/tenants/<tenant_id>",
    operation_id="getTenant",
    summary="Read a tenant",
    description="A tenant's settings. The operator may read any tenant; a tenant's admin key reads only its own "
    "tenant (another tenant's id is 404).",
    tags=TENANTS,
    responses=documented(200, TenantView, "The tenant", READ_ERRORS, etag=False),
)
def get_tenant(tenant_id: TenantId) -> TenantView:
    return TenantView.of(admin.get_tenant(get_repository(), current_caller(router), tenant_id))


@router.get(
    "/v1/tenants/<tenant_id>/keys",
    operation_id="listKeys",
    summary="List a tenant's API keys",
    description="The tenant's API keys, active and revoked, a page at a time; secrets are never shown again, only "
    "their first characters (`prefix`). Operator, or the tenant's own admin keys.",
    tags=KEYS,
    responses=documented(200, PageOf[KeyView], "A page of keys", READ_ERRORS, etag=False),
)
def list_keys(tenant_id: TenantId, limit: Limit = 50, cursor: Cursor = None) -> PageOf[KeyView]:
    page = admin.list_keys(get_repository(), current_caller(router), tenant_id, limit, cursor)
    return PageOf[KeyView](items=[KeyView.of(key) for key in page.items], next_cursor=page.next_cursor)


@router.post(
    "/v1/tenants/<tenant_id>/keys",
    operation_id="createKey",
    summary="Create an API key (the secret is shown once)",
    description="Issues a key with one role: `admin`, `editor` or `viewer` for people and frontends, `telephony` "
    "for the switch that drives calls. The secret is in the response only; the API stores its SHA-256. Operator, "
    "or the tenant's own admin keys. Answers 201 with the key and its Location.",
    middlewares=[idempotent],
    tags=KEYS,
    responses=created(KeyCreated, READ_ERRORS, etag=False),
)
def create_key(
    tenant_id: TenantId,
    request: Annotated[KeyCreate, Body()],
    idempotency_key: IdempotencyKey = None,
) -> Response[KeyCreated]:
    issued = admin.create_key(get_repository(), current_caller(router), tenant_id, request.role, request.name, _now())
    return _created(KeyCreated.issued(issued), f"/v1/tenants/{tenant_id}/keys/{issued.key.id}")


@router.delete(
    "/v1/tenants/<tenant_id>/keys/<key_id>",
    operation_id="revokeKey",
    summary="Revoke an API key",
    description="Revokes a key at once: requests with it get 403 from now on. The key stays listed with "
    "`status: revoked`. Answers the revoked key. Operator, or the tenant's own admin keys.",
    tags=KEYS,
    responses=documented(200, KeyView, "The revoked key", READ_ERRORS, etag=False),
)
def revoke_key(tenant_id: TenantId, key_id: KeyId) -> KeyView:
    return KeyView.of(admin.revoke_key(get_repository(), current_caller(router), tenant_id, key_id, _now()))
