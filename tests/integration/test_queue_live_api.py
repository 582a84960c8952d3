"""The ACD's routes in-process through the local gateway on a moto table: a queue's live view while calls wait in it,
pause/unpause (idempotent, roles incl. telephony), 404 for an unknown queue or a non-member, another tenant's queue."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.security.harness import ApiResponse, InProcessApi, in_process_api


@dataclass
class Tenant:
    tenant_id: str
    keys: dict[str, str]
    number: str


@pytest.fixture(scope="module")
def api(moto_server: str) -> Iterator[InProcessApi]:
    with in_process_api(moto_server) as built:
        yield built


def call(api: InProcessApi, key: str, method: str, path: str, body: Any = None) -> ApiResponse:
    return api.request(method, path, key, body)


def new_tenant(api: InProcessApi) -> Tenant:
    tenant_id = f"q-{uuid.uuid4().hex[:8]}"
    created = api.request("POST", "/v1/tenants", api.operator_key, {"id": tenant_id, "name": "Queues"})
    assert created.status == 201, created.text
    keys = {"admin": created.json()["admin_key"]["secret"]}
    for role in ("editor", "viewer", "telephony"):
        issued = api.request("POST", f"/v1/tenants/{tenant_id}/keys", keys["admin"], {"role": role, "name": role})
        keys[role] = issued.json()["secret"]
    admin = keys["admin"]
    for extension in ("201", "202"):
        made = call(api, admin, "POST", "/v1/subscribers", {"extension": extension, "name": f"Agent {extension}"})
        assert made.status == 201, made.text
    members = [{"extension": "201"}, {"extension": "202"}]
    queue = {"id": "support", "name": "Support", "members": members, "strategy": "round_robin"}
    assert call(api, admin, "POST", "/v1/queues", queue).status == 201
    scenario = {
        "name": "Support line",
        "elements": [
            {"id": "start", "type": "incoming_call"},
            {"id": "line", "type": "queue", "queue_id": "support"},
            {"id": "vm", "type": "voicemail", "mailbox": "201"},
        ],
        "connections": [
            {"from": "start", "to": "line"},
            {"from": "line", "exit": "timeout", "to": "vm"},
            {"from": "line", "exit": "no_agents", "to": "vm"},
            {"from": "line", "exit": "full", "to": "vm"},
        ],
    }
    assert call(api, admin, "POST", "/v1/scenarios", {"id": "main", **scenario}).status == 201
    published = api.request("POST", "/v1/scenarios/main/publish", admin, headers={"If-Match": '"1"'})
    assert published.status in (200, 201), published.text
    number = f"+7495{uuid.uuid4().int % 10**7:07d}"
    assert call(api, admin, "POST", "/v1/numbers", {"number": number, "scenario_id": "main"}).status == 201
    return Tenant(tenant_id, keys, number)


@pytest.fixture
def tenant(api: InProcessApi) -> Tenant:
    return new_tenant(api)


def test_live_shows_the_line_and_the_agents(api: InProcessApi, tenant: Tenant) -> None:
    phone = tenant.keys["telephony"]
    decisions = []
    for n in range(3):
        started = call(
            api, phone, "POST", "/v1/calls", {"call_id": f"live-{n}", "from": "+79161234567", "to": tenant.number}
        )
        assert started.status == 201, started.text
        decisions.append(started.json()["action"])
    assert [action["type"] for action in decisions] == ["ring", "ring", "enqueue"]

    live = call(api, tenant.keys["viewer"], "GET", "/v1/queues/support/live")
    assert live.status == 200, live.text
    body = live.json()
    assert body["queue_id"] == "support"
    assert [(w["call_id"], w["position"]) for w in body["waiting"]] == [("live-0", 1), ("live-1", 2), ("live-2", 3)]
    assert [w["offered_to"] for w in body["waiting"]] == [["201"], ["202"], []]
    assert {m["extension"]: m["state"] for m in body["members"]} == {"201": "ringing", "202": "ringing"}

    answered = call(
        api, phone, "POST", "/v1/calls/live-0/events", {"seq": 1, "outcome": "answered", "extension": "201"}
    )
    assert answered.json()["status"] == "connected"
    members = call(api, tenant.keys["admin"], "GET", "/v1/queues/support/live").json()["members"]
    assert {m["extension"]: m["state"] for m in members}["201"] == "busy"
    completed = call(
        api,
        phone,
        "POST",
        "/v1/calls/live-0/events",
        {"seq": 2, "outcome": "completed", "duration_seconds": 30, "ended_by": "caller"},
    )
    assert completed.status == 200, completed.text
    members = call(api, tenant.keys["admin"], "GET", "/v1/queues/support/live").json()["members"]
    assert {m["extension"]: m["state"] for m in members}["201"] == "wrap-up"


def test_pause_and_unpause_are_idempotent_and_open_to_telephony(api: InProcessApi, tenant: Tenant) -> None:
    path = "/v1/queues/support/members/202"
    for key in ("admin", "editor", "telephony"):
        paused = call(api, tenant.keys[key], "POST", f"{path}/pause")
        assert paused.status == 200, paused.text
        assert paused.json() == {**paused.json(), "extension": "202", "state": "paused"}
    started = call(api, tenant.keys["telephony"], "POST", "/v1/calls", {"call_id": "p-1", "to": tenant.number})
    assert started.json()["action"]["targets"][0]["extension"] == "201"  # 202 is paused
    unpaused = call(api, tenant.keys["telephony"], "POST", f"{path}/unpause")
    assert unpaused.status == 200
    assert unpaused.json()["state"] == "idle"
    assert call(api, tenant.keys["editor"], "POST", f"{path}/unpause").json()["state"] == "idle"


def test_roles_unknown_queues_non_members_and_other_tenants(api: InProcessApi, tenant: Tenant) -> None:
    assert call(api, tenant.keys["viewer"], "POST", "/v1/queues/support/members/201/pause").status == 403
    assert call(api, tenant.keys["telephony"], "GET", "/v1/queues/support/live").status == 403
    for path in ("/v1/queues/nope/live", "/v1/queues/nope/members/201/pause"):
        missing = call(api, tenant.keys["admin"], "GET" if path.endswith("live") else "POST", path)
        assert missing.status == 404, missing.text
        assert missing.error_code() == "not_found"
    not_member = call(api, tenant.keys["admin"], "POST", "/v1/queues/support/members/999/pause")
    assert not_member.status == 404
    other = new_tenant(api)
    assert call(api, other.keys["admin"], "POST", "/v1/queues/support/members/201/pause").status == 200
    mine = call(api, tenant.keys["admin"], "GET", "/v1/queues/support/live").json()
    assert {m["extension"]: m["state"] for m in mine["members"]}["201"] == "idle"  # the other tenant's pause
    bad = call(api, tenant.keys["admin"], "POST", "/v1/queues/support/members/abc/pause")
    assert bad.status in (400, 422)
