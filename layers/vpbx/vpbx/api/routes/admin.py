"""Operator and tenant-admin routes: tenants and API keys (`/v1/tenants…`)."""

from datetime import UTC, datetime
from http import HTTPStatus
from typing import Annotated, Literal
from urllib.parse import urlsplit

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel, Field, field_validator

from vpbx.api.context import current_caller, version_from_if_match
from vpbx.api.deps import get_repository, get_usage_plans
from vpbx.api.errors import JSON_CONTENT_TYPE
from vpbx.api.idempotency import IdempotencyKey, idempotent
from vpbx.api.keys import IssuedKey
from vpbx.api.models import Cursor, Limit, PageOf, RequestModel
from vpbx.api.resources import IfMatch, versioned_response
from vpbx.api.responses import CREATE_ERRORS, READ_ERRORS, WRITE_ERRORS, created, documented
from vpbx.api.settings import get_settings
from vpbx.domain.base import LazyModel, Name, ResourceId
from vpbx.domain.tenancy import Role
from vpbx.service import admin
from vpbx.store.models import DEFAULT_CALL_HISTORY_DAYS, ApiKey, Tenant

router = Router()

TenantId = Annotated[str, Path(max_length=64, description="Tenant id")]
KeyId = Annotated[str, Path(max_length=64, description="API key id")]
_DNS_LABEL = r"[A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
SipDomain = Annotated[
    str,
    Field(
        pattern=rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*$",
        max_length=253,
        description="A DNS name (labels of 1–63 letters, digits and inner hyphens); internal subscribers ring at "
        "sip:<extension>@<sip_domain>",
        examples=["pbx.acme.example"],
    ),
]
CrmUrl = Annotated[
    str,
    Field(
        max_length=1024,
        pattern=r"^https?://",
        description="The CRM an external_routing element without its own url asks (https; docs/CALLS.md)",
        examples=["https://crm.acme.example/vpbx/route"],
    ),
]
CountryCode = Annotated[
    str,
    Field(
        pattern=r"^[A-Z]{2}$",
        description="ISO 3166-1 alpha-2 region (as libphonenumber knows it) for numbers in national format, "
        'e.g. "RU" reads 89161234567 as +79161234567',
        examples=["RU"],
    ),
]
HistoryDays = Annotated[
    int, Field(ge=1, le=3650, description="How many days call records are kept (default 90)", examples=[90])
]


def crm_url_problem(url: str, allow_insecure: bool) -> str | None:
    """Why `url` cannot be a CRM URL (the checks of the external_routing element's url), or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return "crm_url is not a URL"
    if parts.scheme != "https" and not (allow_insecure and parts.scheme == "http"):
        return "crm_url must be an https:// URL"
    if not parts.hostname:
        return "crm_url has no host"
    if parts.username is not None or parts.password is not None:
        return "crm_url must not carry a user or password"
    return None


class TenantSettingsBody(RequestModel):
    """The settings a tenant's admin may change; PUT replaces all of them (an omitted one takes its default)."""

    name: Name
    sip_domain: SipDomain | None = None
    crm_url: CrmUrl | None = None
    default_country: CountryCode | None = None
    call_history_days: HistoryDays = DEFAULT_CALL_HISTORY_DAYS

    @field_validator("sip_domain")
    @classmethod
    def _lower_case(cls, domain: str | None) -> str | None:
        return domain.lower() if domain is not None else None

    @field_validator("crm_url")
    @classmethod
    def _checked_crm_url(cls, url: str | None) -> str | None:
        problem = url and crm_url_problem(url, get_settings().allow_insecure_crm)
        if problem:
            raise ValueError(problem)
        return url

    @field_validator("default_country")
    @classmethod
    def _known_country(cls, code: str | None) -> str | None:
        import phonenumbers  # loaded only when a country is set, not on every admin cold start

        if code is not None and code not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"default_country {code!r} is not a region libphonenumber knows (ISO 3166-1 alpha-2)")
        return code

    def settings(self) -> admin.TenantSettings:
        return admin.TenantSettings(**self.model_dump(include=set(TENANT_SETTINGS)))


TENANT_SETTINGS = ("name", "sip_domain", "crm_url", "default_country", "call_history_days")


class TenantCreate(TenantSettingsBody):
    id: ResourceId | None = Field(default=None, description="Chosen id; generated when absent")


class TenantReplace(TenantSettingsBody):
    """Body of `PUT /v1/tenants/{tenant_id}`."""


class KeyCreate(RequestModel):
    role: Role = Field(description="admin, editor, viewer or telephony (operator only for the platform tenant)")
    name: Annotated[str, Field(max_length=200)] = ""


class TenantView(LazyModel):
    id: str
    name: str
    sip_domain: str | None
    crm_url: str | None
    default_country: str | None
    call_history_days: int
    created_at: datetime
    version: int = Field(description='The settings\' version; the ETag is this number quoted ("2")')

    @classmethod
    def of(cls, tenant: Tenant) -> "TenantView":
        return cls.model_validate(tenant, from_attributes=True)  # usage_key stays internal


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
    responses=created(TenantCreated, CREATE_ERRORS),
)
def create_tenant(
    request: Annotated[TenantCreate, Body()],
    idempotency_key: IdempotencyKey = None,
) -> Response[TenantCreated]:
    settings = request.settings()
    tenant, key = admin.create_tenant(
        get_repository(),
        settings.name,
        _now(),
        request.id,
        settings.sip_domain,
        settings.crm_url,
        usage_plans=get_usage_plans(),
        default_country=settings.default_country,
        call_history_days=settings.call_history_days,
    )
    body = TenantCreated(**TenantView.of(tenant).model_dump(), admin_key=KeyCreated.issued(key))
    return versioned_response(body, tenant.version, HTTPStatus.CREATED, f"/v1/tenants/{tenant.id}")


@router.get(
    "/v1/tenants/<tenant_id>",
    operation_id="getTenant",
    summary="Read a tenant",
    description="A tenant's settings, with its ETag: send the ETag back in `If-Match` to replace them. The "
    "operator may read any tenant; a tenant's admin key reads only its own tenant (another tenant's id is 404).",
    tags=TENANTS,
    responses=documented(200, TenantView, "The tenant", READ_ERRORS),
)
def get_tenant(tenant_id: TenantId) -> Response[TenantView]:
    tenant = admin.get_tenant(get_repository(), current_caller(router), tenant_id)
    return versioned_response(TenantView.of(tenant), tenant.version)


@router.put(
    "/v1/tenants/<tenant_id>",
    operation_id="replaceTenant",
    summary="Replace a tenant's settings (If-Match required)",
    description="Replaces every setting at once: `name`, `sip_domain`, `crm_url`, `default_country`, "
    "`call_history_days` (an omitted one takes its default: null, or 90 days). Needs `If-Match` with the ETag you "
    "read: 412 when someone changed the tenant since, 428 without it. The next call uses the new settings. "
    "Operator, or the tenant's own admin keys (another tenant's id is 404).",
    tags=TENANTS,
    responses=documented(200, TenantView, "Replaced", WRITE_ERRORS),
)
def replace_tenant(
    tenant_id: TenantId,
    body: Annotated[TenantReplace, Body()],
    if_match: IfMatch,
) -> Response[TenantView]:
    caller, expected = current_caller(router), version_from_if_match(if_match)
    tenant = admin.replace_tenant_settings(get_repository(), caller, tenant_id, body.settings(), expected)
    return versioned_response(TenantView.of(tenant), tenant.version)


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
