"""Webhook routes in-process through the local gateway on a moto table: CRUD with ETags, roles, another tenant's
webhook, the per-tenant limit (also under concurrent creates), URL checks and the 4xx shapes."""

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from vpbx.domain.webhooks import MAX_WEBHOOKS_PER_TENANT

from tests.security.harness import ApiResponse, InProcessApi, in_process_api

HOOK = {"url": "https://hooks.example.com/vpbx", "events": ["call.started", "call.answered"]}


@dataclass
class Tenant:
    tenant_id: str
    keys: dict[str, str]


@pytest.fixture(scope="module")
def api(moto_server: str) -> Iterator[InProcessApi]:
    with in_process_api(moto_server) as built:
        yield built


def new_tenant(api: InProcessApi) -> Tenant:
    tenant_id = f"wh-{uuid.uuid4().hex[:8]}"
    created = api.request("POST", "/v1/tenants", api.operator_key, {"id": tenant_id, "name": "Hooks"})
    assert created.status == 201, created.text
    keys = {"admin": created.json()["admin_key"]["secret"]}
    for role in ("editor", "viewer", "telephony"):
        issued = api.request("POST", f"/v1/tenants/{tenant_id}/keys", keys["admin"], {"role": role, "name": role})
        keys[role] = issued.json()["secret"]
    return Tenant(tenant_id, keys)


@pytest.fixture
def tenant(api: InProcessApi) -> Tenant:
    return new_tenant(api)


def create(api: InProcessApi, tenant: Tenant, body: dict[str, object] | None = None) -> ApiResponse:
    return api.request("POST", "/v1/webhooks", tenant.keys["admin"], body or HOOK)


def test_create_shows_the_secret_once_and_never_again(api: InProcessApi, tenant: Tenant) -> None:
    created = create(api, tenant, {**HOOK, "description": "CRM"})
    assert created.status == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert len(body["secret"]) > 40
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"] == f"/v1/webhooks/{body['id']}"
    assert body["events"] == HOOK["events"]
    assert body["enabled"] is True
    assert body["description"] == "CRM"

    got = api.request("GET", f"/v1/webhooks/{body['id']}", tenant.keys["admin"])
    listed = api.request("GET", "/v1/webhooks", tenant.keys["admin"])
    assert got.status == 200
    assert "secret" not in got.json()
    assert [item["id"] for item in listed.json()["items"]] == [body["id"]]
    for response in (got, listed):
        assert body["secret"] not in response.text


def test_replace_and_delete_need_the_current_etag(api: InProcessApi, tenant: Tenant) -> None:
    hook = create(api, tenant).json()
    path = f"/v1/webhooks/{hook['id']}"
    replacement = {**HOOK, "events": ["call.completed"], "enabled": False}
    missing = api.request("PUT", path, tenant.keys["admin"], replacement)
    assert missing.status == 428
    assert missing.error_code() == "precondition_required"
    replaced = api.request("PUT", path, tenant.keys["admin"], replacement, headers={"If-Match": '"1"'})
    assert replaced.status == 200, replaced.text
    assert replaced.json()["events"] == ["call.completed"]
    assert replaced.json()["enabled"] is False
    assert replaced.headers["etag"] == '"2"'
    stale = api.request("DELETE", path, tenant.keys["admin"], headers={"If-Match": '"1"'})
    assert stale.status == 412
    assert stale.error_code() == "precondition_failed"
    assert api.request("DELETE", path, tenant.keys["admin"], headers={"If-Match": '"2"'}).status == 204
    assert api.request("GET", path, tenant.keys["admin"]).status == 404


def test_rotation_returns_a_new_secret_once(api: InProcessApi, tenant: Tenant) -> None:
    hook = create(api, tenant).json()
    rotated = api.request(
        "POST", f"/v1/webhooks/{hook['id']}/rotate-secret", tenant.keys["admin"], headers={"If-Match": '"1"'}
    )
    assert rotated.status == 200, rotated.text
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != hook["secret"]
    assert rotated.headers["etag"] == '"2"'
    targets = api.repository.webhook_targets(tenant.tenant_id)
    assert targets[0][1].current == rotated.json()["secret"]
    assert targets[0][1].previous == hook["secret"]


@pytest.mark.parametrize("role", ["editor", "viewer", "telephony"])
def test_only_admins_may_touch_webhooks(api: InProcessApi, tenant: Tenant, role: str) -> None:
    hook = create(api, tenant).json()
    key = tenant.keys[role]
    for method, path, body in [
        ("GET", "/v1/webhooks", None),
        ("POST", "/v1/webhooks", HOOK),
        ("GET", f"/v1/webhooks/{hook['id']}", None),
        ("GET", f"/v1/webhooks/{hook['id']}/deliveries", None),
        ("POST", f"/v1/webhooks/{hook['id']}/test", None),
    ]:
        response = api.request(method, path, key, body)
        assert response.status == 403, (method, path, response.text)
        assert response.error_code() == "forbidden"


def test_another_tenants_webhook_is_404_and_unchanged(api: InProcessApi, tenant: Tenant) -> None:
    hook = create(api, tenant).json()
    intruder = new_tenant(api)
    for method, suffix in [
        ("GET", ""),
        ("PUT", ""),
        ("DELETE", ""),
        ("POST", "/rotate-secret"),
        ("GET", "/deliveries"),
        ("POST", "/test"),
    ]:
        body = HOOK if method == "PUT" else None
        response = api.request(
            method, f"/v1/webhooks/{hook['id']}{suffix}", intruder.keys["admin"], body, headers={"If-Match": '"1"'}
        )
        assert response.status == 404, (method, suffix, response.text)
        assert response.error_code() == "not_found"
    assert api.request("GET", "/v1/webhooks", intruder.keys["admin"]).json()["items"] == []
    assert api.request("GET", f"/v1/webhooks/{hook['id']}", tenant.keys["admin"]).headers["etag"] == '"1"'


def test_at_most_ten_webhooks_per_tenant(api: InProcessApi, tenant: Tenant) -> None:
    ids = [create(api, tenant).json()["id"] for _ in range(MAX_WEBHOOKS_PER_TENANT)]
    refused = create(api, tenant)
    assert refused.status == 409, refused.text
    assert refused.error_code() == "limit_exceeded"
    assert api.request("DELETE", f"/v1/webhooks/{ids[0]}", tenant.keys["admin"], headers={"If-Match": '"1"'}).status
    assert create(api, tenant).status == 201


def test_concurrent_creates_never_pass_the_limit(api: InProcessApi, tenant: Tenant) -> None:
    """The count item moves in the same transaction as each create (remove it from create_webhook's transaction
    and this fails: the Query-less count check is all that stops the 11th)."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: create(api, tenant).status, range(16)))
    assert statuses.count(201) == MAX_WEBHOOKS_PER_TENANT, statuses
    assert set(statuses) == {201, 409}
    listed = api.request("GET", "/v1/webhooks?limit=100", tenant.keys["admin"]).json()["items"]
    assert len(listed) == MAX_WEBHOOKS_PER_TENANT


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://hooks.example.com/x", "https"),
        ("https://127.0.0.1/x", "not a public address"),
        ("https://10.1.2.3/x", "not a public address"),
        ("https://169.254.169.254/latest", "not a public address"),
        ("https://[::1]/x", "not a public address"),
        ("https://[::ffff:10.0.0.1]/x", "not a public address"),
        ("https://localhost:8443/x", "not a public host"),
        ("https://printer.local/x", "not a public host"),
        ("https://user:pw@hooks.example.com/x", "credentials"),
        ("https://hooks.example.com:99999/x", "valid URL"),
        ("https:///x", "host"),
    ],
)
def test_urls_that_may_not_receive_webhooks_are_422(api: InProcessApi, tenant: Tenant, url: str, why: str) -> None:
    response = create(api, tenant, {**HOOK, "url": url})
    assert response.status == 422, response.text
    assert response.error_code() == "validation_error"
    detail = response.json()["error"]["details"][0]
    assert detail["loc"] == ["body", "url"]
    assert why in detail["msg"]


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://hooks.example.com/x", "events": []},
        {"url": "https://hooks.example.com/x", "events": ["call.exploded"]},
        {"url": "https://hooks.example.com/x", "events": ["call.started"], "secret": "mine"},
        {"events": ["call.started"]},
        {"url": "https://hooks.example.com/x", "events": ["call.started"], "enabled": "yes"},
    ],
)
def test_bad_bodies_are_422_in_the_error_shape(api: InProcessApi, tenant: Tenant, body: dict[str, object]) -> None:
    response = create(api, tenant, body)
    assert response.status == 422, response.text
    assert response.error_code() == "validation_error"
    assert all(detail["loc"][0] == "body" for detail in response.json()["error"]["details"])


def test_malformed_ids_and_unknown_query_parameters_are_4xx(api: InProcessApi, tenant: Tenant) -> None:
    assert api.request("GET", "/v1/webhooks/not-a-hook", tenant.keys["admin"]).status == 422
    assert api.request("GET", "/v1/webhooks/wh-000000000000", tenant.keys["admin"]).status == 404
    unknown = api.request("GET", "/v1/webhooks?tenant_id=x", tenant.keys["admin"])
    assert unknown.status == 400
    assert unknown.error_code() == "invalid_input"


def test_deliveries_of_a_new_webhook_are_an_empty_page(api: InProcessApi, tenant: Tenant) -> None:
    hook = create(api, tenant).json()
    page = api.request("GET", f"/v1/webhooks/{hook['id']}/deliveries?limit=5", tenant.keys["admin"])
    assert page.status == 200
    assert page.json() == {"items": [], "next_cursor": None}
