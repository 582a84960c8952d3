"""Broken object-level authorization matrix, generated from template.yaml's routes (in-process, moto DynamoDB).

Three tenants with five objects of every kind; each tenant's key (of the least role the route admits) aims every
id-bearing route at every object of the other tenants → always 404 in the error shape, and the table is byte-for-byte
unchanged afterwards. Every probe also smuggles the victim's tenant id in an `X-Tenant-Id` header, which must change
nothing; a `tenant_id` query parameter is refused (400, unknown query parameter) on every route before it runs.
Every list, paged two rows at a time, shows only the caller's rows.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.security.figures import report
from tests.security.harness import OBJECTS_PER_KIND, ApiResponse, InProcessApi, World, build_world
from tests.security.inventory import (
    PATH_PARAMETERS,
    ROUTE_CLASSES,
    concrete_path,
    names_only_the_tenant,
    path_parameter_names,
    route_key,
    template_routes,
)

TENANTS = 3
MIN_PROBES = 300


@pytest.fixture(scope="module")
def worlds(api: InProcessApi) -> list[World]:
    return [build_world(api, index) for index in range(1, TENANTS + 1)]


@dataclass(frozen=True)
class Probe:
    method: str
    resource: str
    path: str
    attacker: World
    victim: World
    role: str
    body: Any
    if_match: str | None


def snapshot(api: InProcessApi) -> list[str]:
    return sorted(json.dumps(item, sort_keys=True, default=str) for item in api.items())


def send(api: InProcessApi, probe: Probe) -> ApiResponse:
    headers = {"X-Tenant-Id": probe.victim.tenant_id}
    if probe.if_match is not None:
        headers["If-Match"] = probe.if_match
    return api.request(
        probe.method,
        probe.path,
        probe.attacker.keys[probe.role],
        probe.body,
        headers=headers,
    )


def victims_of(attacker: World, worlds: list[World]) -> list[World]:
    return [world for world in worlds if world is not attacker]


def etag_of(api: InProcessApi, resource: str, victim: World, n: int) -> str:
    """The victim's current ETag of the object a write names (publish/rollback: the draft's; rotate: the webhook's)."""
    base = resource.removesuffix("/publish").removesuffix("/rollback").removesuffix("/rotate-secret")
    response = api.request("GET", concrete_path(base, victim, n), victim.keys["admin"])
    assert response.status == 200, response.text
    return response.headers["etag"]


def object_probes(api: InProcessApi, worlds: list[World]) -> Iterator[Probe]:
    for route in template_routes():
        route_class = ROUTE_CLASSES[route_key(route)]
        if route_class.kind != "object":
            continue
        for attacker in worlds:
            others = victims_of(attacker, worlds)
            targets = (
                [(victim, 0) for victim in others]
                if names_only_the_tenant(route.resource)
                else [(others[n % len(others)], n) for n in range(OBJECTS_PER_KIND)]
            )
            for victim, n in targets:
                body = route_class.body(attacker, n) if route_class.body else None
                etag = etag_of(api, route.resource, victim, n) if route_class.if_match else None
                path = concrete_path(route.resource, victim, n)
                yield Probe(route.method, route.resource, path, attacker, victim, route_class.probe_role, body, etag)


def mixed_key_probes(worlds: list[World]) -> Iterator[Probe]:
    """Own tenant in the path, another tenant's key id after it: still 404, the key stays active."""
    for attacker in worlds:
        others = victims_of(attacker, worlds)
        for n in range(OBJECTS_PER_KIND):
            victim = others[n % len(others)]
            path = f"/v1/tenants/{attacker.tenant_id}/keys/{victim.key_ids[n]}"
            yield Probe("DELETE", "/v1/tenants/{tenant_id}/keys/{key_id}", path, attacker, victim, "admin", None, None)


def foreign_number_call_probes(worlds: list[World]) -> Iterator[Probe]:
    """Telephony of one tenant starting a call to another tenant's number (the object named in the body)."""
    for attacker in worlds:
        others = victims_of(attacker, worlds)
        for n in range(OBJECTS_PER_KIND):
            victim = others[n % len(others)]
            body = {"call_id": f"bola-{attacker.tenant_id}-{n}", "from": "+79161234567", "to": victim.numbers[n]}
            yield Probe("POST", "/v1/calls", "/v1/calls", attacker, victim, "telephony", body, None)


def test_every_template_route_is_classified() -> None:
    routes = {route_key(route) for route in template_routes()}
    unclassified = sorted(routes - set(ROUTE_CLASSES))
    stale = sorted(set(ROUTE_CLASSES) - routes)
    assert unclassified == [], f"routes without security-matrix coverage: {unclassified}"
    assert stale == [], f"classified routes the template no longer has: {stale}"
    unknown_parameters = {
        name
        for route in template_routes()
        for name in path_parameter_names(route.resource)
        if name not in PATH_PARAMETERS
    }
    assert unknown_parameters == set()
    public = {route_key(route) for route in template_routes() if route.public}
    assert public == {key for key, route_class in ROUTE_CLASSES.items() if route_class.kind == "public"}


def test_another_tenants_objects_are_404_on_every_route_and_nothing_changes(
    api: InProcessApi, worlds: list[World]
) -> None:
    before = snapshot(api)
    probes = [*object_probes(api, worlds), *mixed_key_probes(worlds), *foreign_number_call_probes(worlds)]
    outcomes: dict[int, int] = {}
    wrong: list[str] = []
    for probe in probes:
        response = send(api, probe)
        outcomes[response.status] = outcomes.get(response.status, 0) + 1
        if response.status != 404 or response.error_code() != "not_found":
            wrong.append(f"{probe.method} {probe.path} as {probe.role}@{probe.attacker.tenant_id}: {response.text}")
    after = snapshot(api)
    routes = {(probe.method, probe.resource) for probe in probes}
    report(
        f"BOLA: {len(probes)} probes over {len(routes)} routes x {TENANTS} tenants, "
        f"{outcomes.get(404, 0)} x 404, {len(probes) - outcomes.get(404, 0)} other, "
        f"table items changed: {len(set(before) ^ set(after))}"
    )
    assert len(probes) >= MIN_PROBES
    assert wrong == []
    assert outcomes == {404: len(probes)}
    assert after == before


def rows_of(api: InProcessApi, path: str, world: World, victim: World) -> list[dict[str, Any]]:
    """Every row of a listing, two per page, with the victim's id smuggled into every request."""
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(50):
        query = f"{path}?limit=2" + (f"&cursor={cursor}" if cursor else "")
        headers = {"X-Tenant-Id": victim.tenant_id}
        admin_only = "/tenants/" in path or path.startswith("/v1/webhooks")
        response = api.request("GET", query, world.keys["admin" if admin_only else "viewer"], headers=headers)
        assert response.status == 200, response.text
        page = response.json()
        rows.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return rows
    raise AssertionError(f"{path} never ran out of pages")


def identity(row: dict[str, Any]) -> str:
    for field in ("call_id", "extension", "number", "id"):
        if field in row:
            return str(row[field])
    return str(row.get("version"))


def test_lists_show_only_the_callers_rows(api: InProcessApi, worlds: list[World]) -> None:
    list_paths = [route.resource for route in template_routes() if ROUTE_CLASSES[route_key(route)].kind == "list"]
    expected_counts = {
        "/v1/subscribers": OBJECTS_PER_KIND,
        "/v1/numbers": OBJECTS_PER_KIND,
        "/v1/schedules": OBJECTS_PER_KIND,
        "/v1/caller-lists": OBJECTS_PER_KIND,
        "/v1/queues": OBJECTS_PER_KIND,
        "/v1/scenarios": OBJECTS_PER_KIND,
        "/v1/calls": OBJECTS_PER_KIND,
        "/v1/webhooks": OBJECTS_PER_KIND,
    }
    assert set(list_paths) == set(expected_counts)
    total = foreign = 0
    for world in worlds:
        victim = victims_of(world, worlds)[0]
        foreign_ids = set().union(*(other.own_ids() for other in victims_of(world, worlds)))
        listings = {path: expected_counts[path] for path in list_paths}
        listings[f"/v1/tenants/{world.tenant_id}/keys"] = len(world.key_ids)
        listings[f"/v1/scenarios/{world.scenarios[0]}/versions"] = 1
        for path, expected in listings.items():
            rows = rows_of(api, path, world, victim)
            total += len(rows)
            strangers = [
                row
                for row in rows
                if identity(row) in foreign_ids or row.get("tenant_id", world.tenant_id) != world.tenant_id
            ]
            foreign += len(strangers)
            assert len(rows) == expected, (path, rows)
            assert {identity(row) for row in rows} <= world.own_ids() | {"1"}
    report(
        f"BOLA lists: {len(worlds)} tenants x {len(listings)} listings, {total} rows read in pages of 2, "
        f"{foreign} foreign rows"
    )
    assert foreign == 0


def test_a_cursor_from_another_tenant_reads_nothing(api: InProcessApi, worlds: list[World]) -> None:
    owner, thief = worlds[0], worlds[1]
    first = api.request("GET", "/v1/subscribers?limit=2", owner.keys["viewer"]).json()
    assert first["next_cursor"]
    stolen = api.request("GET", f"/v1/subscribers?limit=2&cursor={first['next_cursor']}", thief.keys["viewer"])
    assert 400 <= stolen.status < 500
    assert stolen.error_code() in {"invalid_input", "validation_error", "bad_request"}
    assert owner.extensions[2] not in stolen.text


def test_tenant_id_in_a_body_is_rejected_never_obeyed(api: InProcessApi, worlds: list[World]) -> None:
    attacker, victim = worlds[0], worlds[1]
    before = snapshot(api)
    smuggling = [
        ("POST", "/v1/subscribers", {"extension": "999", "name": "Mole", "tenant_id": victim.tenant_id}),
        ("PUT", f"/v1/subscribers/{attacker.extensions[4]}", {"name": "Mole", "tenant_id": victim.tenant_id}),
        ("POST", "/v1/schedules", {"name": "S", "timezone": "UTC", "tenant_id": victim.tenant_id}),
        ("POST", "/v1/caller-lists", {"name": "L", "tenantId": victim.tenant_id}),
        ("POST", "/v1/queues", {"name": "Q", "tenant_id": victim.tenant_id}),
        ("POST", "/v1/scenarios", {"id": "mole", "tenant_id": victim.tenant_id, **_tiny_scenario()}),
        ("POST", "/v1/numbers", {"number": "+74957770000", "tenant_id": victim.tenant_id}),
        ("POST", f"/v1/tenants/{attacker.tenant_id}/keys", {"role": "admin", "tenant_id": victim.tenant_id}),
    ]
    statuses = []
    for method, path, body in smuggling:
        key = attacker.keys["admin"]
        response = api.request(method, path, key, body, headers={"If-Match": '"1"', "X-Tenant-Id": victim.tenant_id})
        statuses.append(response.status)
        assert response.status == 422, (path, response.text)
        assert response.error_code() == "validation_error"
        locations = [" ".join(map(str, detail.get("loc", []))) for detail in response.json()["error"]["details"]]
        assert any("tenant" in location.lower() for location in locations), locations
    call = {"call_id": "mole-call", "from": "+7916", "to": victim.numbers[0], "tenant_id": attacker.tenant_id}
    response = api.request("POST", "/v1/calls", attacker.keys["telephony"], call)
    statuses.append(response.status)
    assert response.status == 422
    assert snapshot(api) == before
    report(f"BOLA body smuggling: {len(statuses)} bodies with a tenant id, all {set(statuses)}, table unchanged")


def test_tenant_id_in_the_query_is_refused_on_every_route(api: InProcessApi, worlds: list[World]) -> None:
    """Unknown query parameters are a 400 naming them, before the route runs: `?tenant_id=` is never obeyed."""
    attacker, victim = worlds[0], worlds[1]
    before = snapshot(api)
    probes = [probe for probe in object_probes(api, worlds) if probe.attacker is attacker and probe.victim is victim]
    own = {(probe.method, probe.resource): concrete_path(probe.resource, attacker, 0) for probe in probes}
    refused: list[str] = []
    for (method, resource), path in sorted(own.items()):
        key = attacker.keys[ROUTE_CLASSES[(method, resource)].probe_role]
        response = api.request(
            method, f"{path}?tenant_id={victim.tenant_id}", key, headers={"If-Match": '"1"'}, raw_body=b"{}"
        )
        assert response.status == 400, (method, path, response.text)
        assert response.error_code() == "invalid_input"
        assert response.json()["error"]["details"][0]["loc"] == ["query", "tenant_id"]
        refused.append(resource)
    assert snapshot(api) == before
    report(f"BOLA query smuggling: {len(refused)} routes with ?tenant_id=, all 400 unknown query parameter")
    assert len(refused) >= 20


def _tiny_scenario() -> dict[str, Any]:
    return {
        "name": "Tiny",
        "elements": [{"id": "start", "type": "incoming_call"}, {"id": "bye", "type": "hangup"}],
        "connections": [{"from": "start", "to": "bye"}],
    }
