"""The scenarios function's handler driven by API Gateway events, on the shared moto table of test_directory_api."""

from typing import Any

import pytest

from tests.helpers.apigw import response_header, response_json
from tests.integration.test_directory_api import (  # noqa: F401  (fixtures are used by name)
    Call,
    caller_of,
    dynamo_repository,
    error_code,
    fresh_number,
    fresh_tenant,
    shared_table,
)

MONDAY_10_MSK = "2026-11-23T10:00:00+03:00"
MONDAY_20_MSK = "2026-11-23T20:00:00+03:00"

MAIN: dict[str, Any] = {
    "id": "main",
    "name": "Main line",
    "elements": [
        {"id": "start", "type": "incoming_call"},
        {"id": "hours", "type": "schedule", "schedule_id": "office"},
        {"id": "mgr", "type": "internal_subscriber", "extension": "101", "limit_wait": True, "wait_seconds": 20},
        {"id": "vm", "type": "voicemail", "mailbox": "101"},
    ],
    "connections": [
        {"from": "start", "to": "hours"},
        {"from": "hours", "exit": "open", "to": "mgr"},
        {"from": "hours", "exit": "closed", "to": "vm"},
        {"from": "mgr", "exit": "no_answer", "to": "vm"},
    ],
}
DRAFT_BODY = {key: value for key, value in MAIN.items() if key != "id"}


@pytest.fixture
def tenant_id(dynamo_repository: Any) -> str:  # noqa: F811  (the imported fixture, requested by name)
    return fresh_tenant()


@pytest.fixture
def directory(tenant_id: str) -> Call:
    call = caller_of("directory", tenant_id)
    call("POST", "/v1/subscribers", {"extension": "101", "name": "Anna"})
    office = {"id": "office", "name": "Office", "timezone": "Europe/Moscow", "weekly": {"mon": ["09:00-18:00"]}}
    call("POST", "/v1/schedules", office)
    return call


@pytest.fixture
def api(tenant_id: str, directory: Call) -> Call:
    return caller_of("scenarios", tenant_id)


@pytest.fixture
def published(api: Call) -> Call:
    assert api("POST", "/v1/scenarios", MAIN)["statusCode"] == 201
    assert api("POST", "/v1/scenarios/main/publish", if_match=1)["statusCode"] == 201
    return api


# ------------------------------------------------------------------------------------------------ drafts


def test_an_invalid_draft_is_saved_with_its_validation(api: Call) -> None:
    created = api("POST", "/v1/scenarios", {"name": "Half done", "elements": [{"id": "x", "type": "hangup"}]})
    body = response_json(created)

    assert created["statusCode"] == 201
    assert response_header(created, "ETag") == '"1"'
    assert body["id"].startswith("scn-")
    assert body["validation"]["ok"] is False
    assert "missing_entry" in {p["code"] for p in body["validation"]["problems"]}
    assert response_header(created, "Location") == f"/v1/scenarios/{body['id']}"


def test_structurally_broken_bodies_are_rejected(api: Call) -> None:
    unknown_type = {"name": "X", "elements": [{"id": "a", "type": "teleport"}]}
    unknown_field = {"name": "X", "elements": [], "owner": "me"}

    assert api("POST", "/v1/scenarios", unknown_type)["statusCode"] == 422
    assert api("POST", "/v1/scenarios", unknown_field)["statusCode"] == 422
    assert api("POST", "/v1/scenarios", raw_body="{")["statusCode"] == 400
    assert response_json(api("GET", "/v1/scenarios"))["items"] == []


def test_draft_replace_needs_if_match_and_rejects_server_fields(api: Call) -> None:
    api("POST", "/v1/scenarios", MAIN)

    assert api("PUT", "/v1/scenarios/main", DRAFT_BODY)["statusCode"] == 428
    # A missing precondition is reported before the body's problems, in our shape with our code.
    unconditional_bad = api("PUT", "/v1/scenarios/main", {**DRAFT_BODY, "version": 9})
    assert unconditional_bad["statusCode"] == 428
    assert response_json(unconditional_bad)["error"]["code"] == "precondition_required"
    for field, value in [("id", "other"), ("version", 9), ("tenant_id", "x"), ("published_version", 1)]:
        assert api("PUT", "/v1/scenarios/main", {**DRAFT_BODY, field: value}, if_match=1)["statusCode"] == 422
    renamed = api("PUT", "/v1/scenarios/main", {**DRAFT_BODY, "name": "Renamed"}, if_match=1)
    stale = api("PUT", "/v1/scenarios/main", DRAFT_BODY, if_match=1)

    assert (renamed["statusCode"], response_header(renamed, "ETag")) == (200, '"2"')
    assert stale["statusCode"] == 412
    assert response_json(api("GET", "/v1/scenarios/main"))["name"] == "Renamed"


def test_listing_gives_summaries(api: Call) -> None:
    api("POST", "/v1/scenarios", MAIN)
    items = response_json(api("GET", "/v1/scenarios"))["items"]

    assert [(s["id"], s["element_count"]) for s in items] == [("main", 4)]
    assert "elements" not in items[0]


# ------------------------------------------------------------------------------------------------ validate, publish


def test_validate_reports_against_the_stored_directory(api: Call, directory: Call) -> None:
    api("POST", "/v1/scenarios", MAIN)
    assert response_json(api("POST", "/v1/scenarios/main/validate"))["ok"] is True

    directory("DELETE", "/v1/subscribers/101", if_match=1)
    report = api("POST", "/v1/scenarios/main/validate")

    assert report["statusCode"] == 200
    assert response_json(report)["ok"] is False
    assert [p["code"] for p in response_json(report)["problems"]] == ["unknown_extension"]


def test_publish_returns_the_version_with_its_snapshot(api: Call) -> None:
    api("POST", "/v1/scenarios", MAIN)

    missing = api("POST", "/v1/scenarios/main/publish")
    stale = api("POST", "/v1/scenarios/main/publish", if_match=7)
    published = api("POST", "/v1/scenarios/main/publish", if_match=1)
    version = response_json(published)

    assert (missing["statusCode"], stale["statusCode"], published["statusCode"]) == (428, 412, 201)
    assert (version["version"], version["current"], version["published_by"]) == (1, True, "key-test")
    assert [s["extension"] for s in version["directory"]["subscribers"]] == ["101"]
    assert response_header(published, "Location") == "/v1/scenarios/main/versions/1"
    assert response_json(api("GET", "/v1/scenarios/main"))["published_version"] == 1


def test_publishing_an_invalid_draft_is_422_with_the_problems(api: Call) -> None:
    api("POST", "/v1/scenarios", {**MAIN, "elements": MAIN["elements"][1:]})
    response = api("POST", "/v1/scenarios/main/publish", if_match=1)

    assert (response["statusCode"], error_code(response)) == (422, "invalid_scenario")
    assert "missing_entry" in {d["code"] for d in response_json(response)["error"]["details"]}
    assert response_json(api("GET", "/v1/scenarios/main/versions"))["items"] == []


def test_versions_and_rollback(published: Call) -> None:
    api = published
    api("PUT", "/v1/scenarios/main", {**DRAFT_BODY, "name": "Second"}, if_match=1)
    api("POST", "/v1/scenarios/main/publish", if_match=2)

    first_page = response_json(api("GET", "/v1/scenarios/main/versions?limit=1"))
    second_page = response_json(api("GET", f"/v1/scenarios/main/versions?limit=1&cursor={first_page['next_cursor']}"))
    rolled = api("POST", "/v1/scenarios/main/rollback", {"version": 1}, if_match=2)

    assert [v["version"] for v in first_page["items"] + second_page["items"]] == [2, 1]
    assert rolled["statusCode"] == 200
    assert response_json(rolled)["published_version"] == 1
    assert response_json(api("GET", "/v1/scenarios/main/versions/1"))["current"] is True
    assert api("GET", "/v1/scenarios/main/versions/9")["statusCode"] == 404
    assert api("POST", "/v1/scenarios/main/rollback", {"version": 9}, if_match=2)["statusCode"] == 404
    assert api("POST", "/v1/scenarios/main/rollback", {"version": 1})["statusCode"] == 428
    assert api("POST", "/v1/scenarios/main/rollback", {"version": 1, "tenant_id": "x"}, if_match=2)["statusCode"] == 422


# ------------------------------------------------------------------------------------------------ simulate, diagram


def test_simulate_the_draft_and_a_version(published: Call) -> None:
    api = published
    draft_run = api("POST", "/v1/scenarios/main/simulate", {"at": MONDAY_20_MSK})
    version_run = api(
        "POST", "/v1/scenarios/main/simulate", {"version": 1, "at": MONDAY_10_MSK, "outcomes": {"mgr": ["answered"]}}
    )

    assert draft_run["statusCode"] == 200
    assert response_json(draft_run)["path"] == ["start", "hours", "vm"]
    assert response_json(draft_run)["version"] is None
    assert response_json(version_run)["result"]["status"] == "connected"
    assert response_json(api("POST", "/v1/scenarios/main/simulate"))["result"]["status"] in {"connected", "voicemail"}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"caller": "12345"}, 422),
        ({"at": "yesterday"}, 422),
        ({"version": 0}, 422),
        ({"version": 5}, 404),
        ({"outcomes": {"ghost": "busy"}}, 400),
        ({"outcomes": {"mgr": "digits:1"}}, 400),
        ({"tenant_id": "x"}, 422),
    ],
)
def test_bad_simulation_requests(published: Call, body: dict[str, Any], status: int) -> None:
    response = published("POST", "/v1/scenarios/main/simulate", body)
    assert response["statusCode"] == status
    assert set(response_json(response)["error"]) == {"code", "message", "details", "request_id"}


def test_diagram_json_text_and_highlight(published: Call) -> None:
    api = published
    plain = api("GET", "/v1/scenarios/main/diagram")
    text = api("GET", "/v1/scenarios/main/diagram?format=mermaid&version=1")
    evening = MONDAY_20_MSK.replace("+", "%2B")
    lit = response_json(api("GET", f"/v1/scenarios/main/diagram?highlight=simulation&at={evening}"))

    assert response_json(plain)["mermaid"].startswith("flowchart TD")
    assert (response_header(text, "Content-Type") or "").startswith("text/plain")
    assert text["body"].startswith("flowchart TD")
    assert lit["highlight"] == ["start", "hours", "vm"]
    assert "visited" in lit["mermaid"]
    assert api("GET", "/v1/scenarios/main/diagram?format=svg")["statusCode"] == 422


# ------------------------------------------------------------------------------------------------ delete, roles


def test_a_scenario_answering_a_number_cannot_be_deleted(published: Call, directory: Call) -> None:
    number = fresh_number()
    assert directory("POST", "/v1/numbers", {"number": number, "scenario_id": "main"})["statusCode"] == 201

    refused = published("DELETE", "/v1/scenarios/main", if_match=1)
    assert (refused["statusCode"], error_code(refused)) == (409, "in_use")
    assert [detail["number"] for detail in response_json(refused)["error"]["details"]] == [number]

    directory("DELETE", f"/v1/numbers/{number.replace('+', '%2B')}", if_match=1)
    assert published("DELETE", "/v1/scenarios/main", if_match=1)["statusCode"] == 204
    assert published("GET", "/v1/scenarios/main")["statusCode"] == 404


def test_roles_on_scenario_routes(published: Call) -> None:
    api = published
    assert api("GET", "/v1/scenarios/main", role="viewer")["statusCode"] == 200
    assert api("POST", "/v1/scenarios/main/validate", role="viewer")["statusCode"] == 200
    assert api("POST", "/v1/scenarios/main/simulate", role="viewer")["statusCode"] == 200
    assert api("POST", "/v1/scenarios/main/publish", if_match=1, role="viewer")["statusCode"] == 403
    assert api("PUT", "/v1/scenarios/main", DRAFT_BODY, if_match=1, role="viewer")["statusCode"] == 403
    assert api("POST", "/v1/scenarios/main/rollback", {"version": 1}, if_match=1, role="viewer")["statusCode"] == 403
    assert api("GET", "/v1/scenarios", role="telephony")["statusCode"] == 403
    assert api("POST", "/v1/scenarios/main/publish", if_match=1, role="editor")["statusCode"] == 201


def test_another_tenant_sees_nothing(published: Call) -> None:
    other = fresh_tenant()
    for method, path in [
        ("GET", "/v1/scenarios/main"),
        ("POST", "/v1/scenarios/main/validate"),
        ("POST", "/v1/scenarios/main/simulate"),
        ("GET", "/v1/scenarios/main/diagram"),
        ("GET", "/v1/scenarios/main/versions"),
        ("GET", "/v1/scenarios/main/versions/1"),
    ]:
        assert published(method, path, tenant=other)["statusCode"] == 404, path
    assert published("DELETE", "/v1/scenarios/main", if_match=1, tenant=other)["statusCode"] == 404
    assert published("POST", "/v1/scenarios/main/publish", if_match=1, tenant=other)["statusCode"] == 404
    assert response_json(published("GET", "/v1/scenarios/main"))["latest_version"] == 1
