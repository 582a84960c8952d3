"""Real HTTP against `vpbx serve`: the whole tenant journey from an empty directory to a rolled-back scenario."""

import uuid

import pytest

from tests.e2e.conftest import LocalServer
from tests.helpers.http import Client, create_tenant, issue_key
from tests.helpers.scenarios import OFFICE_HOURS, main_line, seed_scenario

pytestmark = pytest.mark.e2e
MONDAY_10_MSK = "2026-11-23T10:00:00+03:00"
MONDAY_20_MSK = "2026-11-23T20:00:00+03:00"
NUMBER = "+74957770011"


def ringing(decision: dict[str, object]) -> list[str]:
    action = decision["action"]
    assert isinstance(action, dict), decision
    return [target["extension"] for target in action["targets"]]


@pytest.fixture
def tenant(local_server: LocalServer) -> tuple[Client, Client]:
    """(admin, viewer) clients of a fresh tenant."""
    tenant_id = f"e2e-walk-{uuid.uuid4().hex[:8]}"
    admin = create_tenant(Client(local_server.base_url, local_server.operator_key), tenant_id, "Walkthrough")
    return admin, issue_key(admin, tenant_id, "viewer", "read only")


def test_walkthrough(tenant: tuple[Client, Client]) -> None:
    api, viewer = tenant

    subscriber = api("POST", "/v1/subscribers", {"extension": "101", "name": "Anna", "kind": "internal"})
    assert subscriber.status_code == 201, subscriber.text
    assert subscriber.headers["ETag"] == '"1"'

    assert api("POST", "/v1/schedules", OFFICE_HOURS).status_code == 201

    draft = api("POST", "/v1/scenarios", {"id": "main", **main_line()})
    assert draft.status_code == 201, draft.text
    assert draft.json()["validation"]["ok"] is True
    etag = draft.headers["ETag"]

    report = api("POST", "/v1/scenarios/main/validate")
    assert (report.status_code, report.json()["ok"], report.headers["ETag"]) == (200, True, etag)

    published = api("POST", "/v1/scenarios/main/publish", if_match=etag)
    assert published.status_code == 201, published.text
    assert published.json()["version"] == 1

    run = api("POST", "/v1/scenarios/main/simulate", {"version": 1, "at": MONDAY_10_MSK, "outcomes": {"mgr": "busy"}})
    assert run.status_code == 200, run.text
    assert run.json()["path"] == ["start", "hours", "mgr", "vm"]

    diagram = api("GET", "/v1/scenarios/main/diagram?version=1&highlight=simulation&at=2026-11-23T20:00:00%2B03:00")
    assert diagram.status_code == 200, diagram.text
    assert diagram.json()["highlight"] == ["start", "hours", "vm"]
    assert diagram.json()["mermaid"].startswith("flowchart TD")

    edited = api("PUT", "/v1/scenarios/main", main_line("Second"), if_match=etag)
    assert edited.status_code == 200, edited.text
    assert api("POST", "/v1/scenarios/main/publish", if_match=edited.headers["ETag"]).status_code == 201

    versions = api("GET", "/v1/scenarios/main/versions").json()["items"]
    assert [(v["version"], v["current"]) for v in versions] == [(2, True), (1, False)]

    rolled = api("POST", "/v1/scenarios/main/rollback", {"version": 1}, if_match=edited.headers["ETag"])
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["published_version"] == 1
    assert api("GET", "/v1/scenarios/main/versions/1").json()["current"] is True

    assert viewer("GET", "/v1/scenarios/main").status_code == 200
    assert viewer("POST", "/v1/scenarios/main/publish", if_match=edited.headers["ETag"]).status_code == 403
    in_use = api("DELETE", "/v1/subscribers/101", if_match='"1"')
    assert (in_use.status_code, in_use.json()["error"]["code"]) == (409, "in_use")


def test_stale_if_match_loses(tenant: tuple[Client, Client]) -> None:
    api, _ = tenant
    api("POST", "/v1/subscribers", {"extension": "101", "name": "Anna"})

    first = api("PUT", "/v1/subscribers/101", {"name": "First writer"}, if_match='"1"')
    second = api("PUT", "/v1/subscribers/101", {"name": "Second writer"}, if_match='"1"')
    missing = api("PUT", "/v1/subscribers/101", {"name": "No precondition"})

    assert first.status_code == 200
    assert (second.status_code, second.json()["error"]["code"]) == (412, "precondition_failed")
    assert missing.status_code == 428
    assert api("GET", "/v1/subscribers/101").json()["name"] == "First writer"


@pytest.mark.parametrize("field", ["id", "tenant_id", "version", "created_at", "role"])
def test_mass_assignment_is_rejected(tenant: tuple[Client, Client], field: str) -> None:
    api, _ = tenant
    api("POST", "/v1/subscribers", {"extension": "101", "name": "Anna"})
    api("POST", "/v1/scenarios", {"id": "main", **main_line()})

    attempts = [
        api("POST", "/v1/subscribers", {"extension": "102", "name": "B", field: "x"}),
        api("PUT", "/v1/subscribers/101", {"name": "B", field: "x"}, if_match='"1"'),
        api("PUT", "/v1/scenarios/main", {**main_line(), field: "x"}, if_match='"1"'),
    ]

    assert [response.status_code for response in attempts] == [422, 422, 422]
    assert api("GET", "/v1/subscribers").json()["items"][0]["name"] == "Anna"
    assert len(api("GET", "/v1/subscribers").json()["items"]) == 1
    assert api("GET", "/v1/scenarios/main").json()["version"] == 1


def test_a_directory_edit_reaches_the_next_call_without_republishing(local_server: LocalServer) -> None:
    """README steps 11-12 over real HTTP: disable 101, move 102 to a mobile, the next calls follow; schedule status;
    deletion guards follow the current version."""
    tenant_id = f"e2e-live-{uuid.uuid4().hex[:8]}"
    api = create_tenant(Client(local_server.base_url, local_server.operator_key), tenant_id, "Live directory")
    for body in ({"extension": "101", "name": "Anna"}, {"extension": "102", "name": "Boris"}):
        assert api("POST", "/v1/subscribers", body).status_code == 201
    assert api("POST", "/v1/subscribers", {"extension": "103", "name": "Old hand"}).status_code == 201
    assert api("POST", "/v1/schedules", OFFICE_HOURS).status_code == 201
    old = api("POST", "/v1/scenarios", {"id": "main", **seed_scenario("101", "103")})
    assert api("POST", "/v1/scenarios/main/publish", if_match=old.headers["ETag"]).status_code == 201
    current = api("PUT", "/v1/scenarios/main", seed_scenario("101", "102"), if_match=old.headers["ETag"])
    assert api("POST", "/v1/scenarios/main/publish", if_match=current.headers["ETag"]).status_code == 201
    assert api("POST", "/v1/numbers", {"number": NUMBER, "scenario_id": "main"}).status_code == 201
    telephony = issue_key(api, tenant_id, "telephony", "switch")

    first = telephony("POST", "/v1/calls", {"call_id": "live-1", "from": "+79161234567", "to": NUMBER})
    assert ringing(first.json()) == ["101"]

    disabled = api("PUT", "/v1/subscribers/101", {"name": "Anna", "enabled": False}, if_match='"1"')
    assert disabled.status_code == 200, disabled.text
    second = telephony("POST", "/v1/calls", {"call_id": "live-2", "from": "+79161234567", "to": NUMBER})
    assert ringing(second.json()) == ["102"]  # 101 is skipped at once, no republish
    trace = api("GET", "/v1/calls/live-2").json()["trace"]
    assert any(step["element_id"] == "mgr" and step["detail"] == "subscriber 101 is disabled" for step in trace)

    mobile = {"name": "Boris", "kind": "mobile", "target": "+79162220000"}
    assert api("PUT", "/v1/subscribers/102", mobile, if_match='"1"').status_code == 200
    third = telephony("POST", "/v1/calls", {"call_id": "live-3", "from": "+79161234567", "to": NUMBER})
    assert third.json()["action"]["targets"][0]["number"] == "+79162220000"
    moved_on = telephony("POST", "/v1/calls/live-1/events", {"seq": 1, "outcome": "no_answer"})
    assert moved_on.json()["action"]["targets"][0]["number"] is None  # live-1 keeps the directory it started with

    status = api("GET", "/v1/schedules/office/status?at=2026-11-23T10:00:00%2B03:00")
    assert (status.status_code, status.json()["open"]) == (200, True), status.text

    assert api("DELETE", "/v1/subscribers/103", if_match='"1"').status_code == 204  # only version 1 named it
    in_use = api("DELETE", "/v1/subscribers/102", if_match='"2"')
    assert (in_use.status_code, in_use.json()["error"]["code"]) == (409, "in_use")
