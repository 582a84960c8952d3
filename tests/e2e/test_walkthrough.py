"""Real HTTP against `vpbx serve`: the whole tenant journey from an empty directory to a rolled-back scenario."""

import uuid
from typing import Any

import pytest
import requests

from tests.e2e.conftest import LocalServer

pytestmark = pytest.mark.e2e
TIMEOUT = 30
MONDAY_10_MSK = "2026-11-23T10:00:00+03:00"
MONDAY_20_MSK = "2026-11-23T20:00:00+03:00"


class Client:
    def __init__(self, server: LocalServer, key: str) -> None:
        self.base_url = server.base_url
        self.key = key

    def __call__(self, method: str, path: str, json: Any = None, if_match: str | None = None) -> requests.Response:
        headers = {"X-Api-Key": self.key}
        if if_match is not None:
            headers["If-Match"] = if_match
        return requests.request(method, self.base_url + path, json=json, headers=headers, timeout=TIMEOUT)


@pytest.fixture
def tenant(local_server: LocalServer) -> tuple[Client, Client]:
    """(admin, viewer) clients of a fresh tenant."""
    tenant_id = f"e2e-walk-{uuid.uuid4().hex[:8]}"
    operator = Client(local_server, local_server.operator_key)
    created = operator("POST", "/v1/tenants", {"id": tenant_id, "name": "Walkthrough"})
    assert created.status_code == 201, created.text
    admin = Client(local_server, created.json()["admin_key"]["secret"])
    viewer_key = admin("POST", f"/v1/tenants/{tenant_id}/keys", {"role": "viewer", "name": "read only"})
    assert viewer_key.status_code == 201, viewer_key.text
    return admin, Client(local_server, viewer_key.json()["secret"])


def scenario(name: str = "Main line") -> dict[str, Any]:
    return {
        "name": name,
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


def test_walkthrough(tenant: tuple[Client, Client]) -> None:
    api, viewer = tenant

    subscriber = api("POST", "/v1/subscribers", {"extension": "101", "name": "Anna", "kind": "internal"})
    assert subscriber.status_code == 201, subscriber.text
    assert subscriber.headers["ETag"] == '"1"'

    office = {"id": "office", "name": "Office", "timezone": "Europe/Moscow", "weekly": {"mon": ["09:00-18:00"]}}
    assert api("POST", "/v1/schedules", office).status_code == 201

    draft = api("POST", "/v1/scenarios", {"id": "main", **scenario()})
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

    edited = api("PUT", "/v1/scenarios/main", scenario("Second"), if_match=etag)
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
    api("POST", "/v1/scenarios", {"id": "main", **scenario()})

    attempts = [
        api("POST", "/v1/subscribers", {"extension": "102", "name": "B", field: "x"}),
        api("PUT", "/v1/subscribers/101", {"name": "B", field: "x"}, if_match='"1"'),
        api("PUT", "/v1/scenarios/main", {**scenario(), field: "x"}, if_match='"1"'),
    ]

    assert [response.status_code for response in attempts] == [422, 422, 422]
    assert api("GET", "/v1/subscribers").json()["items"][0]["name"] == "Anna"
    assert len(api("GET", "/v1/subscribers").json()["items"]) == 1
    assert api("GET", "/v1/scenarios/main").json()["version"] == 1
