"""Real SIP through Kamailio: the switch routes calls by asking the vpbx calls API (issue 7).

A `vpbx serve` process holds one tenant with a telephony key; Kamailio runs integrations/kamailio/kamailio.cfg on
loopback and pure-Python phones (tests/e2e/sip/ua.py) play caller and callees. Every timing assertion uses the
phones' own monotonic timestamps. The figures of the seed runs (switch-over error, added latency per API decision)
are printed at the end of the module (`pytest -s` shows them) and kept in `FIGURES` for a bench to reuse.
"""

import itertools
import re
import socket
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.e2e.sip.switch import Api, Kamailio, VpbxServer, closed_tcp_port, ensure_kamailio
from tests.e2e.sip.ua import Caller, CallResult, Phone

pytestmark = [pytest.mark.e2e]

SEED_WAIT = 5  # seconds: the product's minimum wait_seconds
SWITCH_TOLERANCE = 0.5
SEED_RUNS = 5
SEED_STAGGER = 0.7  # seconds between the seed runs' starts, so their timers never fire together
FIGURES: dict[str, Any] = {}


# ------------------------------------------------------------------------------------------------ world


class Reachable(Protocol):
    """A phone of either kind (Python `Phone` or a SIPp phone): what a subscriber's sip_uri points at."""

    @property
    def uri(self) -> str: ...


@dataclass
class Tenant:
    api: Api
    tenant_id: str
    admin_key: str
    telephony_key: str
    numbers: Iterator[int] = field(default_factory=lambda: itertools.count(10))

    def subscriber(self, extension: str, phone: "Reachable") -> None:
        body = {"extension": extension, "name": f"Phone {extension}", "sip_uri": phone.uri}
        self.api.ok("POST", "/v1/subscribers", self.admin_key, body)

    def publish(self, elements: list[dict[str, Any]], connections: list[dict[str, Any]]) -> str:
        """Create and publish a scenario, point a fresh number at it; the number (E.164)."""
        scenario_id = f"s{uuid.uuid4().hex[:8]}"
        body = {"id": scenario_id, "name": scenario_id, "elements": elements, "connections": connections}
        draft = self.api.ok("POST", "/v1/scenarios", self.admin_key, body)
        published = f"/v1/scenarios/{scenario_id}/publish"
        self.api.ok("POST", published, self.admin_key, headers={"If-Match": draft["_etag"]})
        number = f"+74955550{next(self.numbers):03d}"
        self.api.ok("POST", "/v1/numbers", self.admin_key, {"number": number, "scenario_id": scenario_id})
        # One decision straight at the API warms the local server's cold paths for this number (its first request
        # can take seconds on a loaded host, beyond the switch's API_TIMEOUT_S); the warm call never rings anyone.
        self.api.ok("POST", "/v1/calls", self.telephony_key, {"call_id": f"warm-{uuid.uuid4().hex}", "to": number})
        return number

    def trace(self, call_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The call record once routing settled: `answered` and `caller_hangup` are reported asynchronously, after
        the SIP answer went out, so the record may trail the phones by a few milliseconds."""
        deadline = time.monotonic() + timeout
        while True:
            record: dict[str, Any] = self.api.ok("GET", f"/v1/calls/{call_id}", self.admin_key)
            if record["status"] != "in_progress" or time.monotonic() > deadline:
                return record
            time.sleep(0.05)


def ring(element_id: str, extension: str, wait: int | None) -> dict[str, Any]:
    element: dict[str, Any] = {"id": element_id, "type": "internal_subscriber", "extension": extension}
    element.update({"limit_wait": True, "wait_seconds": wait} if wait else {"limit_wait": False})
    return element


START = {"id": "start", "type": "incoming_call"}


def arrow(source: str, target: str, exit_name: str | None = None) -> dict[str, str]:
    return {"from": source, "to": target, **({"exit": exit_name} if exit_name else {})}


@pytest.fixture(scope="module")
def kamailio_ready() -> None:
    reason = ensure_kamailio()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kamailio")


@pytest.fixture(scope="module")
def server(kamailio_ready: None, work_dir: Path) -> Iterator[VpbxServer]:
    server = VpbxServer(operator_key=f"op-{uuid.uuid4().hex}", log_path=work_dir / "vpbx-serve.log")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def tenant(server: VpbxServer) -> Tenant:
    api = Api(server.url)
    tenant_id = f"t{uuid.uuid4().hex[:8]}"
    created = api.ok(
        "POST", "/v1/tenants", server.operator_key, {"name": "SIP test", "id": tenant_id, "sip_domain": "pbx.test"}
    )
    key = api.ok("POST", f"/v1/tenants/{tenant_id}/keys", server.operator_key, {"role": "telephony", "name": "kam"})
    return Tenant(api, tenant_id, created["admin_key"]["secret"], key["secret"])


@pytest.fixture(scope="module")
def voicemail() -> Iterator[Phone]:
    box = Phone("voicemail", mode="answer")
    yield box
    box.close()


@pytest.fixture(scope="module")
def switch(server: VpbxServer, tenant: Tenant, voicemail: Phone, work_dir: Path) -> Iterator[Kamailio]:
    kamailio = Kamailio(server.url, tenant.telephony_key, work_dir, VOICEMAIL_HOST=f'"127.0.0.1:{voicemail.port}"')
    try:
        kamailio.start()
        yield kamailio
    finally:
        kamailio.stop()
        print(f"kamailio log: {kamailio.log_path}")


@pytest.fixture
def phones() -> Iterator[Callable[..., Phone]]:
    made: list[Phone] = []

    def make(name: str, **options: Any) -> Phone:
        phone = Phone(name, **options)
        made.append(phone)
        return phone

    yield make
    for phone in made:
        phone.close()


@pytest.fixture
def caller(switch: Kamailio) -> Iterator[Caller]:
    endpoint = Caller("alice", switch.address)
    yield endpoint
    endpoint.close()


def new_call_id() -> str:
    return f"{uuid.uuid4().hex}@127.0.0.1"


def options_rtt(address: tuple[str, int], samples: int = 10) -> float:
    """Median round trip of OPTIONS through Kamailio: the phones' own baseline for a hop through the switch."""
    rtts = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(1.0)
        port = sock.getsockname()[1]
        for n in range(samples):
            probe = (
                f"OPTIONS sip:{address[0]}:{address[1]} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKrtt{n}{uuid.uuid4().hex[:8]}\r\n"
                f"From: <sip:rtt@127.0.0.1>;tag=rtt\r\nTo: <sip:{address[0]}>\r\nCall-ID: rtt-{uuid.uuid4().hex}\r\n"
                "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            )
            sent = time.monotonic()
            sock.sendto(probe.encode(), address)
            sock.recv(65535)
            rtts.append(time.monotonic() - sent)
    return statistics.median(rtts)


def at(phone: Phone, label: str, call_id: str) -> float:
    event = phone.first(label, call_id)
    assert event is not None, f"{phone.name} never received {label} of {call_id}: {[e.label for e in phone.events]}"
    return event.at


def sent_at(phone: Phone, label: str, call_id: str) -> float:
    event = phone.first(label, call_id, direction="out")
    assert event is not None, f"{phone.name} never sent {label} of {call_id}"
    return event.at


# ------------------------------------------------------------------------------------------------ (a) the seed


def test_seed_manager_unanswered_for_5_s_then_deputy_answers(
    tenant: Tenant, switch: Kamailio, phones: Callable[..., Phone]
) -> None:
    manager, deputy = phones("101", mode="ring"), phones("102", mode="answer", answer_after=0.3)
    tenant.subscriber("101", manager)
    tenant.subscriber("102", deputy)
    number = tenant.publish(
        [START, ring("mgr", "101", SEED_WAIT), ring("deputy", "102", None)],
        [arrow("start", "mgr"), arrow("mgr", "deputy", "no_answer")],
    )
    baseline = options_rtt(switch.address)
    callers = [Caller(f"alice{n}", switch.address) for n in range(SEED_RUNS)]
    call_ids = [new_call_id() for _ in callers]
    results: dict[int, CallResult] = {}

    def place(n: int) -> None:
        time.sleep(n * SEED_STAGGER)
        results[n] = callers[n].call(number, call_ids[n], timeout=SEED_WAIT + 10)

    threads = [threading.Thread(target=place, args=(n,)) for n in range(SEED_RUNS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deputy.wait_for(lambda e: e.label == "BYE" and e.message.call_id == call_ids[-1], 2.0)
    try:
        switch_errors, first_decisions = [], []
        for n, call_id in enumerate(call_ids):
            result = results[n]
            assert result.final_status == 200, f"run {n}: {result.final_status} {result.final_reason}"
            assert result.response is not None
            assert "102@" in result.response.header("contact")
            switched_after = at(deputy, "INVITE", call_id) - at(manager, "INVITE", call_id)
            assert abs(switched_after - SEED_WAIT) <= SWITCH_TOLERANCE, f"run {n}: switched after {switched_after}"
            # The manager stops ringing when the deputy starts (tm cancels the timed-out branch).
            assert abs(at(manager, "CANCEL", call_id) - at(deputy, "INVITE", call_id)) < SWITCH_TOLERANCE
            assert at(deputy, "ACK", call_id) > sent_at(deputy, "200 INVITE", call_id)
            assert at(deputy, "BYE", call_id) > at(deputy, "ACK", call_id)
            switch_errors.append(switched_after - SEED_WAIT)
            first_decisions.append(at(manager, "INVITE", call_id) - result.invite_at - baseline)

            trace = tenant.trace(call_id)
            # connected while they talk; the BYE's `completed` may already have ended it
            assert (trace["status"], trace["result"]) in (("connected", "connected"), ("ended", "completed"))
            visits = [(s["element_id"], s.get("outcome"), s.get("exit")) for s in trace["trace"]]
            assert ("mgr", "no_answer", "no_answer") in visits
            assert ("deputy", "answered", None) in visits
            assert visits.index(("mgr", "no_answer", "no_answer")) < visits.index(("deputy", "answered", None))
    finally:
        for endpoint in callers:
            endpoint.close()
    FIGURES["switch_over_error_s"] = switch_errors
    FIGURES["first_decision_added_latency_s"] = first_decisions
    FIGURES["options_rtt_baseline_s"] = baseline


# ------------------------------------------------------------------------------------------------ (b) busy


def test_busy_phone_moves_to_the_next_element_at_once(
    tenant: Tenant, switch: Kamailio, phones: Callable[..., Phone], caller: Caller
) -> None:
    first, second = phones("201", mode="busy"), phones("202", mode="answer", answer_after=0.1)
    tenant.subscriber("201", first)
    tenant.subscriber("202", second)
    number = tenant.publish(
        [START, ring("first", "201", 20), ring("second", "202", None)],
        [arrow("start", "first"), arrow("first", "second", "no_answer")],
    )
    call_id = new_call_id()

    result = caller.call(number, call_id)

    assert result.final_status == 200
    gap = at(second, "INVITE", call_id) - sent_at(first, "486 INVITE", call_id)
    assert 0 <= gap < 0.5, f"next element rang {gap:.3f} s after busy"
    FIGURES.setdefault("busy_to_next_invite_s", []).append(gap)
    steps = [(s["element_id"], s.get("outcome")) for s in tenant.trace(call_id)["trace"]]
    assert ("first", "busy") in steps
    assert ("second", "answered") in steps


# ------------------------------------------------------------------------------------------------ (c) group


def test_simultaneous_group_first_answer_wins_and_the_other_is_cancelled(
    tenant: Tenant, switch: Kamailio, phones: Callable[..., Phone], caller: Caller
) -> None:
    quick, slow = phones("301", mode="answer", answer_after=0.8), phones("302", mode="ring")
    tenant.subscriber("301", quick)
    tenant.subscriber("302", slow)
    group = {"id": "sales", "type": "group", "members": ["301", "302"], "strategy": "simultaneous"}
    number = tenant.publish([START, {**group, "limit_wait": True, "wait_seconds": 20}], [arrow("start", "sales")])
    call_id = new_call_id()

    result = caller.call(number, call_id)

    assert result.final_status == 200
    assert result.response is not None
    assert "301@" in result.response.header("contact")
    both_rang = abs(at(quick, "INVITE", call_id) - at(slow, "INVITE", call_id))
    assert both_rang < 0.2, f"members rang {both_rang:.3f} s apart"
    answered = sent_at(quick, "200 INVITE", call_id)
    cancelled = at(slow, "CANCEL", call_id)
    assert 0 <= cancelled - answered < 0.5
    assert slow.first("487 INVITE", call_id, direction="out") is not None
    assert quick.first("CANCEL", call_id) is None
    trace = tenant.trace(call_id)
    assert trace["result"] in ("connected", "completed")  # completed once the BYE's report is in
    assert [s.get("outcome") for s in trace["trace"]].count("answered") == 1


# ------------------------------------------------------------------------------------------------ (d) all fail


def test_everyone_fails_then_the_caller_hears_the_hangup_mapping(
    tenant: Tenant, switch: Kamailio, phones: Callable[..., Phone], caller: Caller
) -> None:
    busy, declining = phones("401", mode="busy"), phones("402", mode="reject", reject_code=603)
    tenant.subscriber("401", busy)
    tenant.subscriber("402", declining)
    number = tenant.publish(
        [START, ring("a", "401", 10), ring("b", "402", None)],
        [arrow("start", "a"), arrow("a", "b", "no_answer")],
    )
    call_id = new_call_id()

    result = caller.call(number, call_id)

    # 402 declined (603 -> busy); "unanswered" after a busy phone is passed on as 486 Busy Here.
    assert result.final_status == 486
    assert result.response is not None
    assert result.response.header("x-vpbx-reason") == "unanswered"
    assert at(declining, "INVITE", call_id) > sent_at(busy, "486 INVITE", call_id)
    assert tenant.trace(call_id)["result"] == "missed"  # rung, nobody answered (docs/CALLS.md, Call results)


def test_everyone_fails_then_voicemail_takes_the_call(
    tenant: Tenant, switch: Kamailio, phones: Callable[..., Phone], caller: Caller, voicemail: Phone
) -> None:
    busy = phones("501", mode="busy")
    tenant.subscriber("501", busy)
    number = tenant.publish(
        [START, ring("a", "501", 10), {"id": "vm", "type": "voicemail", "mailbox": "501"}],
        [arrow("start", "a"), arrow("a", "vm", "no_answer")],
    )
    call_id = new_call_id()

    result = caller.call(number, call_id)

    assert result.final_status == 200
    invite = voicemail.first("INVITE", call_id)
    assert invite is not None
    assert invite.message.first_line.startswith("INVITE sip:501@127.0.0.1:")
    assert invite.message.header("x-vpbx-action") == "voicemail;target=501"
    assert tenant.trace(call_id)["result"] == "voicemail"


def test_caller_gives_up_while_ringing_and_the_api_hears_caller_hangup(
    tenant: Tenant, switch: Kamailio, phones: Callable[..., Phone], caller: Caller
) -> None:
    phone = phones("601", mode="ring")
    tenant.subscriber("601", phone)
    number = tenant.publish([START, ring("a", "601", 30)], [arrow("start", "a")])
    call_id = new_call_id()

    result = caller.call(number, call_id, cancel_after=0.5, timeout=5)

    assert result.final_status == 487
    assert at(phone, "CANCEL", call_id) - result.invite_at < 1.0
    trace = tenant.trace(call_id)
    assert (trace["status"], trace["result"]) == ("ended", "abandoned")  # the caller hung up while routed


def test_a_number_the_api_does_not_know_gets_404(switch: Kamailio, caller: Caller) -> None:
    result = caller.call("+74955550998", new_call_id(), timeout=5)

    assert result.final_status == 404


# ------------------------------------------------------------------------------------------------ (e) API down


@pytest.fixture
def silent_api() -> Iterator[int]:
    """A port that accepts TCP connections and never answers (a hung API)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener.getsockname()[1]
    listener.close()


@pytest.mark.parametrize("api", ["refused", "hung"])
def test_api_down_gives_503_and_nothing_hangs(api: str, work_dir: Path, silent_api: int, kamailio_ready: None) -> None:
    port = closed_tcp_port() if api == "refused" else silent_api
    kamailio = Kamailio(f"http://127.0.0.1:{port}", "unused", work_dir)
    caller = Caller("alice", kamailio.address)
    try:
        kamailio.start()
        result = caller.call("+74955550999", new_call_id(), timeout=10)
        again = caller.call("+74955550999", new_call_id(), timeout=10)  # the switch is still serving
    finally:
        caller.close()
        kamailio.stop()
    limit = 1.0 if api == "refused" else 3.0  # API_TIMEOUT_S is 2
    for attempt in (result, again):
        assert attempt.final_status == 503
        assert attempt.final_at is not None
        assert attempt.final_at - attempt.invite_at < limit
        assert attempt.response is not None
        assert attempt.response.header("x-vpbx-reason") == "api_unavailable"


# ------------------------------------------------------------------------------------------------ figures


def api_times_summary(log: str) -> str:
    """Median/max of the `POST … -> status in N ms` lines the config logs, per endpoint kind."""
    times: dict[str, list[int]] = {"start": [], "event": []}
    for path, took in re.findall(r"vpbx: POST \S+?(/v1/calls\S*) -> \d+ in (-?\d+) ms", log):
        times["event" if path.endswith("/events") else "start"].append(int(took))
    return (
        "; ".join(
            f"{kind} median {statistics.median(values)} ms, max {max(values)} ms (n={len(values)})"
            for kind, values in times.items()
            if values
        )
        or "no log lines"
    )


def test_print_figures(switch: Kamailio) -> None:
    """Not an assertion of speed: prints what the runs above measured (visible with `pytest -s`)."""
    if "switch_over_error_s" not in FIGURES:
        pytest.skip("the seed runs did not complete")
    errors = FIGURES["switch_over_error_s"]
    added = FIGURES["first_decision_added_latency_s"]
    print(
        "\nKamailio + vpbx API figures\n"
        f"  switch-over error vs {SEED_WAIT} s over {len(errors)} runs: "
        f"mean {statistics.mean(errors) * 1000:+.1f} ms, max |err| {max(map(abs, errors)) * 1000:.1f} ms, "
        f"all: {', '.join(f'{e * 1000:+.0f}' for e in errors)} ms\n"
        f"  first decision (INVITE -> relayed INVITE minus OPTIONS RTT {FIGURES['options_rtt_baseline_s'] * 1000:.2f}"
        f" ms): median {statistics.median(added) * 1000:.1f} ms, max {max(added) * 1000:.1f} ms\n"
        f"  busy -> next INVITE (event decision): "
        f"{', '.join(f'{g * 1000:.1f}' for g in FIGURES.get('busy_to_next_invite_s', []))} ms\n"
        f"  API time per request as Kamailio logged it: {api_times_summary(switch.log())}"
    )
    assert len(errors) >= SEED_RUNS
