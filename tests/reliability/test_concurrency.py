"""Concurrency over real HTTP against `vpbx serve`: optimistic locking and duplicate call events.

20 writers × 10 rounds of read-then-PUT with If-Match on one scenario: every write either wins (2xx, a version no
other write got) or is refused with 412; the final version is the initial one plus the number of wins, and the final
draft is exactly the content of the write that produced it (no lost update). Writes without If-Match are 428.
Call events: 5 sequential replays and 10 concurrent deliveries of the same event → identical answers, one transition.
"""

import json
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.e2e.conftest import LocalServer
from tests.security.audit import AUDIT
from tests.security.figures import report
from tests.security.harness import seed_scenario

pytestmark = pytest.mark.e2e
TIMEOUT = 60
WRITERS = 20
ROUNDS = 10
RACES = 4


@dataclass
class Client:
    base_url: str
    key: str

    def __call__(self, method: str, path: str, body: Any = None, if_match: str | None = None) -> requests.Response:
        headers = {"X-Api-Key": self.key}
        if if_match is not None:
            headers["If-Match"] = if_match
        response = requests.request(method, self.base_url + path, json=body, headers=headers, timeout=TIMEOUT)
        AUDIT.scan(response.status_code, response.content, f"{method} {path}")
        return response


@dataclass
class Tenant:
    admin: Client
    telephony: Client
    number: str


def new_tenant(server: LocalServer) -> Tenant:
    tenant_id = f"conc-{uuid.uuid4().hex[:8]}"
    created = Client(server.base_url, server.operator_key)("POST", "/v1/tenants", {"id": tenant_id, "name": "C"})
    assert created.status_code == 201, created.text
    admin = Client(server.base_url, created.json()["admin_key"]["secret"])
    issued = admin("POST", f"/v1/tenants/{tenant_id}/keys", {"role": "telephony"})
    assert issued.status_code == 201, issued.text
    for extension in ("101", "102"):
        assert admin("POST", "/v1/subscribers", {"extension": extension, "name": extension}).status_code == 201
    draft = admin("POST", "/v1/scenarios", {"id": "main", **seed_scenario("101", "102")})
    assert draft.status_code == 201, draft.text
    assert admin("POST", "/v1/scenarios/main/publish", if_match=draft.headers["ETag"]).status_code == 201
    number = f"+7495{uuid.uuid4().int % 9_000_000 + 1_000_000}"
    assert admin("POST", "/v1/numbers", {"number": number, "scenario_id": "main"}).status_code == 201
    return Tenant(admin, Client(server.base_url, issued.json()["secret"]), number)


@pytest.fixture(scope="module")
def tenant(local_server: LocalServer) -> Tenant:
    return new_tenant(local_server)


def version_of(response: requests.Response) -> int:
    return int(response.headers["ETag"].strip('"'))


def test_if_match_edits_never_lose_an_update(tenant: Tenant) -> None:
    report(if_match_edits_never_lose_an_update(tenant))


def if_match_edits_never_lose_an_update(tenant: Tenant) -> str:
    """The If-Match race; asserts the invariants and returns the figures (tests/reliability/
    test_concurrency_guards_matter.py runs it against storage without the version condition, expecting a failure)."""
    initial = version_of(tenant.admin("GET", "/v1/scenarios/main"))
    based_on_stale: list[str] = []
    wins: list[tuple[int, str]] = []  # (version the write produced, its marker)
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(WRITERS)

    def writer(index: int) -> None:
        barrier.wait()
        for round_ in range(ROUNDS):
            etag = tenant.admin("GET", "/v1/scenarios/main").headers["ETag"]
            marker = f"writer {index} round {round_}"
            body = {**seed_scenario("101", "102"), "name": marker}
            response = tenant.admin("PUT", "/v1/scenarios/main", body, if_match=etag)
            with lock:
                statuses[response.status_code] += 1
                if 200 <= response.status_code < 300:
                    wins.append((version_of(response), marker))
                    if version_of(response) != int(etag.strip('"')) + 1:  # it overwrote a write it never saw
                        based_on_stale.append(f"{marker}: read {etag}, wrote version {version_of(response)}")
                    assert response.json()["name"] == marker

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        list(pool.map(writer, range(WRITERS)))
    elapsed = time.monotonic() - started
    final = tenant.admin("GET", "/v1/scenarios/main")
    assert based_on_stale == [], f"lost updates: {based_on_stale[:5]}"
    assert sum(statuses.values()) == WRITERS * ROUNDS
    assert set(statuses) <= {200, 412}
    assert wins
    assert version_of(final) == initial + len(wins)
    assert sorted(version for version, _ in wins) == list(range(initial + 1, initial + len(wins) + 1))
    assert final.json()["name"] == max(wins)[1]
    return (
        f"Concurrency: {WRITERS} writers x {ROUNDS} rounds of If-Match PUTs in {elapsed:.1f} s: "
        f"{len(wins)} x 2xx, {statuses[412]} x 412, other {sum(statuses.values()) - len(wins) - statuses[412]}; "
        f"version {initial} -> {version_of(final)}"
    )


def test_writes_without_if_match_are_428(tenant: Tenant) -> None:
    before = tenant.admin("GET", "/v1/scenarios/main")
    attempts = [
        tenant.admin("PUT", "/v1/scenarios/main", seed_scenario("101", "102")),
        tenant.admin("DELETE", "/v1/scenarios/main"),
        tenant.admin("POST", "/v1/scenarios/main/publish"),
        tenant.admin("POST", "/v1/scenarios/main/rollback", {"version": 1}),
        tenant.admin("PUT", "/v1/subscribers/101", {"name": "x"}),
        tenant.admin("DELETE", "/v1/subscribers/102"),
    ]
    assert [response.status_code for response in attempts] == [428] * len(attempts)
    assert {response.json()["error"]["code"] for response in attempts} == {"precondition_required"}
    assert tenant.admin("GET", "/v1/scenarios/main").headers["ETag"] == before.headers["ETag"]


def test_duplicate_call_events_give_one_transition_and_identical_answers(tenant: Tenant) -> None:
    report(duplicate_call_events_give_one_transition_and_identical_answers(tenant))


def duplicate_call_events_give_one_transition_and_identical_answers(tenant: Tenant) -> str:
    call_id = f"dup-{uuid.uuid4().hex[:8]}"
    start = {"call_id": call_id, "from": "+79161234567", "to": tenant.number}
    first = tenant.telephony("POST", "/v1/calls", start)
    assert first.status_code == 201, first.text
    replays = [tenant.telephony("POST", "/v1/calls", start) for _ in range(5)]
    assert {json.dumps(r.json(), sort_keys=True) for r in replays} == {json.dumps(first.json(), sort_keys=True)}

    event = {"seq": 1, "outcome": "no_answer"}
    sequential = [tenant.telephony("POST", f"/v1/calls/{call_id}/events", event) for _ in range(5)]
    assert {r.status_code for r in sequential} == {200}
    assert len({json.dumps(r.json(), sort_keys=True) for r in sequential}) == 1
    after_sequential = tenant.admin("GET", f"/v1/calls/{call_id}").json()
    assert after_sequential["seq"] == 2

    answered = {"seq": 2, "outcome": "answered"}
    barrier = threading.Barrier(10)

    def deliver(_: int) -> requests.Response:
        barrier.wait()
        return tenant.telephony("POST", f"/v1/calls/{call_id}/events", answered)

    with ThreadPoolExecutor(max_workers=10) as pool:
        concurrent = list(pool.map(deliver, range(10)))
    bodies = {json.dumps(r.json(), sort_keys=True) for r in concurrent}
    detail = tenant.admin("GET", f"/v1/calls/{call_id}").json()
    # Several rounds: the first burst also starts instances (cold starts), which spreads its requests out.
    racing = [racing_outcomes_give_one_winner(tenant) for _ in range(RACES)][-1]
    figures = (
        f"Call replays: 5 duplicate starts, 5 sequential + 10 concurrent deliveries → statuses "
        f"{sorted({r.status_code for r in sequential + concurrent})}, {len(bodies)} distinct answer(s) to the "
        f"concurrent event, final seq {detail['seq']} (expected 3), {len(detail['trace'])} trace steps; {racing}"
    )
    assert {r.status_code for r in concurrent} == {200}
    assert len(bodies) == 1
    assert detail["seq"] == 3
    assert detail["status"] == "connected"
    outcomes = [step["outcome"] for step in detail["trace"] if step["outcome"]]
    assert outcomes == ["no_answer", "answered"]
    return figures


def racing_outcomes_give_one_winner(tenant: Tenant) -> str:
    """10 concurrent deliveries for one seq, half "answered", half "no_answer" (a retry racing a late report):
    exactly one outcome wins; its deliveries all get the winner's decision, the other outcome's get 409."""
    call_id = f"race-{uuid.uuid4().hex[:8]}"
    start = {"call_id": call_id, "from": "+79161234567", "to": tenant.number}
    assert tenant.telephony("POST", "/v1/calls", start).status_code == 201
    barrier = threading.Barrier(10)

    def deliver(index: int) -> tuple[str, requests.Response]:
        outcome = "answered" if index % 2 else "no_answer"
        barrier.wait()
        return outcome, tenant.telephony("POST", f"/v1/calls/{call_id}/events", {"seq": 1, "outcome": outcome})

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(deliver, range(10)))
    won = {outcome for outcome, response in results if response.status_code == 200}
    answers = {json.dumps(response.json(), sort_keys=True) for _, response in results if response.status_code == 200}
    lost = {outcome for outcome, response in results if response.status_code == 409}
    assert len(won) == 1, f"both outcomes were accepted for one seq: {sorted(won)}"
    assert len(answers) == 1
    assert lost == {"answered", "no_answer"} - won
    trace = tenant.admin("GET", f"/v1/calls/{call_id}").json()["trace"]
    assert [step["outcome"] for step in trace if step["outcome"]] == [*won]
    return f"racing outcomes: 1 winner ({next(iter(won))}), {sum(1 for _, r in results if r.status_code == 409)} x 409"
