"""A real-HTTP sample of the BOLA matrix against `vpbx serve`: one probe per id-bearing route, from each of two
tenants at the other's objects, with the victim's tenant id smuggled in a header → all 404 (a `tenant_id` query
parameter is refused as unknown, tests/security/test_bola.py)."""

import pytest

from tests.e2e.conftest import LocalServer
from tests.security.figures import report
from tests.security.harness import HttpApi, build_world
from tests.security.inventory import ROUTE_CLASSES, concrete_path, route_key, template_routes

pytestmark = pytest.mark.e2e


def test_foreign_objects_are_404_over_real_http(local_server: LocalServer) -> None:
    api = HttpApi(local_server.base_url, local_server.operator_key)
    first, second = build_world(api, 1), build_world(api, 2)
    statuses: dict[int, int] = {}
    wrong: list[str] = []
    for attacker, victim in ((first, second), (second, first)):
        for route in template_routes():
            route_class = ROUTE_CLASSES[route_key(route)]
            if route_class.kind != "object":
                continue
            path = concrete_path(route.resource, victim, 1)
            headers = {"X-Tenant-Id": victim.tenant_id, "If-Match": '"1"'}
            body = route_class.body(attacker, 1) if route_class.body else None
            response = api.request(route.method, path, attacker.keys[route_class.probe_role], body, headers=headers)
            statuses[response.status] = statuses.get(response.status, 0) + 1
            if response.status != 404 or response.error_code() != "not_found":
                wrong.append(f"{route.method} {path}: {response.status} {response.text[:200]}")
    probes = sum(statuses.values())
    report(f"BOLA over HTTP (vpbx serve): {probes} probes, {statuses.get(404, 0)} x 404")
    assert wrong == []
    assert probes >= 50
