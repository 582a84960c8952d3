"""Real HTTP against `vpbx serve`: telephony drives calls through the seed route; tenants read their history."""

import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.e2e.conftest import LocalServer
from tests.helpers.http import Client, create_tenant, issue_key
from tests.helpers.scenarios import seed_scenario

pytestmark = pytest.mark.e2e
CALLER = "+79161234567"


@dataclass
class Tenant:
    id: str
    admin: Client
    viewer: Client
    telephony: Client
    number: str
    scenario_etag: str

    def publish(self, scenario: dict[str, Any]) -> int:
        edited = self.admin("PUT", "/v1/scenarios/main", scenario, if_match=self.scenario_etag)
        assert edited.status_code == 200, edited.text
        self.scenario_etag = edited.headers["ETag"]
        published = self.admin("POST", "/v1/scenarios/main/publish", if_match=self.scenario_etag)
        assert published.status_code == 201, published.text
        return int(published.json()["version"])

    def start(self, call_id: str) -> requests.Response:
        return self.telephony("POST", "/v1/calls", {"call_id": call_id, "from": CALLER, "to": self.number})

    def event(self, call_id: str, seq: int, outcome: str) -> requests.Response:
        return self.telephony("POST", f"/v1/calls/{call_id}/events", {"seq": seq, "outcome": outcome})


def new_tenant(server: LocalServer) -> Tenant:
    tenant_id = f"e2e-calls-{uuid.uuid4().hex[:8]}"
    admin = create_tenant(Client(server.base_url, server.operator_key), tenant_id, "Calls")
    for extension in ("101", "102", "103"):
        made = admin("POST", "/v1/subscribers", {"extension": extension, "name": f"Employee {extension}"})
        assert made.status_code == 201, made.text
    draft = admin("POST", "/v1/scenarios", {"id": "main", **seed_scenario()})
    assert draft.status_code == 201, draft.text
    published = admin("POST", "/v1/scenarios/main/publish", if_match=draft.headers["ETag"])
    assert published.status_code == 201, published.text
    number = f"+7495{random.randrange(10**6, 10**7)}"  # Moscow numbers; unique per test with overwhelming odds
    assigned = admin("POST", "/v1/numbers", {"number": number, "scenario_id": "main"})
    assert assigned.status_code == 201, assigned.text
    viewer, telephony = (issue_key(admin, tenant_id, role) for role in ("viewer", "telephony"))
    return Tenant(tenant_id, admin, viewer, telephony, number, draft.headers["ETag"])


@pytest.fixture
def tenant(local_server: LocalServer) -> Tenant:
    return new_tenant(local_server)


def test_seed_call_rings_101_for_20_s_then_the_next_element_then_connects(tenant: Tenant) -> None:
    started = tenant.start("seed-1")
    assert started.status_code == 201, started.text
    first = started.json()
    assert (first["seq"], first["status"], first["action"]["type"]) == (1, "in_progress", "ring")
    assert first["action"]["targets"][0]["extension"] == "101"
    assert first["action"]["timeout_seconds"] == 20

    second = tenant.event("seed-1", 1, "no_answer")
    assert second.status_code == 200, second.text
    assert second.json()["action"]["targets"][0]["extension"] == "102"
    assert second.json()["action"]["timeout_seconds"] is None

    third = tenant.event("seed-1", 2, "answered")
    connected = third.json()
    assert isinstance(connected.pop("state_token"), str)  # `completed` follows: the local server issues tokens
    assert connected == {"call_id": "seed-1", "seq": 3, "action": None, "status": "connected"}

    detail = tenant.viewer("GET", "/v1/calls/seed-1")
    assert detail.status_code == 200, detail.text
    assert [(s["element_id"], s["outcome"], s["exit"]) for s in detail.json()["trace"]] == [
        ("start", None, "next"),
        ("mgr", None, None),
        ("mgr", "no_answer", "no_answer"),
        ("next", None, None),
        ("next", "answered", None),
    ]
    listed = tenant.viewer("GET", f"/v1/calls?number=%2B{tenant.number[1:]}")
    assert [c["call_id"] for c in listed.json()["items"]] == ["seed-1"]


def test_call_in_flight_keeps_its_version_across_a_publish(tenant: Tenant) -> None:
    assert tenant.start("before").status_code == 201
    assert tenant.publish(seed_scenario(second="103")) == 2
    assert tenant.start("after").status_code == 201

    assert tenant.event("before", 1, "no_answer").json()["action"]["targets"][0]["extension"] == "102"
    assert tenant.event("after", 1, "no_answer").json()["action"]["targets"][0]["extension"] == "103"
    versions = [tenant.viewer("GET", f"/v1/calls/{c}").json()["version"] for c in ("before", "after")]
    assert versions == [1, 2]


def test_replays_and_concurrent_deliveries_advance_once(tenant: Tenant) -> None:
    assert tenant.start("dup").status_code == 201
    with ThreadPoolExecutor(max_workers=10) as pool:
        concurrent = list(pool.map(lambda _: tenant.event("dup", 1, "no_answer"), range(10)))
    sequential = [tenant.event("dup", 1, "no_answer") for _ in range(5)]

    responses = concurrent + sequential
    assert [r.status_code for r in responses] == [200] * 15, [r.text for r in responses if r.status_code != 200]
    assert all(r.json() == responses[0].json() for r in responses)
    assert responses[0].json()["seq"] == 2
    call = tenant.viewer("GET", "/v1/calls/dup").json()
    assert call["seq"] == 2
    assert sum(1 for step in call["trace"] if step["outcome"] == "no_answer") == 1


def test_stale_future_and_different_outcomes_are_conflicts(tenant: Tenant) -> None:
    tenant.start("stale")
    tenant.event("stale", 1, "no_answer")
    different = tenant.event("stale", 1, "busy")
    assert (different.status_code, different.json()["error"]["code"]) == (409, "conflict")
    [detail] = different.json()["error"]["details"]
    assert (detail["loc"], detail["current_seq"], detail["status"]) == (["body", "seq"], 2, "in_progress")
    assert tenant.event("stale", 7, "no_answer").status_code == 409
    tenant.event("stale", 2, "caller_hangup")
    stale = tenant.event("stale", 1, "no_answer")
    assert (stale.status_code, stale.json()["error"]["code"]) == (409, "conflict")


def test_telephony_key_cannot_reach_another_tenants_number_or_calls(local_server: LocalServer, tenant: Tenant) -> None:
    other = new_tenant(local_server)
    assert other.start("theirs").status_code == 201

    hijack = tenant.telephony("POST", "/v1/calls", {"call_id": "mine", "from": CALLER, "to": other.number})
    assert (hijack.status_code, hijack.json()["error"]["code"]) == (404, "not_found")
    assert tenant.telephony("POST", "/v1/calls/theirs/events", {"seq": 1, "outcome": "answered"}).status_code == 404
    assert tenant.telephony("GET", "/v1/calls/theirs").status_code == 403  # telephony keys do not read history
    assert tenant.admin("GET", "/v1/calls/theirs").status_code == 404
    assert tenant.admin("GET", "/v1/calls").json()["items"] == []
    assert other.viewer("GET", "/v1/calls/theirs").json()["status"] == "in_progress"
    assert tenant.viewer("POST", "/v1/calls", {"call_id": "x", "to": tenant.number}).status_code == 403


def test_completed_missed_history_filters_and_stats_over_the_local_server(tenant: Tenant) -> None:
    """The README's steps 10-11: an answered call reports `completed`, a missed call is found by `?result=missed`,
    and the scenario's statistics count both."""
    assert tenant.start("answered").status_code == 201
    tenant.event("answered", 1, "no_answer")
    tenant.event("answered", 2, "answered")
    body = {"seq": 3, "outcome": "completed", "duration_seconds": 125, "ended_by": "caller"}
    ended = tenant.telephony("POST", "/v1/calls/answered/events", body)
    assert ended.json() == {"call_id": "answered", "seq": 4, "action": None, "status": "ended", "state_token": None}
    assert tenant.start("missed").status_code == 201
    tenant.event("missed", 1, "no_answer")
    assert tenant.event("missed", 2, "no_answer").json()["status"] == "ended"

    missed = tenant.viewer("GET", "/v1/calls?result=missed")
    assert missed.status_code == 200, missed.text
    assert [(c["call_id"], c["result"]) for c in missed.json()["items"]] == [("missed", "missed")]
    by_extension = tenant.viewer("GET", "/v1/calls?extension=102").json()["items"]
    assert [(c["call_id"], c["duration_seconds"], c["ended_by"]) for c in by_extension] == [("answered", 125, "caller")]
    stats = tenant.viewer("GET", "/v1/scenarios/main/stats")
    assert stats.status_code == 200, stats.text
    assert stats.json()["results"] == {"connected": 1, "completed": 1, "missed": 1}
