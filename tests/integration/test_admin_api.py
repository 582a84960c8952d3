"""Tenants and keys through the admin Lambda handler, with API Gateway events, on a moto table from template.yaml."""

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from vpbx.domain.tenancy import OPERATOR_TENANT
from vpbx.service.keys import hash_secret
from vpbx.store.dynamodb import DynamoRepository

from tests.helpers.apigw import api_event, authorizer_context, lambda_context, response_header, response_json
from tests.helpers.functions import load_function

EVENTS = Path(__file__).resolve().parents[2] / "events"
OPERATOR = authorizer_context(OPERATOR_TENANT, key_id="kOperator", role="operator")


@pytest.fixture
def repository(handler_repository: DynamoRepository) -> DynamoRepository:
    """The handlers' repository on this module's table (instead of the contract tests' memory/DynamoDB pair)."""
    return handler_repository


def call(method: str, path: str, authorizer: dict[str, Any] | None, **kwargs: Any) -> dict[str, Any]:
    handler = load_function("AdminFunction").handler
    response: dict[str, Any] = handler(api_event(method, path, authorizer=authorizer, **kwargs), lambda_context())
    return response


def create_tenant(tenant_id: str) -> dict[str, Any]:
    response = call("POST", "/v1/tenants", OPERATOR, body={"name": f"Tenant {tenant_id}", "id": tenant_id})
    assert response["statusCode"] == 201, response["body"]
    return dict(response_json(response))


def admin_of(created: dict[str, Any]) -> dict[str, Any]:
    return authorizer_context(created["id"], key_id=created["admin_key"]["id"], role="admin")


def test_sample_event_creates_a_tenant(repository: DynamoRepository) -> None:
    event = json.loads((EVENTS / "admin_create_tenant.json").read_text())
    response = load_function("AdminFunction").handler(event, lambda_context())
    assert response["statusCode"] == 201
    body = response_json(response)
    assert body["id"] == "acme"
    assert body["sip_domain"] == "acme.sip.example.com"
    assert response_header(response, "Location") == "/v1/tenants/acme"


def test_first_admin_key_is_shown_once_and_stored_only_as_its_hash(
    repository: DynamoRepository, module_dynamo_table: tuple[str, str]
) -> None:
    created = create_tenant("acme")
    secret = created["admin_key"]["secret"]
    assert secret.startswith("vpbx_")
    assert len(secret) > 40
    stored = repository.find_api_key(hash_secret(secret))
    assert stored is not None
    assert (stored.tenant_id, stored.role) == ("acme", "admin")
    endpoint, table_name = module_dynamo_table
    client = boto3.client("dynamodb", endpoint_url=endpoint)
    everything = json.dumps(client.scan(TableName=table_name)["Items"])
    assert secret not in everything
    assert hash_secret(secret) in everything
    listed = call("GET", "/v1/tenants/acme/keys", admin_of(created))
    assert "secret" not in listed["body"]
    assert secret not in listed["body"]


def test_duplicate_tenant_id_is_409(repository: DynamoRepository) -> None:
    create_tenant("acme")
    response = call("POST", "/v1/tenants", OPERATOR, body={"name": "Again", "id": "acme"})
    assert response["statusCode"] == 409
    assert response_json(response)["error"]["code"] == "already_exists"


def test_tenant_admin_sees_its_tenant_and_another_is_404_like_a_missing_one(repository: DynamoRepository) -> None:
    acme, globex = create_tenant("acme"), create_tenant("globex")
    own = call("GET", "/v1/tenants/acme", admin_of(acme))
    assert own["statusCode"] == 200
    assert response_json(own)["id"] == "acme"
    other = call("GET", "/v1/tenants/globex", admin_of(acme))
    missing = call("GET", "/v1/tenants/nobody", admin_of(acme))
    assert other["statusCode"] == missing["statusCode"] == 404
    assert response_json(other)["error"]["code"] == response_json(missing)["error"]["code"] == "not_found"
    assert call("GET", "/v1/tenants/acme", admin_of(globex))["statusCode"] == 404


@pytest.mark.parametrize("role", ["editor", "viewer", "telephony"])
def test_non_admin_tenant_roles_cannot_touch_tenants_or_keys(repository: DynamoRepository, role: str) -> None:
    create_tenant("acme")
    caller = authorizer_context("acme", role=role)
    assert call("GET", "/v1/tenants/acme", caller)["statusCode"] == 403
    assert call("POST", "/v1/tenants/acme/keys", caller, body={"role": "viewer"})["statusCode"] == 403
    assert call("POST", "/v1/tenants", caller, body={"name": "x"})["statusCode"] == 403


def test_only_the_operator_creates_tenants(repository: DynamoRepository) -> None:
    acme = create_tenant("acme")
    response = call("POST", "/v1/tenants", admin_of(acme), body={"name": "Mine"})
    assert response["statusCode"] == 403
    assert response_json(response)["error"]["code"] == "forbidden"


def test_admin_creates_keys_for_its_own_tenant_only(repository: DynamoRepository) -> None:
    acme, _ = create_tenant("acme"), create_tenant("globex")
    created = call("POST", "/v1/tenants/acme/keys", admin_of(acme), body={"role": "telephony", "name": "switch"})
    assert created["statusCode"] == 201
    key = response_json(created)
    assert (key["tenant_id"], key["role"], key["name"], key["status"]) == ("acme", "telephony", "switch", "active")
    assert key["secret"].startswith(key["prefix"])
    foreign = call("POST", "/v1/tenants/globex/keys", admin_of(acme), body={"role": "viewer"})
    assert foreign["statusCode"] == 404
    escalate = call("POST", "/v1/tenants/acme/keys", admin_of(acme), body={"role": "operator"})
    assert escalate["statusCode"] == 400
    platform = call("POST", f"/v1/tenants/{OPERATOR_TENANT}/keys", admin_of(acme), body={"role": "operator"})
    assert platform["statusCode"] == 404


def test_operator_creates_operator_keys_and_tenant_keys(repository: DynamoRepository) -> None:
    create_tenant("acme")
    operator_key = call("POST", f"/v1/tenants/{OPERATOR_TENANT}/keys", OPERATOR, body={"role": "operator"})
    assert operator_key["statusCode"] == 201
    assert response_json(operator_key)["role"] == "operator"
    tenant_key = call("POST", "/v1/tenants/acme/keys", OPERATOR, body={"role": "editor"})
    assert tenant_key["statusCode"] == 201
    assert call("POST", "/v1/tenants/nobody/keys", OPERATOR, body={"role": "editor"})["statusCode"] == 404


def test_revoke_marks_the_key_revoked_and_is_tenant_scoped(repository: DynamoRepository) -> None:
    acme, globex = create_tenant("acme"), create_tenant("globex")
    viewer = response_json(call("POST", "/v1/tenants/acme/keys", admin_of(acme), body={"role": "viewer"}))
    path = f"/v1/tenants/acme/keys/{viewer['id']}"
    assert call("DELETE", path, admin_of(globex))["statusCode"] == 404
    revoked = call("DELETE", path, admin_of(acme))
    assert revoked["statusCode"] == 200
    assert response_json(revoked)["status"] == "revoked"
    stored = repository.find_api_key(hash_secret(viewer["secret"]))
    assert stored is not None
    assert not stored.active
    assert call("DELETE", "/v1/tenants/acme/keys/kNoSuchKey", OPERATOR)["statusCode"] == 404


def test_key_listing_is_paginated(repository: DynamoRepository) -> None:
    acme = create_tenant("acme")
    for role in ("viewer", "editor", "telephony"):
        assert call("POST", "/v1/tenants/acme/keys", admin_of(acme), body={"role": role})["statusCode"] == 201
    first = response_json(call("GET", "/v1/tenants/acme/keys?limit=2", admin_of(acme)))
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    second = response_json(call("GET", f"/v1/tenants/acme/keys?limit=2&cursor={first['next_cursor']}", admin_of(acme)))
    assert len(second["items"]) == 2
    assert second["next_cursor"] is None
    ids = {key["id"] for key in first["items"] + second["items"]}
    assert len(ids) == 4  # the first admin key plus three
    assert call("GET", "/v1/tenants/acme/keys?limit=101", admin_of(acme))["statusCode"] == 422


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "A", "tenant": "x"}, "tenant"),
        ({"name": "A", "crm_url": "http://crm.example.com"}, "crm_url"),
        ({"name": "A", "id": "bad id!"}, "id"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_tenant_bodies_are_422_located(repository: DynamoRepository, body: dict[str, Any], field: str) -> None:
    response = call("POST", "/v1/tenants", OPERATOR, body=body)
    assert response["statusCode"] == 422
    error = response_json(response)["error"]
    assert error["code"] == "validation_error"
    assert ["body", field] in [detail["loc"][:2] for detail in error["details"]]


def test_no_authorizer_context_is_refused(repository: DynamoRepository) -> None:
    assert call("POST", "/v1/tenants", None, body={"name": "A"})["statusCode"] == 403


def test_docs_are_public_and_describe_every_family(repository: DynamoRepository) -> None:
    response = call("GET", "/v1/openapi.json", None)
    assert response["statusCode"] == 200
    spec = response_json(response)
    assert spec["openapi"].startswith("3.1")
    assert "/v1/tenants/{tenant_id}/keys/{key_id}" in spec["paths"]
    assert spec["components"]["securitySchemes"]["ApiKey"]["name"] == "X-Api-Key"
    create = spec["paths"]["/v1/tenants"]["post"]
    assert create["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorBody")
    docs = call("GET", "/v1/docs", None)
    assert docs["statusCode"] == 200
    assert "swagger" in docs["body"].lower()


# ------------------------------------------------------------------------------------------------ tenant settings

SETTINGS = {
    "name": "Acme Ltd",
    "sip_domain": "PBX.Acme.example",
    "crm_url": "https://crm.acme.example/route",
    "default_country": "RU",
    "call_history_days": 30,
}


def put_tenant(tenant_id: str, caller: dict[str, Any] | None, body: Any, if_match: str | None = '"1"') -> Any:
    headers = {"If-Match": if_match} if if_match is not None else {}
    return call("PUT", f"/v1/tenants/{tenant_id}", caller, body=body, headers=headers)


@pytest.mark.parametrize("who", ["operator", "admin"])
def test_tenant_settings_are_replaced_with_if_match(repository: DynamoRepository, who: str) -> None:
    acme = create_tenant("acme")
    caller = OPERATOR if who == "operator" else admin_of(acme)
    got = call("GET", "/v1/tenants/acme", caller)
    assert response_header(got, "ETag") == '"1"'
    revision = repository.directory_revision("acme")

    replaced = put_tenant("acme", caller, SETTINGS)

    assert replaced["statusCode"] == 200, replaced["body"]
    assert response_header(replaced, "ETag") == '"2"'
    expected = {**SETTINGS, "id": "acme", "sip_domain": "pbx.acme.example"}
    assert {k: v for k, v in response_json(replaced).items() if k in expected} == expected
    assert response_json(call("GET", "/v1/tenants/acme", caller)) == response_json(replaced)
    assert repository.directory_revision("acme") == revision + 1  # the next call's caches see the settings


def test_tenant_put_is_a_full_replacement(repository: DynamoRepository) -> None:
    acme = create_tenant("acme")
    assert put_tenant("acme", admin_of(acme), SETTINGS)["statusCode"] == 200
    cleared = response_json(put_tenant("acme", admin_of(acme), {"name": "Acme"}, if_match='"2"'))
    assert {k: cleared[k] for k in SETTINGS} == {
        "name": "Acme",
        "sip_domain": None,
        "crm_url": None,
        "default_country": None,
        "call_history_days": 90,
    }


def test_tenant_put_without_if_match_is_428_and_stale_is_412(repository: DynamoRepository) -> None:
    acme = create_tenant("acme")
    missing = put_tenant("acme", admin_of(acme), SETTINGS, if_match=None)
    assert missing["statusCode"] == 428
    assert response_json(missing)["error"]["code"] == "precondition_required"
    assert put_tenant("acme", admin_of(acme), SETTINGS)["statusCode"] == 200
    stale = put_tenant("acme", admin_of(acme), {**SETTINGS, "name": "Lost update"})
    assert stale["statusCode"] == 412
    assert response_json(stale)["error"]["code"] == "precondition_failed"
    assert response_json(call("GET", "/v1/tenants/acme", admin_of(acme)))["name"] == "Acme Ltd"


def test_tenant_put_by_another_tenants_admin_is_404_and_other_roles_403(repository: DynamoRepository) -> None:
    acme, globex = create_tenant("acme"), create_tenant("globex")
    foreign = put_tenant("globex", admin_of(acme), SETTINGS)
    missing = put_tenant("nobody", admin_of(acme), SETTINGS)
    assert foreign["statusCode"] == missing["statusCode"] == 404
    assert put_tenant("nobody", OPERATOR, SETTINGS)["statusCode"] == 404
    for role in ("editor", "viewer", "telephony"):
        assert put_tenant("acme", authorizer_context("acme", role=role), SETTINGS)["statusCode"] == 403
    assert response_json(call("GET", "/v1/tenants/globex", admin_of(globex)))["name"] == "Tenant globex"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sip_domain", "-pbx.example"),
        ("sip_domain", "pbx..example"),
        ("sip_domain", "sip:pbx.example"),
        ("sip_domain", "a" * 64 + ".example"),
        ("crm_url", "http://crm.example.com"),
        ("crm_url", "https://user:secret@crm.example.com/"),
        ("crm_url", "ftp://crm.example.com"),
        ("default_country", "XX"),
        ("default_country", "ru"),
        ("default_country", "RUS"),
        ("call_history_days", 0),
        ("call_history_days", 3651),
        ("version", 5),
    ],
)
def test_bad_tenant_settings_are_422_located(repository: DynamoRepository, field: str, value: Any) -> None:
    acme = create_tenant("acme")
    response = put_tenant("acme", admin_of(acme), {**SETTINGS, field: value})
    assert response["statusCode"] == 422, response["body"]
    assert ["body", field] in [detail["loc"][:2] for detail in response_json(response)["error"]["details"]]


def test_tenant_creation_accepts_every_setting(repository: DynamoRepository) -> None:
    response = call("POST", "/v1/tenants", OPERATOR, body={**SETTINGS, "id": "acme"})
    assert response["statusCode"] == 201, response["body"]
    assert response_header(response, "ETag") == '"1"'
    created = response_json(response)
    assert (created["default_country"], created["call_history_days"]) == ("RU", 30)
    stored = repository.get_tenant("acme")
    assert (stored.sip_domain, stored.default_country, stored.call_history_days) == ("pbx.acme.example", "RU", 30)
