"""The switch against a scripted API: queues (enqueue / waiting) and state tokens (issues 14 and 19).

The API here is a small HTTP server in the test: each number has a script that answers the call's start and every
event with the next decision, and the server records every request the switch sends. SIPp plays the caller and the
agents (tests/e2e/sip/sipp/*.xml). Skips only when Kamailio or SIPp cannot be installed on this machine.
"""

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.sip.sipp import Sipp, sipp_binary
from tests.e2e.sip.switch import LOOPBACK, Kamailio, ensure_kamailio

pytestmark = [pytest.mark.e2e]
API_KEY = "telephony-key-of-the-fake-api"
TOKEN_PADDING = 2000  # tokens of about 2 KB, the contract's upper size


@dataclass
class Request:
    at: float  # time.time(), comparable with SIPp's trace clock
    call_id: str
    body: dict[str, Any]
    answer: dict[str, Any] | None = None

    @property
    def outcome(self) -> str:
        return str(self.body.get("outcome", "start"))


Decide = Callable[["FakeCall", Request], dict[str, Any] | None]


@dataclass
class FakeCall:
    """One call as the fake API sees it: its decisions (by seq) and the requests that led to them."""

    call_id: str
    decide: Decide
    tokens: bool | None  # True: every decision carries a token; None: `state_token: null`; False: no such field
    decisions: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, request: Request) -> dict[str, Any]:
        with self.lock:
            self.requests.append(request)
            seq = int(request.body.get("seq", 0))
            if seq + 1 in self.decisions:  # a repeated event: the same decision again
                request.answer = self.decisions[seq + 1]
                return request.answer
            action = self.decide(self, request)
            next_seq = len(self.decisions) + 1
            status = "in_progress" if action is not None else "ended"
            if action is None and request.outcome == "answered":
                status = "connected"
            decision: dict[str, Any] = {"call_id": self.call_id, "seq": next_seq, "action": action, "status": status}
            if self.tokens:
                decision["state_token"] = f"tok.{self.call_id}.{next_seq}." + "x" * TOKEN_PADDING
            elif self.tokens is None:
                decision["state_token"] = None
            self.decisions[next_seq] = decision
            request.answer = decision
            return decision

    def events(self, outcome: str | None = None) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.outcome != "start" and outcome in (None, r.outcome)]

    def wait_for(self, outcome: str, timeout: float = 5.0) -> Request:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.events(outcome)
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no {outcome} for {self.call_id}: {[r.outcome for r in self.events()]}")


class FakeApi:
    """POST /v1/calls and /v1/calls/{id}/events answered by the script registered for the dialed number."""

    def __init__(self) -> None:
        self.scripts: dict[str, tuple[Decide, bool | None]] = {}
        self.calls: dict[str, FakeCall] = {}
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.headers.get("X-Api-Key") != API_KEY:
                    return self.reply(401, {"error": {"code": "unauthorized"}})
                if self.path == "/v1/calls":
                    call_id = body["call_id"]
                    if body["to"] not in api.scripts:
                        return self.reply(404, {"error": {"code": "not_found"}})
                    decide, tokens = api.scripts[body["to"]]
                    api.calls.setdefault(call_id, FakeCall(call_id, decide, tokens))
                    return self.reply(201, api.calls[call_id].answer(Request(time.time(), call_id, body)))
                call_id = self.path.removeprefix("/v1/calls/").removesuffix("/events")
                if call_id not in api.calls:
                    return self.reply(404, {"error": {"code": "not_found"}})
                return self.reply(200, api.calls[call_id].answer(Request(time.time(), call_id, body)))

            def reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{LOOPBACK}:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def number(self, decide: Decide, tokens: bool | None = True) -> str:
        number = f"+7495{uuid.uuid4().int % 10**7:07d}"
        self.scripts[number] = (decide, tokens)
        return number

    def call(self, call_id: str) -> FakeCall:
        return self.calls[call_id]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def ready() -> None:
    reason = ensure_kamailio()
    if reason is not None:
        pytest.skip(reason)
    if sipp_binary() is None:
        pytest.skip("sipp is not installed and scripts/install-kamailio.sh could not install sip-tester")


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kamailio-queue")


@pytest.fixture(scope="module")
def api() -> Iterator[FakeApi]:
    fake = FakeApi()
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def switch(ready: None, api: FakeApi, work_dir: Path) -> Iterator[Kamailio]:
    # API_TIMEOUT_S=1: a pending API request keeps the transaction 4 s (API_TIMEOUT_S * 3 + 1), so any hold longer
    # than that shows the hold's own timers at work.
    kamailio = Kamailio(api.url, API_KEY, work_dir, API_TIMEOUT_S=1, WORKERS=2)
    try:
        kamailio.start()
        yield kamailio
    finally:
        kamailio.stop()
        print(f"kamailio log: {kamailio.log_path}")


def run(*parties: Sipp, timeout: float = 40) -> None:
    """Start the phones first, then the caller (last); every party must finish its scenario."""
    for party in parties:
        party.start()
        time.sleep(0.05)
    try:
        for party in reversed(parties):
            code = party.wait(timeout)
            assert code == 0, f"SIPp {party.name} exited {code}\n{party.failure_details()}"
    finally:
        for party in parties:
            party.stop()


def caller_call_id(caller: Sipp) -> str:
    return caller.first("INVITE", received=False).call_id


def ring(*agents: tuple[str, Sipp], timeout: int | None = 20) -> dict[str, Any]:
    targets = [{"extension": extension, "uri": phone.uri, "dial_delay_seconds": 0} for extension, phone in agents]
    return {"type": "ring", "targets": targets, "strategy": "simultaneous", "timeout_seconds": timeout}


def token_of(request: Request) -> Any:
    return request.body.get("state_token", "<absent>")


def answered_token(call: FakeCall, request: Request) -> Any:
    """The token of the decision `request` answers (the one the switch must echo)."""
    return call.decisions[int(request.body["seq"])].get("state_token", "<absent>")


# ------------------------------------------------------------------------------------------------ state tokens


def ring_then_ring(first: Sipp, second: Sipp) -> Decide:
    """start → ring 101 for 2 s → (no_answer) ring 102 → answered → connected."""

    def decide(call: FakeCall, request: Request) -> dict[str, Any] | None:
        if request.outcome == "start":
            return ring(("101", first), timeout=2)
        if request.outcome == "no_answer":
            return ring(("102", second))
        return None

    return decide


@pytest.mark.parametrize("tokens", [True, None, False], ids=["tokens", "null-token", "no-token-field"])
def test_every_event_echoes_the_state_token_of_the_decision_it_answers(
    api: FakeApi, switch: Kamailio, work_dir: Path, tokens: bool | None
) -> None:
    """no_answer, answered and completed each carry the token of their decision (about 2 KB); an API that sends no
    token (null, or no field at all) gets events without one, and the call works the same."""
    first, second = Sipp("101", "phone_ring", work_dir), Sipp("102", "phone_answer", work_dir)
    number = api.number(ring_then_ring(first, second), tokens=tokens)
    caller = Sipp("caller", "caller", work_dir, remote=switch.address, service=number)

    run(first, second, caller)

    call = api.call(caller_call_id(caller))
    completed = call.wait_for("completed")
    events = call.events()
    assert [e.outcome for e in events] == ["no_answer", "answered", "completed"], events
    assert len(caller.answers()) == 1
    for event in events:
        if tokens:
            assert token_of(event) == answered_token(call, event), event.body
            assert token_of(event).startswith(f"tok.{call.call_id}.{event.body['seq']}.")
        else:
            assert "state_token" not in event.body, event.body
    assert completed.body["seq"] == 3


# ------------------------------------------------------------------------------------------------ queues

POLL = 1  # seconds; the contract's minimum of 5 is the API's choice, the switch honours what it is told


def enqueue(position: int, poll: int = POLL) -> dict[str, Any]:
    return {
        "type": "enqueue",
        "queue_id": "support",
        "position": position,
        "estimated_wait_seconds": 30 * position,
        "hold_prompt": None,
        "poll_seconds": poll,
        "announce": None,
    }


def scripted(*steps: tuple[str, dict[str, Any] | None]) -> tuple[Decide, list[str]]:
    """Answer the n-th request with the n-th step's action, checking it reports the step's outcome; after the last
    step: no action (connected after `answered`, else ended). The second value collects the mismatches."""
    mismatches: list[str] = []

    def decide(call: FakeCall, request: Request) -> dict[str, Any] | None:
        index = len(call.requests) - 1
        if index >= len(steps):
            return None
        expected, action = steps[index]
        if request.outcome != expected:
            mismatches.append(f"request {index}: {request.outcome}, expected {expected}")
        return action

    return decide, mismatches


def hold_messages(caller: Sipp, until: float) -> list[str]:
    """The labels of what the caller received before `until`."""
    return [m.label for m in caller.messages() if m.received and m.at < until]


def test_a_queued_call_waits_on_ringback_reports_waiting_and_is_offered_to_agents_in_turn(
    api: FakeApi, switch: Kamailio, work_dir: Path
) -> None:
    """docs/CALLS.md's example: enqueue 2 → waiting → enqueue 1 → waiting → ring 101 (2 s) → no_answer → enqueue 1 →
    waiting → ring 102 → answered → completed. The caller hears ringback (one 180) and gets no final reply while
    queued, reports come every poll_seconds, each agent rings right after its ring decision, exactly one 200."""
    first, second = Sipp("101", "phone_ring", work_dir), Sipp("102", "phone_answer", work_dir)
    decide, mismatches = scripted(
        ("start", enqueue(2)),
        ("waiting", enqueue(1)),
        ("waiting", ring(("101", first), timeout=2)),
        ("no_answer", enqueue(1)),
        ("waiting", ring(("102", second))),
        ("answered", None),
    )
    number = api.number(decide)
    caller = Sipp("caller", "caller", work_dir, remote=switch.address, service=number)

    run(first, second, caller)

    call = api.call(caller_call_id(caller))
    call.wait_for("completed")
    assert mismatches == []
    assert [r.outcome for r in call.requests] == [
        "start", "waiting", "waiting", "no_answer", "waiting", "answered", "completed",
    ]  # fmt: skip
    invite_sent = caller.first("INVITE", received=False).at
    ringback = caller.first("180 INVITE").at - invite_sent
    assert ringback < 0.5, f"180 after {ringback:.3f} s"
    assert hold_messages(caller, first.first("INVITE").at) == ["100 INVITE", "180 INVITE"]
    assert all(label in ("100 INVITE", "180 INVITE") for label in hold_messages(caller, second.first("INVITE").at))
    assert len(caller.answers()) == 1
    assert caller.first("200 INVITE").at > second.first("INVITE").at
    # `waiting` every poll_seconds after the decision that asked for it.
    for request in call.events("waiting"):
        asked = next(r for r in call.requests if r.answer and r.answer["seq"] == request.body["seq"])
        assert abs(request.at - asked.at - POLL) < 0.35, f"waiting {request.at - asked.at:.3f} s after its enqueue"
    # Each agent rings right after its ring decision.
    for agent, seq in ((first, 3), (second, 5)):
        decided = next(r for r in call.requests if r.answer and r.answer["seq"] == seq)
        assert 0 <= agent.first("INVITE").at - decided.at < 0.5
    # Every event carries the token of the decision it answers, the waiting ones the latest enqueue's.
    for event in call.events():
        assert token_of(event) == answered_token(call, event), event.body
    assert call.wait_for("answered").body["extension"] == "102"
