"""The directory function's handler driven by API Gateway events, on a moto DynamoDB table built from template.yaml.

One table per module (creating one costs more than the tests themselves); every test gets tenants of its own.
"""

import importlib.util
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

import pytest
from vpbx.api.deps import set_repository
from vpbx.store import schema
from vpbx.store.dynamodb import DynamoRepository

from tests.conftest import dynamodb_client
from tests.helpers.apigw import FakeLambdaContext, api_event, authorizer_context, response_header, response_json

ROOT = Path(__file__).resolve().parents[2]

Call = Callable[..., dict[str, Any]]


def load_function(name: str) -> ModuleType:
    """functions/<name>/app.py as a module (every function's file is called app.py, so import them by path)."""
    module_name = f"vpbx_function_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions" / name / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def shared_table(moto_server: str) -> Iterator[DynamoRepository]:
    client = dynamodb_client(moto_server)
    table_name = f"vpbx-api-{uuid.uuid4().hex[:12]}"
    schema.create_table(client, table_name)
    yield DynamoRepository(table_name, endpoint_url=moto_server)
    client.delete_table(TableName=table_name)


@pytest.fixture
def dynamo_repository(shared_table: DynamoRepository) -> Iterator[DynamoRepository]:
    set_repository(shared_table)
    yield shared_table
    set_repository(None)


def fresh_tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def fresh_number() -> str:
    """A Moscow number nobody else in the shared table holds (phone numbers are unique platform-wide)."""
    return f"+7495{uuid.uuid4().int % 10_000_000:07d}"


def caller_of(function: str, tenant_id: str) -> Call:
    """A client of one function for one tenant; `tenant=` per call acts as another tenant."""
    handler = load_function(function).handler

    def call(
        method: str,
        path: str,
        body: Any = None,
        *,
        if_match: str | int | None = None,
        role: str = "admin",
        tenant: str | None = None,
        raw_body: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        headers = dict(headers or {})
        if if_match is not None:
            headers["If-Match"] = f'"{if_match}"' if isinstance(if_match, int) else if_match
        event = api_event(
            method,
            path,
            body=body,
            raw_body=raw_body,
            headers=headers,
            authorizer=authorizer_context(tenant or tenant_id, role=role),
        )
        response: dict[str, Any] = handler(event, FakeLambdaContext())
        return response

    return call


@pytest.fixture
def tenant_id(dynamo_repository: DynamoRepository) -> str:
    return fresh_tenant()


@pytest.fixture
def other_tenant() -> str:
    return fresh_tenant()


@pytest.fixture
def api(tenant_id: str) -> Call:
    return caller_of("directory", tenant_id)


def error_code(response: dict[str, Any]) -> str:
    return str(response_json(response)["error"]["code"])


# ------------------------------------------------------------------------------------------------ subscribers


def test_subscriber_lifecycle_with_etags(api: Call) -> None:
    created = api("POST", "/v1/subscribers", {"extension": "101", "name": "Anna"})
    assert created["statusCode"] == 201
    assert response_header(created, "ETag") == '"1"'
    assert response_header(created, "Location") == "/v1/subscribers/101"

    replaced = api(
        "PUT", "/v1/subscribers/101", {"name": "Anna K", "kind": "mobile", "target": "+79161234567"}, if_match=1
    )
    assert replaced["statusCode"] == 200
    assert response_header(replaced, "ETag") == '"2"'
    assert response_json(replaced)["effective_dial_delay_seconds"] >= 8

    fetched = response_json(api("GET", "/v1/subscribers/101"))
    assert (fetched["name"], fetched["version"]) == ("Anna K", 2)

    assert api("DELETE", "/v1/subscribers/101", if_match=2)["statusCode"] == 204
    assert api("GET", "/v1/subscribers/101")["statusCode"] == 404


def test_writes_need_a_current_if_match(api: Call) -> None:
    api("POST", "/v1/subscribers", {"extension": "101", "name": "Anna"})

    missing = api("PUT", "/v1/subscribers/101", {"name": "B"})
    api("PUT", "/v1/subscribers/101", {"name": "B"}, if_match=1)
    stale = api("PUT", "/v1/subscribers/101", {"name": "C"}, if_match=1)
    stale_delete = api("DELETE", "/v1/subscribers/101", if_match=1)
    garbage = api("DELETE", "/v1/subscribers/101", if_match="yesterday")

    assert (missing["statusCode"], error_code(missing)) == (428, "precondition_required")
    assert (stale["statusCode"], error_code(stale)) == (412, "precondition_failed")
    assert stale_delete["statusCode"] == 412
    assert garbage["statusCode"] == 400
    assert response_json(api("GET", "/v1/subscribers/101"))["name"] == "B"


def test_if_match_is_read_whatever_the_case_of_the_header_name(api: Call) -> None:
    api("POST", "/v1/subscribers", {"extension": "101", "name": "Anna"})

    def put(header: str, value: str) -> dict[str, Any]:
        return api("PUT", "/v1/subscribers/101", {"name": "B"}, headers={header: value})

    assert put("if-match", '"1"')["statusCode"] == 200
    assert put("IF-MATCH", '"1"')["statusCode"] == 412
    assert put("If-Match", "")["statusCode"] == 428


def test_the_spec_declares_if_match_on_every_write_that_needs_it() -> None:
    from vpbx.api.openapi import build_openapi

    paths = build_openapi()["paths"]
    needing = [
        (method, path)
        for path, operations in paths.items()
        for method, operation in operations.items()
        if "428" in operation["responses"]
    ]
    declared = {
        (method, path)
        for path, operations in paths.items()
        for method, operation in operations.items()
        if any(p["in"] == "header" and p["name"].lower() == "if-match" for p in operation.get("parameters", []))
    }
    assert (
        len(needing) == 18
    )  # PUT and DELETE of 7 versioned collections (webhooks, queues), publish, rollback, rotate,
    # tenant settings
    assert ("post", "/v1/webhooks/{webhook_id}/rotate-secret") in needing
    assert ("put", "/v1/tenants/{tenant_id}") in needing
    assert ("post", "/v1/scenarios/{scenario_id}/rollback") in needing
    assert set(needing) == declared


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/subscribers", {"extension": "101", "name": "A", "tenant_id": "globex"}),
        ("POST", "/v1/subscribers", {"extension": "101", "name": "A", "version": 7}),
        ("POST", "/v1/subscribers", {"extension": "101", "name": "A", "created_at": "2020-01-01T00:00:00Z"}),
        ("POST", "/v1/subscribers", {"extension": "101", "name": "A", "role": "admin"}),
        ("POST", "/v1/schedules", {"name": "S", "timezone": "UTC", "tenant_id": "globex"}),
        ("POST", "/v1/caller-lists", {"name": "L", "version": 3}),
        ("POST", "/v1/numbers", {"number": "+74951234567", "tenant_id": "globex"}),
    ],
)
def test_mass_assignment_is_rejected_and_nothing_is_stored(api: Call, method: str, path: str, body: Any) -> None:
    response = api(method, path, body)

    assert (response["statusCode"], error_code(response)) == (422, "validation_error")
    assert response_json(api("GET", path))["items"] == []


def test_update_bodies_cannot_carry_identity_or_version(api: Call) -> None:
    api("POST", "/v1/subscribers", {"extension": "101", "name": "Anna"})
    for field, value in [("extension", "102"), ("id", "x"), ("version", 5), ("updated_at", "2020-01-01T00:00:00Z")]:
        response = api("PUT", "/v1/subscribers/101", {"name": "B", field: value}, if_match=1)
        assert response["statusCode"] == 422, field
    assert response_json(api("GET", "/v1/subscribers/101"))["version"] == 1


@pytest.mark.parametrize(
    ("raw_body", "status"),
    [("{not json", 400), ('{"extension": "1234567", "name": "A"}', 422), ('{"extension": "101"}', 422), ("[]", 422)],
)
def test_bad_input_is_a_located_4xx(api: Call, raw_body: str, status: int) -> None:
    response = api("POST", "/v1/subscribers", raw_body=raw_body)

    assert response["statusCode"] == status
    assert set(response_json(response)["error"]) == {"code", "message", "details", "request_id"}
    assert response_json(api("GET", "/v1/subscribers"))["items"] == []


def test_roles(api: Call) -> None:
    api("POST", "/v1/subscribers", {"extension": "101", "name": "Anna"})

    assert api("GET", "/v1/subscribers/101", role="viewer")["statusCode"] == 200
    assert api("POST", "/v1/subscribers", {"extension": "102", "name": "B"}, role="viewer")["statusCode"] == 403
    assert api("DELETE", "/v1/subscribers/101", if_match=1, role="viewer")["statusCode"] == 403
    assert api("POST", "/v1/subscribers", {"extension": "102", "name": "B"}, role="editor")["statusCode"] == 201
    assert api("GET", "/v1/subscribers", role="telephony")["statusCode"] == 403
    assert api("GET", "/v1/schedules", role="operator", tenant="_platform")["statusCode"] == 403
    assert response_json(api("GET", "/v1/subscribers/101"))["version"] == 1


def test_another_tenants_objects_are_404(api: Call, other_tenant: str) -> None:
    api("POST", "/v1/subscribers", {"extension": "101", "name": "Anna"})
    api("POST", "/v1/schedules", {"id": "office", "name": "Office", "timezone": "UTC"})

    assert api("GET", "/v1/subscribers/101", tenant=other_tenant)["statusCode"] == 404
    assert (
        api("PUT", "/v1/schedules/office", {"name": "X", "timezone": "UTC"}, if_match=1, tenant=other_tenant)[
            "statusCode"
        ]
        == 404
    )
    assert api("DELETE", "/v1/subscribers/101", if_match=1, tenant=other_tenant)["statusCode"] == 404
    assert response_json(api("GET", "/v1/subscribers", tenant=other_tenant))["items"] == []
    assert response_json(api("GET", "/v1/schedules/office"))["name"] == "Office"


def test_listing_pages_with_a_cursor(api: Call) -> None:
    for extension in ("101", "102", "103"):
        api("POST", "/v1/subscribers", {"extension": extension, "name": f"S{extension}"})

    first = response_json(api("GET", "/v1/subscribers?limit=2"))
    second = response_json(api("GET", f"/v1/subscribers?limit=2&cursor={first['next_cursor']}"))

    assert [s["extension"] for s in first["items"] + second["items"]] == ["101", "102", "103"]
    assert second["next_cursor"] is None
    assert api("GET", "/v1/subscribers?limit=1000")["statusCode"] == 422


# ------------------------------------------------------------------------------------------------ numbers


def test_numbers_by_encoded_path(api: Call, other_tenant: str) -> None:
    number = fresh_number()
    encoded = number.replace("+", "%2B")
    spaced = f"{number[:2]} {number[2:5]} {number[5:8]}-{number[8:]}"

    created = api("POST", "/v1/numbers", {"number": spaced, "label": "Main"})
    assert created["statusCode"] == 201
    assert response_header(created, "Location") == f"/v1/numbers/{encoded}"

    assert response_json(api("GET", f"/v1/numbers/{encoded}"))["label"] == "Main"
    assert api("PUT", f"/v1/numbers/{encoded}", {"label": "Sales"}, if_match=1)["statusCode"] == 200
    assert api("POST", "/v1/numbers", {"number": number}, tenant=other_tenant)["statusCode"] == 409
    assert api("GET", "/v1/numbers/not-a-number")["statusCode"] == 400
    assert api("DELETE", f"/v1/numbers/{encoded}", if_match=2)["statusCode"] == 204
    assert api("GET", f"/v1/numbers/{encoded}")["statusCode"] == 404


def test_number_pointing_at_an_unknown_scenario_is_404_with_detail(api: Call) -> None:
    response = api("POST", "/v1/numbers", {"number": fresh_number(), "scenario_id": "nope"})

    assert response["statusCode"] == 404
    assert response_json(response)["error"]["details"][0]["loc"] == ["body", "scenario_id"]
    assert response_json(api("GET", "/v1/numbers"))["items"] == []


# ------------------------------------------------------------------------------------------------ schedules, lists


def test_schedule_and_caller_list_round_trip(api: Call) -> None:
    schedule = api(
        "POST", "/v1/schedules", {"name": "Office", "timezone": "Europe/Moscow", "weekly": {"mon": ["09:00-18:00"]}}
    )
    caller_list = api(
        "POST", "/v1/caller-lists", {"id": "vip", "name": "VIP", "patterns": [{"kind": "prefix", "value": "+7495"}]}
    )
    schedule_id = response_json(schedule)["id"]

    assert schedule["statusCode"] == 201
    assert response_json(api("GET", f"/v1/schedules/{schedule_id}"))["weekly"] == {"mon": ["09:00-18:00"]}
    assert response_json(caller_list)["id"] == "vip"
    assert api("POST", "/v1/caller-lists", {"id": "vip", "name": "Again"})["statusCode"] == 409
    assert api("POST", "/v1/schedules", {"name": "Bad", "timezone": "Mars/Olympus"})["statusCode"] == 422
    assert api("DELETE", "/v1/caller-lists/vip", if_match=1)["statusCode"] == 204


def test_schedule_status_says_open_or_closed_and_why(api: Call, tenant_id: str) -> None:
    office = {
        "id": "office",
        "name": "Office",
        "timezone": "Europe/Moscow",
        "holidays": {"country": "RU"},
        "weekly": {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
    }
    assert api("POST", "/v1/schedules", office)["statusCode"] == 201

    def status(at: str) -> dict[str, Any]:
        response = api("GET", f"/v1/schedules/office/status?at={quote(at)}", role="viewer")
        assert response["statusCode"] == 200, response["body"]
        return response_json(response)

    holiday = status("2026-11-04T10:00:00+03:00")
    assert (holiday["open"], holiday["reason"], holiday["schedule_id"]) == (False, "holiday", "office")
    assert "Unity Day" in holiday["detail"]
    short = status("2025-11-01T17:30:00+03:00")  # the working Saturday before Unity Day, an hour shorter
    assert (short["open"], short["reason"]) == (False, "transferred_working_day")
    assert status("2026-11-23T10:00:00+03:00")["open"] is True
    assert status("2026-11-23T07:00:00Z")["local_time"].startswith("2026-11-23T10:00:00")
    assert api("GET", "/v1/schedules/office/status", tenant=fresh_tenant())["statusCode"] == 404
    assert api("GET", "/v1/schedules/nope/status")["statusCode"] == 404
    assert api("GET", "/v1/schedules/office/status?at=yesterday")["statusCode"] in (400, 422)
    edge = api("GET", f"/v1/schedules/office/status?at={quote('9999-12-31T23:59:59-12:00')}")
    assert edge["statusCode"] == 422, edge["body"]
    assert api("GET", "/v1/schedules/office/status?when=now")["statusCode"] == 400  # unknown query parameter


def test_objects_used_by_a_published_scenario_cannot_be_deleted(api: Call, tenant_id: str) -> None:
    scenarios = caller_of("scenarios", tenant_id)
    api("POST", "/v1/subscribers", {"extension": "101", "name": "Anna"})
    api("POST", "/v1/caller-lists", {"id": "vip", "name": "VIP", "patterns": [{"kind": "prefix", "value": "+7495"}]})
    scenario = {
        "id": "main",
        "name": "Main",
        "elements": [
            {"id": "start", "type": "incoming_call"},
            {"id": "vip", "type": "caller_list", "list_id": "vip"},
            {"id": "mgr", "type": "internal_subscriber", "extension": "101"},
            {"id": "end", "type": "hangup"},
        ],
        "connections": [
            {"from": "start", "to": "vip"},
            {"from": "vip", "exit": "match", "to": "mgr"},
            {"from": "vip", "exit": "no_match", "to": "end"},
        ],
    }
    assert scenarios("POST", "/v1/scenarios", scenario)["statusCode"] == 201
    assert scenarios("POST", "/v1/scenarios/main/publish", if_match=1)["statusCode"] == 201

    for path in ("/v1/subscribers/101", "/v1/caller-lists/vip"):
        response = api("DELETE", path, if_match=1)
        assert (response["statusCode"], error_code(response)) == (409, "in_use")
        assert [d["scenario_id"] for d in response_json(response)["error"]["details"]] == ["main"]
        assert api("GET", path)["statusCode"] == 200
