"""A two-agent queue with five concurrent callers over real HTTP against `vpbx serve` (which runs function instances
in parallel), on the wall clock.

Each caller is a thread playing telephony: it reports `waiting` every second (sooner than poll_seconds, as the
protocol allows), rings the agents it is offered; an agent picks up after half a second, talks two seconds and hangs
up (`completed`); one caller gives up after three seconds (`caller_hangup`). Telephony's view is checked on every
offer: no agent rings for two callers at once or while it talks. Every caller ends connected, timed out or abandoned,
and at the end the queue's live view is empty with both agents idle.
"""

import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from tests.e2e.conftest import LocalServer
from tests.helpers.http import Client, create_tenant, issue_key

pytestmark = pytest.mark.e2e
AGENTS = ("301", "302")
CALLERS = 5
IMPATIENT = 3  # this caller hangs up after 3 s in line
TALK_SECONDS = 2.0


@dataclass
class Agents:
    """Telephony's view of the agents; an agent is freed before its report is sent (the call is over by then)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    ringing: dict[str, str] = field(default_factory=dict)
    talking: dict[str, str] = field(default_factory=dict)
    offers: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def offered(self, call_id: str, agents: tuple[str, ...]) -> None:
        with self.lock:
            self.offers.append((call_id, agents))
            for agent in agents:
                if self.ringing.get(agent, call_id) != call_id:
                    self.violations.append(f"{agent} offered to {call_id} while ringing for {self.ringing[agent]}")
                if agent in self.talking:
                    self.violations.append(f"{agent} offered to {call_id} while talking to {self.talking[agent]}")
                self.ringing[agent] = call_id

    def stop_ringing(self, call_id: str, agents: tuple[str, ...]) -> None:
        with self.lock:
            for agent in agents:
                if self.ringing.get(agent) == call_id:
                    del self.ringing[agent]

    def answer(self, call_id: str, agent: str, others: tuple[str, ...]) -> None:
        with self.lock:
            for other in others:
                if self.ringing.get(other) == call_id:
                    del self.ringing[other]
            self.talking[agent] = call_id

    def hang_up(self, agent: str) -> None:
        with self.lock:
            self.talking.pop(agent, None)


def new_queue_tenant(server: LocalServer) -> tuple[Client, Client, str]:
    tenant_id = f"e2e-queue-{uuid.uuid4().hex[:8]}"
    admin = create_tenant(Client(server.base_url, server.operator_key), tenant_id, "Queue")
    for agent in AGENTS:
        assert admin("POST", "/v1/subscribers", {"extension": agent, "name": f"Agent {agent}"}).status_code == 201
    queue = {
        "id": "support",
        "name": "Support",
        "members": [{"extension": agent} for agent in AGENTS],
        "strategy": "round_robin",
        "poll_seconds": 5,
        "member_ring_seconds": 5,
        "max_wait_seconds": 40,
        "wrapup_seconds": 0,
    }
    assert admin("POST", "/v1/queues", queue).status_code == 201
    scenario = {
        "id": "main",
        "name": "Support line",
        "elements": [
            {"id": "start", "type": "incoming_call"},
            {"id": "line", "type": "queue", "queue_id": "support"},
            {"id": "vm", "type": "voicemail", "mailbox": AGENTS[0]},
        ],
        "connections": [
            {"from": "start", "to": "line"},
            *({"from": "line", "exit": name, "to": "vm"} for name in ("timeout", "no_agents", "full")),
        ],
    }
    draft = admin("POST", "/v1/scenarios", scenario)
    assert draft.status_code == 201, draft.text
    assert admin("POST", "/v1/scenarios/main/publish", if_match=draft.headers["ETag"]).status_code == 201
    number = f"+7495{random.randrange(10**6, 10**7)}"
    assert admin("POST", "/v1/numbers", {"number": number, "scenario_id": "main"}).status_code == 201
    return admin, issue_key(admin, tenant_id, "telephony"), number


def run_caller(telephony: Client, number: str, index: int, agents: Agents, start: threading.Barrier) -> str:
    """One caller through the protocol; its result: connected, timed_out (voicemail) or abandoned."""
    call_id = f"q-{index}-{uuid.uuid4().hex[:6]}"
    start.wait()
    joined = time.monotonic()
    decision = telephony("POST", "/v1/calls", {"call_id": call_id, "from": f"+7916000000{index}", "to": number}).json()

    def report(outcome: str, **body: Any) -> dict[str, Any]:
        response = telephony(
            "POST", f"/v1/calls/{call_id}/events", {"seq": decision["seq"], "outcome": outcome, **body}
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    for _ in range(200):
        action = decision["action"]
        if decision["status"] == "ended":
            return "timed_out" if action and action["type"] == "voicemail" else "ended"
        if action["type"] == "enqueue":
            time.sleep(1.0)
            if index == IMPATIENT and time.monotonic() - joined > 3:
                report("caller_hangup")
                return "abandoned"
            decision = report("waiting")
        elif action["type"] == "ring":
            rung = tuple(target["extension"] for target in action["targets"])
            agents.offered(call_id, rung)
            time.sleep(0.5)
            agents.answer(call_id, rung[0], rung)
            decision = report("answered", extension=rung[0])
            assert decision["status"] == "connected", decision
            time.sleep(TALK_SECONDS)
            agents.hang_up(rung[0])
            report("completed", duration_seconds=int(TALK_SECONDS), ended_by="callee")
            return "connected"
        else:
            raise AssertionError(f"unexpected action {action}")
    raise AssertionError(f"{call_id} never ended")


def warm_up(server: LocalServer, admin: Client) -> None:
    """Start the calls function's instances before the callers race (a cold import on a busy machine can outlast
    a request's timeout): concurrent reads of the live view, which that function serves."""
    url = f"{server.base_url}/v1/queues/support/live"
    with ThreadPoolExecutor(CALLERS) as pool:
        headers = {"X-Api-Key": admin.key}
        answers = pool.map(lambda _: requests.get(url, headers=headers, timeout=180), range(CALLERS))
        assert {answer.status_code for answer in answers} == {200}


def test_two_agents_five_concurrent_callers_end_to_end(local_server: LocalServer) -> None:
    admin, telephony, number = new_queue_tenant(local_server)
    warm_up(local_server, admin)
    agents = Agents()
    start = threading.Barrier(CALLERS)
    with ThreadPoolExecutor(CALLERS) as pool:
        futures = [pool.submit(run_caller, telephony, number, index, agents, start) for index in range(CALLERS)]
        results = [future.result(timeout=120) for future in futures]

    assert agents.violations == []
    assert set(results) <= {"connected", "timed_out", "abandoned"}, results
    assert results.count("connected") >= 2, results
    assert results[IMPATIENT] in {"abandoned", "connected"}
    assert {agent for _, rung in agents.offers for agent in rung} <= set(AGENTS)
    live = admin("GET", "/v1/queues/support/live")
    assert live.status_code == 200, live.text
    assert live.json()["waiting"] == []
    assert {member["state"] for member in live.json()["members"]} == {"idle"}
