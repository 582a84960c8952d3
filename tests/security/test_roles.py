"""Role matrix over every template route × every role, against a policy written here from DESIGN.md (not read from
the access table it checks): viewers never write, telephony reaches only the call endpoints (and agents' pause),
editors cannot manage keys, operator-only routes refuse tenant keys, the operator does not touch tenant data, revoked
keys are refused.

Probes aim at the caller's own tenant with valid bodies and no If-Match, so an allowed write stops at 428 (or
creates a fresh object) and a refusal can only come from the role.
"""

import itertools
import uuid
from typing import Any

import pytest

from tests.security.figures import report
from tests.security.harness import ApiResponse, InProcessApi, World, build_world, path_number, seed_scenario
from tests.security.inventory import ROUTE_CLASSES, concrete_path, route_key, template_routes

ALL_ROLES = ("operator", "admin", "editor", "viewer", "telephony")
TELEPHONY_ROUTES = {("POST", "/v1/calls"), ("POST", "/v1/calls/{call_id}/events")}
AGENT_ROUTES = {  # issue 14: agents pause themselves with a feature code on their phone, staff pause them too
    ("POST", "/v1/queues/{queue_id}/members/{extension}/pause"),
    ("POST", "/v1/queues/{queue_id}/members/{extension}/unpause"),
}
READ_ONLY_POSTS = ("/validate", "/simulate", "/preview")


def policy_allows(role: str, method: str, resource: str) -> bool:
    """What each role may do, from DESIGN.md §4 and issue 5 — independent of vpbx.api.context.ROUTE_ROLES."""
    if ROUTE_CLASSES[(method, resource)].kind == "public":
        return True
    if (method, resource) in TELEPHONY_ROUTES:
        return role == "telephony"
    if (method, resource) in AGENT_ROUTES:
        return role in {"telephony", "admin", "editor"}
    if role == "telephony":
        return False
    if resource == "/v1/tenants":
        return role == "operator"
    if resource.startswith("/v1/tenants/"):
        return role in {"operator", "admin"}
    if role == "operator":
        return False
    if resource.startswith("/v1/webhooks"):  # a signing secret and call data leaving the platform: admins only
        return role == "admin"
    if role == "viewer":
        return method == "GET" or resource.endswith(READ_ONLY_POSTS)
    return role in {"admin", "editor"}


@pytest.fixture(scope="module")
def world(api: InProcessApi) -> World:
    built = build_world(api, 7)
    built.keys["operator"] = api.operator_key
    return built


def fresh_body(method: str, resource: str, world: World) -> Any:
    """A valid body for a route, unique where the route creates something."""
    unique = uuid.uuid4().hex[:8]
    creates: dict[tuple[str, str], Any] = {
        ("POST", "/v1/tenants"): {"id": f"role-{unique}", "name": "Role probe"},
        ("POST", "/v1/tenants/{tenant_id}/keys"): {"role": "viewer", "name": "role probe"},
        ("POST", "/v1/subscribers"): {"extension": str(int(unique, 16) % 900_000 + 100_000), "name": "Probe"},
        ("POST", "/v1/numbers"): {"number": f"+7495{int(unique, 16) % 10**7:07d}"},
        ("POST", "/v1/schedules"): {"id": f"s-{unique}", "name": "S", "timezone": "UTC"},
        ("POST", "/v1/caller-lists"): {"id": f"l-{unique}", "name": "L"},
        ("POST", "/v1/queues"): {"id": f"q-{unique}", "name": "Q", "members": [{"extension": world.extensions[0]}]},
        ("POST", "/v1/scenarios"): {"id": f"sc-{unique}", **seed_scenario(world.extensions[0], world.extensions[1])},
        ("POST", "/v1/calls"): {"call_id": f"role-{unique}", "from": "+79161234567", "to": world.numbers[0]},
        ("POST", "/v1/calls/{call_id}/events"): {"seq": 99, "outcome": "no_answer"},  # stale: 409, no advance
        ("POST", "/v1/scenarios/{scenario_id}/rollback"): {"version": 1},
        ("POST", "/v1/scenarios/{scenario_id}/simulate"): {},
        ("POST", "/v1/scenarios/{scenario_id}/preview"): {},
        ("PUT", "/v1/subscribers/{extension}"): {"name": "Renamed"},
        ("PUT", "/v1/numbers/{number}"): {"label": "relabelled"},
        ("PUT", "/v1/schedules/{schedule_id}"): {"name": "S", "timezone": "UTC"},
        ("PUT", "/v1/caller-lists/{list_id}"): {"name": "L"},
        ("PUT", "/v1/queues/{queue_id}"): {"name": "Q"},
        ("PUT", "/v1/scenarios/{scenario_id}"): seed_scenario(world.extensions[0], world.extensions[1]),
        ("POST", "/v1/webhooks"): {"url": f"https://{unique}.invalid/hook", "events": ["call.started"]},
        ("PUT", "/v1/webhooks/{webhook_id}"): {"url": "https://renamed.invalid/hook", "events": ["call.started"]},
    }
    return creates.get((method, resource))


def probe_path(method: str, resource: str, world: World) -> str:
    if (method, resource) == ("DELETE", "/v1/tenants/{tenant_id}/keys/{key_id}"):
        return f"/v1/tenants/{world.tenant_id}/keys/k0000000000000000"  # nobody's key: 404 when allowed
    return concrete_path(resource, world, 0)


def is_refusal(response: ApiResponse) -> bool:
    return response.status == 403 and response.error_code() == "forbidden"


def test_every_role_on_every_route_matches_the_policy(api: InProcessApi, world: World) -> None:
    mismatches: list[str] = []
    allowed = refused = 0
    for route, role in itertools.product(template_routes(), ALL_ROLES):
        method, resource = route_key(route)
        response = api.request(
            method, probe_path(method, resource, world), world.keys[role], fresh_body(method, resource, world)
        )
        expected = policy_allows(role, method, resource)
        if expected:
            allowed += 1
            if response.status in {401, 403} or response.status >= 500:
                mismatches.append(f"{role} refused on {method} {resource}: {response.status} {response.text[:200]}")
        else:
            refused += 1
            if not is_refusal(response):
                mismatches.append(f"{role} NOT refused on {method} {resource}: {response.status} {response.text[:200]}")
    probes = allowed + refused
    report(
        f"Roles: {probes} probes ({len(ALL_ROLES)} roles x {probes // len(ALL_ROLES)} routes), "
        f"{allowed} allowed, {refused} x 403, {len(mismatches)} mismatches"
    )
    assert mismatches == []
    assert probes == len(ALL_ROLES) * len(template_routes())


def test_revoked_and_unknown_keys_are_refused_everywhere(api: InProcessApi, world: World) -> None:
    spare = api.request("POST", f"/v1/tenants/{world.tenant_id}/keys", world.keys["admin"], {"role": "admin"})
    assert spare.status == 201, spare.text
    secret, key_id = spare.json()["secret"], spare.json()["id"]
    assert api.request("GET", f"/v1/tenants/{world.tenant_id}", secret).status == 200
    revoked = api.request("DELETE", f"/v1/tenants/{world.tenant_id}/keys/{key_id}", world.keys["admin"])
    assert revoked.status == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    statuses: dict[str, set[int]] = {"revoked": set(), "unknown": set(), "missing": set()}
    secured = [route for route in template_routes() if not route.public]
    for route in secured:
        method, resource = route_key(route)
        path = probe_path(method, resource, world)
        body = fresh_body(method, resource, world)
        for label, key in (("revoked", secret), ("unknown", "vpbx_" + "x" * 43), ("missing", None)):
            response = api.request(method, path, key, body)
            statuses[label].add(response.status)
            assert response.error_code() in {"forbidden", "unauthorized"}, (label, method, path, response.text)
    report(
        f"Revoked/unknown/missing keys: {3 * len(secured)} probes on {len(secured)} secured routes, "
        f"revoked → {sorted(statuses['revoked'])}, unknown → {sorted(statuses['unknown'])}, "
        f"missing → {sorted(statuses['missing'])}"
    )
    assert statuses == {"revoked": {403}, "unknown": {401}, "missing": {401}}


def test_a_tenant_admin_cannot_mint_an_operator_key_or_a_key_elsewhere(api: InProcessApi, world: World) -> None:
    admin = world.keys["admin"]
    before = api.request("GET", f"/v1/tenants/{world.tenant_id}/keys?limit=100", admin).json()["items"]
    escalation = api.request("POST", f"/v1/tenants/{world.tenant_id}/keys", admin, {"role": "operator"})
    platform = api.request("POST", "/v1/tenants/_platform/keys", admin, {"role": "operator"})
    assert 400 <= escalation.status < 500
    assert escalation.error_code() in {"invalid_input", "validation_error"}
    assert platform.status == 404
    assert api.request("GET", f"/v1/tenants/{world.tenant_id}/keys?limit=100", admin).json()["items"] == before


def test_number_path_encodings_do_not_escape_the_tenant(api: InProcessApi, world: World) -> None:
    other = build_world(api, 8)
    for spelled in (path_number(other.numbers[0]), other.numbers[0], other.numbers[0].lstrip("+")):
        response = api.request("GET", f"/v1/numbers/{spelled}", world.keys["viewer"])
        assert response.status in {400, 404}, (spelled, response.text)
        assert other.scenarios[0] not in response.text
