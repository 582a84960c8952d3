"""Real HTTP against `vpbx serve`: auth, tenants and keys, error shapes, docs — and template/access-table agreement."""

from typing import Any

import pytest
import requests
from vpbx.api.context import ROUTE_ROLES
from vpbx.local.template import local_api

from tests.e2e.conftest import LocalServer

pytestmark = pytest.mark.e2e
TIMEOUT = 30


def test_every_template_route_has_an_access_rule_and_back() -> None:
    template_routes = {(route.method, route.resource) for route in local_api().routes}
    assert template_routes == set(ROUTE_ROLES) - {(method, path) for method, path in ROUTE_ROLES if method == "PATCH"}
    public = {(route.method, route.resource) for route in local_api().routes if route.public}
    assert public == {key for key, roles in ROUTE_ROLES.items() if not roles}


def test_template_event_names_are_valid_logical_ids() -> None:
    # SAM turns "<Function><Event>" into resource ids, which must be alphanumeric (cfn-lint does not check this).
    resources = local_api().template["Resources"]
    names = [
        f"{logical_id}{event}"
        for logical_id, resource in resources.items()
        for event in ((resource.get("Properties") or {}).get("Events") or {})
    ]
    assert names
    assert [name for name in names if not name.isalnum()] == []


def api(server: LocalServer, method: str, path: str, key: str | None, **kwargs: Any) -> requests.Response:
    headers = {"X-Api-Key": key} if key else {}
    headers |= kwargs.pop("headers", {})
    return requests.request(method, server.base_url + path, headers=headers, timeout=TIMEOUT, **kwargs)


def error_code(response: requests.Response) -> str:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    return str(body["error"]["code"])


def new_tenant(server: LocalServer, tenant_id: str) -> dict[str, Any]:
    response = api(server, "POST", "/v1/tenants", server.operator_key, json={"name": tenant_id, "id": tenant_id})
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_printed_demo_admin_key_works(local_server: LocalServer) -> None:
    response = api(local_server, "GET", f"/v1/tenants/{local_server.demo_tenant}", local_server.demo_admin_key)
    assert response.status_code == 200
    assert response.json()["id"] == local_server.demo_tenant
    assert any("curl" in line for line in local_server.output)


def test_operator_creates_a_tenant_whose_admin_key_works(local_server: LocalServer) -> None:
    created = new_tenant(local_server, "e2e-acme")
    assert created["admin_key"]["secret"].startswith("vpbx_")
    own = api(local_server, "GET", "/v1/tenants/e2e-acme", created["admin_key"]["secret"])
    assert own.status_code == 200
    assert own.json()["name"] == "e2e-acme"


def test_missing_and_unknown_keys_are_401(local_server: LocalServer) -> None:
    missing = api(local_server, "GET", "/v1/tenants/demo", None)
    unknown = api(local_server, "GET", "/v1/tenants/demo", "vpbx_nobody_issued_this")
    for response in (missing, unknown):
        assert response.status_code == 401
        assert error_code(response) == "unauthorized"


def test_created_key_works_until_revoked_then_403(local_server: LocalServer) -> None:
    tenant = new_tenant(local_server, "e2e-revoke")
    admin_key = tenant["admin_key"]["secret"]
    created = api(local_server, "POST", "/v1/tenants/e2e-revoke/keys", admin_key, json={"role": "viewer"})
    assert created.status_code == 201
    viewer = created.json()
    assert api(local_server, "GET", "/v1/subscribers", viewer["secret"]).status_code == 200
    revoked = api(local_server, "DELETE", f"/v1/tenants/e2e-revoke/keys/{viewer['id']}", admin_key)
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    after = api(local_server, "GET", "/v1/subscribers", viewer["secret"])
    assert after.status_code == 403
    assert error_code(after) == "forbidden"


def test_another_tenant_is_404(local_server: LocalServer) -> None:
    first, _ = new_tenant(local_server, "e2e-first"), new_tenant(local_server, "e2e-second")
    response = api(local_server, "GET", "/v1/tenants/e2e-second", first["admin_key"]["secret"])
    assert response.status_code == 404
    assert error_code(response) == "not_found"


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b'{"name": ', {}, 400, "invalid_json"),
        (b'{"name": "\xff\xfe"}', {}, 400, "invalid_body"),
        (b'{"name": "A", "owner": "me"}', {}, 422, "validation_error"),
        (b'{"name": "A"}', {"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
        (b"[" * 10_000 + b"]" * 10_000, {}, 400, "invalid_json"),
        (b'{"name": "' + b"x" * 600_000 + b'"}', {}, 413, "payload_too_large"),
    ],
)
def test_bad_bodies_get_the_error_shape(
    local_server: LocalServer, body: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    sent_headers = {"Content-Type": "application/json"} | headers
    response = api(local_server, "POST", "/v1/tenants", local_server.operator_key, data=body, headers=sent_headers)
    assert response.status_code == status, response.text
    assert error_code(response) == code
    assert "Traceback" not in response.text


def test_unknown_route_is_404_and_wrong_method_is_405(local_server: LocalServer) -> None:
    missing = api(local_server, "GET", "/v1/no-such-thing", local_server.operator_key)
    assert missing.status_code == 404
    assert error_code(missing) == "not_found"
    wrong = api(local_server, "PATCH", "/v1/tenants", local_server.operator_key)
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "POST"


def test_openapi_and_swagger_ui_are_served_without_a_key(local_server: LocalServer) -> None:
    spec = api(local_server, "GET", "/v1/openapi.json", None)
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert {"/v1/tenants", "/v1/tenants/{tenant_id}/keys", "/v1/subscribers"} <= set(paths)
    docs = api(local_server, "GET", "/v1/docs", None)
    assert docs.status_code == 200
    assert docs.headers["Content-Type"].startswith("text/html")
    assert "SwaggerUIBundle" in docs.text
