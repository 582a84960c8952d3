"""Who is calling, and what each role may do.

The caller comes ONLY from the authorizer context API Gateway puts in `requestContext.authorizer`, never from the
body, query or headers. `ROUTE_ROLES` is the single table of which roles may call which route; the resolver checks
it before every route runs and refuses routes missing from it (fail closed), so the security tests can enumerate it.
"""

import re
from typing import Any, Protocol

from vpbx.domain.errors import Forbidden, InvalidInput, PreconditionRequired
from vpbx.domain.tenancy import OPERATOR_TENANT, Role
from vpbx.domain.tenancy import Caller as Caller  # re-exported: it lives below the services that take it

PUBLIC: frozenset[Role] = frozenset()  # marker: no caller needed (docs)
OPERATOR: frozenset[Role] = frozenset({"operator"})
TENANT_ADMINISTRATION: frozenset[Role] = frozenset({"operator", "admin"})
READERS: frozenset[Role] = frozenset({"admin", "editor", "viewer"})
WRITERS: frozenset[Role] = frozenset({"admin", "editor"})
TELEPHONY: frozenset[Role] = frozenset({"telephony"})
ADMINS: frozenset[Role] = frozenset({"admin"})

_DIRECTORY_COLLECTIONS = {
    "/v1/subscribers": "/v1/subscribers/{extension}",
    "/v1/numbers": "/v1/numbers/{number}",
    "/v1/schedules": "/v1/schedules/{schedule_id}",
    "/v1/caller-lists": "/v1/caller-lists/{list_id}",
    "/v1/queues": "/v1/queues/{queue_id}",
    "/v1/scenarios": "/v1/scenarios/{scenario_id}",
}


def _crud(collection: str, item: str) -> dict[tuple[str, str], frozenset[Role]]:
    return {
        ("GET", collection): READERS,
        ("POST", collection): WRITERS,
        ("GET", item): READERS,
        ("PUT", item): WRITERS,
        ("PATCH", item): WRITERS,
        ("DELETE", item): WRITERS,
    }


ROUTE_ROLES: dict[tuple[str, str], frozenset[Role]] = {
    # docs
    ("GET", "/v1/openapi.json"): PUBLIC,
    ("GET", "/v1/docs"): PUBLIC,
    # operator; a tenant admin may read its own tenant and manage its own keys (another tenant is 404)
    ("POST", "/v1/tenants"): OPERATOR,
    ("GET", "/v1/tenants/{tenant_id}"): TENANT_ADMINISTRATION,
    ("PUT", "/v1/tenants/{tenant_id}"): TENANT_ADMINISTRATION,
    ("GET", "/v1/tenants/{tenant_id}/keys"): TENANT_ADMINISTRATION,
    ("POST", "/v1/tenants/{tenant_id}/keys"): TENANT_ADMINISTRATION,
    ("DELETE", "/v1/tenants/{tenant_id}/keys/{key_id}"): TENANT_ADMINISTRATION,
    # directory and scenarios
    **{
        route: roles
        for collection, item in _DIRECTORY_COLLECTIONS.items()
        for route, roles in _crud(collection, item).items()
    },
    ("GET", "/v1/schedules/{schedule_id}/status"): READERS,
    ("POST", "/v1/scenarios/{scenario_id}/validate"): READERS,  # read-only checks
    ("POST", "/v1/scenarios/{scenario_id}/simulate"): READERS,
    ("GET", "/v1/scenarios/{scenario_id}/diagram"): READERS,
    ("POST", "/v1/scenarios/{scenario_id}/preview"): READERS,  # read-only, like simulate
    ("GET", "/v1/scenarios/{scenario_id}/analysis"): READERS,
    ("POST", "/v1/scenarios/{scenario_id}/publish"): WRITERS,
    ("POST", "/v1/scenarios/{scenario_id}/rollback"): WRITERS,
    ("GET", "/v1/scenarios/{scenario_id}/versions"): READERS,
    ("GET", "/v1/scenarios/{scenario_id}/versions/{version}"): READERS,
    # calls: telephony drives them, tenant users read them
    ("POST", "/v1/calls"): TELEPHONY,
    ("POST", "/v1/calls/{call_id}/events"): TELEPHONY,
    ("GET", "/v1/calls"): READERS,
    ("GET", "/v1/calls/{call_id}"): READERS,
    ("GET", "/v1/scenarios/{scenario_id}/stats"): READERS,
    # the ACD: a queue's live view; agents pause themselves with a feature code (telephony) or are paused by staff
    ("GET", "/v1/queues/{queue_id}/live"): READERS,
    ("POST", "/v1/queues/{queue_id}/members/{extension}/pause"): WRITERS | TELEPHONY,
    ("POST", "/v1/queues/{queue_id}/members/{extension}/unpause"): WRITERS | TELEPHONY,
    # webhooks: they carry a signing secret and send call data out, so tenant admins only
    **dict.fromkeys(_crud("/v1/webhooks", "/v1/webhooks/{webhook_id}"), ADMINS),
    ("POST", "/v1/webhooks/{webhook_id}/rotate-secret"): ADMINS,
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): ADMINS,
    ("POST", "/v1/webhooks/{webhook_id}/test"): ADMINS,
}


_ROLES: frozenset[str] = frozenset({"operator", "admin", "editor", "viewer", "telephony"})


def caller_from_event(event: dict[str, Any]) -> Caller | None:
    """The caller the authorizer vouched for, or None when the request carries no (complete) authorizer context."""
    request_context = event.get("requestContext") or {}
    authorizer = request_context.get("authorizer") or {}
    tenant_id, key_id, role = authorizer.get("tenant_id"), authorizer.get("key_id"), authorizer.get("role")
    if not (isinstance(tenant_id, str) and tenant_id and isinstance(key_id, str) and key_id and role in _ROLES):
        return None
    if role == "operator" and tenant_id != OPERATOR_TENANT:
        return None  # an operator role outside the platform pseudo-tenant is a forged or broken context
    return Caller(tenant_id=tenant_id, key_id=key_id, role=role)


def route_key(method: str, rule: str) -> tuple[str, str]:
    """(METHOD, /path/{param}) from a powertools rule such as `/v1/tenants/<tenant_id>`."""
    return method.upper(), re.sub(r"<(\w+)>", r"{\1}", rule)


def roles_for(method: str, rule: str) -> frozenset[Role] | None:
    """The roles allowed on a route; None when the route is missing from the table (callers must refuse it)."""
    return ROUTE_ROLES.get(route_key(method, rule))


def require_role(caller: Caller | None, *roles: Role) -> Caller:
    if caller is None:
        raise Forbidden("This endpoint needs an API key")
    if caller.role not in roles:
        raise Forbidden(f"Role '{caller.role}' may not do this")
    return caller


def check_access(caller: Caller | None, method: str, rule: str) -> None:
    """Enforce ROUTE_ROLES for one request (fail closed for routes nobody listed)."""
    allowed = roles_for(method, rule)
    if allowed is None:
        raise LookupError(f"route {method} {rule} has no entry in ROUTE_ROLES")
    if not allowed:  # PUBLIC
        return
    require_role(caller, *sorted(allowed))


# ---------------------------------------------------------------- request helpers for routes
class _HasCurrentEvent(Protocol):
    @property
    def current_event(self) -> Any: ...


def current_caller(app: _HasCurrentEvent) -> Caller:
    """The authenticated caller of the request being handled (Forbidden when the authorizer left no context)."""
    caller = caller_from_event(app.current_event.raw_event)
    if caller is None:
        raise Forbidden("This endpoint needs an API key")
    return caller


def etag(version: int) -> str:
    """The ETag of a versioned resource: its version, quoted (`"3"`)."""
    return f'"{version}"'


def expected_version(app: _HasCurrentEvent) -> int:
    """The version a write expects, from the request's `If-Match` header (see `version_from_if_match`)."""
    return version_from_if_match(app.current_event.headers.get("if-match"))


IF_MATCH = "If-Match"
_ETAG_VERSION = re.compile(r"[0-9]{1,12}")


def if_match_missing() -> PreconditionRequired:
    return PreconditionRequired("Send If-Match with the ETag you last read to change or delete this resource")


def version_from_if_match(value: str | None) -> int:
    """The version in an `If-Match` value (`"3"`, `W/"3"` or `3`); 428 when missing, 400 when malformed."""
    if value is None or not value.strip():
        raise if_match_missing()
    text = value.strip().removeprefix("W/").strip('"')
    if not _ETAG_VERSION.fullmatch(text):  # str.isdigit() would take "²" and "١", which int() then refuses
        raise InvalidInput(
            f'If-Match must be an ETag this API returned, like "3"; got {value[:40]!r}',
            [{"loc": ["header", "If-Match"], "msg": "not an ETag of this API", "type": "etag"}],
        )
    return int(text)
