"""The switch under an independent SIP tester (SIPp) and a slow, hung or hostile world (issue 17).

SIPp plays the caller and the phones (tests/e2e/sip/sipp/*.xml); a small HTTP proxy in front of `vpbx serve` makes
the API slow or hung on demand. Timing assertions use SIPp's own message traces. Skips only when Kamailio or SIPp
cannot be installed on this machine (scripts/install-kamailio.sh says why).
"""

import hashlib
import json
import re
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.sip.sipp import Sipp, run, sipp_binary
from tests.e2e.sip.switch import LOOPBACK, SIP_DOMAIN, Kamailio, VpbxServer
from tests.e2e.sip.ua import Caller, Phone
from tests.e2e.test_kamailio import (  # noqa: F401  (fixtures)
    SEED_WAIT,
    START,
    SWITCH_TOLERANCE,
    Tenant,
    arrow,
    kamailio_ready,
    ring,
    server,
    tenant,
    work_dir,
)

pytestmark = [pytest.mark.e2e]
HUNG_NUMBER = "+74955559990"
PHONES = {"201": "secret-201", "202": "secret-202"}


class SlowApi:
    """An HTTP proxy to the API: `events_delay` seconds before every /events request; calls to HUNG_NUMBER never
    get an answer (the connection stays open)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.events_delay = 0.0
        self.events: list[tuple[str, dict[str, Any], int]] = []  # (path, body, API status) of every /events POST
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == "/v1/calls" and json.loads(body or b"{}").get("to") == HUNG_NUMBER:
                    time.sleep(30)
                    return
                if self.path.endswith("/events"):
                    time.sleep(proxy.events_delay)
                request = urllib.request.Request(proxy.upstream + self.path, data=body, method="POST")
                for name in ("Content-Type", "X-Api-Key"):
                    if self.headers.get(name):
                        request.add_header(name, self.headers[name])
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        status, payload = response.status, response.read()
                except urllib.error.HTTPError as error:
                    status, payload = error.code, error.read()
                if self.path.endswith("/events"):
                    proxy.events.append((self.path, json.loads(body), status))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{LOOPBACK}:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def reports(self, call_id: str, outcome: str, timeout: float = 5.0) -> list[tuple[dict[str, Any], int]]:
        """The bodies (and API statuses) of `outcome` events the switch posted for `call_id`, waiting for one."""
        deadline = time.monotonic() + timeout
        while True:
            found = [
                (body, status)
                for path, body, status in self.events
                if f"/v1/calls/{call_id}/" in path and body.get("outcome") == outcome
            ]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def sipp_ready(kamailio_ready: None) -> None:  # noqa: F811
    if sipp_binary() is None:
        pytest.skip("sipp is not installed and scripts/install-kamailio.sh could not install sip-tester")


@pytest.fixture(scope="module")
def slow_api(server: VpbxServer) -> Iterator[SlowApi]:  # noqa: F811
    proxy = SlowApi(server.url)
    yield proxy
    proxy.close()


@pytest.fixture(scope="module")
def switch(sipp_ready: None, slow_api: SlowApi, tenant: Tenant, work_dir: Path) -> Iterator[Kamailio]:  # noqa: F811
    kamailio = Kamailio(slow_api.url, tenant.telephony_key, work_dir, phones=PHONES, API_TIMEOUT_S=2, WORKERS=4)
    try:
        kamailio.start()
        yield kamailio
    finally:
        kamailio.stop()
        print(f"kamailio log: {kamailio.log_path}")


@pytest.fixture
def fast_api(slow_api: SlowApi) -> Iterator[SlowApi]:
    slow_api.events_delay = 0.0
    yield slow_api
    slow_api.events_delay = 0.0


def caller_call_id(caller: Sipp) -> str:
    invite = caller.first("INVITE", received=False)
    return next(line.split(":", 1)[1].strip() for line in invite.text.splitlines() if line.startswith("Call-ID"))


def test_sipp_seed_101_rings_for_the_decided_seconds_then_102_answers(
    tenant: Tenant,  # noqa: F811
    switch: Kamailio,
    fast_api: SlowApi,
    work_dir: Path,  # noqa: F811
) -> None:
    manager, deputy = Sipp("101", "phone_ring", work_dir), Sipp("102", "phone_answer", work_dir)
    tenant.subscriber("101", manager)
    tenant.subscriber("102", deputy)
    number = tenant.publish(
        [START, ring("mgr", "101", SEED_WAIT), ring("deputy", "102", None)],
        [arrow("start", "mgr"), arrow("mgr", "deputy", "no_answer")],
    )
    caller = Sipp("caller", "caller", work_dir, remote=switch.address, service=number)

    run(manager, deputy, caller)

    switched_after = deputy.first("INVITE").at - manager.first("INVITE").at
    assert abs(switched_after - SEED_WAIT) <= SWITCH_TOLERANCE, f"switched after {switched_after:.3f} s"
    assert len(caller.answers()) == 1, caller.labels()
    assert caller.first("100 INVITE").at - caller.first("INVITE", received=False).at < 0.2
    trace = tenant.trace(caller_call_id(caller))
    assert trace["result"] in ("connected", "completed")  # completed once the BYE's report is in
    print(f"\nSIPp seed: switched after {switched_after * 1000:.0f} ms (goal {SEED_WAIT * 1000} ms)")


def test_sipp_busy_phone_moves_on_at_once(
    tenant: Tenant,  # noqa: F811
    switch: Kamailio,
    fast_api: SlowApi,
    work_dir: Path,  # noqa: F811
) -> None:
    busy, other = Sipp("301", "phone_busy", work_dir), Sipp("302", "phone_answer", work_dir)
    tenant.subscriber("301", busy)
    tenant.subscriber("302", other)
    number = tenant.publish(
        [START, ring("first", "301", 20), ring("second", "302", None)],
        [arrow("start", "first"), arrow("first", "second", "no_answer")],
    )
    caller = Sipp("caller", "caller", work_dir, remote=switch.address, service=number)

    run(busy, other, caller)

    gap = other.first("INVITE").at - busy.first("486 INVITE", received=False).at
    assert 0 <= gap < 0.5, f"next phone rang {gap:.3f} s after busy"
    assert len(caller.answers()) == 1, caller.labels()


def test_sipp_slow_api_late_answer_on_the_old_branch_is_never_relayed(
    tenant: Tenant,  # noqa: F811
    switch: Kamailio,
    fast_api: SlowApi,
    work_dir: Path,  # noqa: F811
) -> None:
    """101 answers just as its time runs out (its 200 crosses the CANCEL) while the API takes 1.5 s to say `ring
    102`: the caller gets exactly one 200 (102's); 101 gets ACK + BYE from the switch."""
    late, deputy = Sipp("401", "phone_late", work_dir), Sipp("402", "phone_answer", work_dir)
    tenant.subscriber("401", late)
    tenant.subscriber("402", deputy)
    number = tenant.publish(
        [START, ring("mgr", "401", SEED_WAIT), ring("deputy", "402", None)],
        [arrow("start", "mgr"), arrow("mgr", "deputy", "no_answer")],
    )
    fast_api.events_delay = 1.5
    caller = Sipp("caller", "caller", work_dir, remote=switch.address, service=number)

    run(late, deputy, caller)

    assert len(caller.answers()) == 1, caller.labels()
    assert deputy.count("ACK") == 1  # the caller talks to 402
    assert deputy.count("BYE") == 1
    assert late.count("ACK") == 1
    assert late.count("BYE") == 1
    # The old branch was cancelled before the API answered (the CANCEL does not wait for the decision).
    assert late.first("CANCEL").at < deputy.first("INVITE").at - 1.0
    trace = tenant.trace(caller_call_id(caller))
    steps = [(s["element_id"], s.get("outcome")) for s in trace["trace"]]
    assert ("mgr", "no_answer") in steps
    assert ("mgr", "answered") not in steps


def test_sipp_caller_cancels_while_the_switch_asks_the_api(
    tenant: Tenant,  # noqa: F811
    switch: Kamailio,
    fast_api: SlowApi,
    work_dir: Path,  # noqa: F811
) -> None:
    manager, deputy = Sipp("501", "phone_ring", work_dir), Sipp("502", "phone_ring", work_dir, calls=0)
    tenant.subscriber("501", manager)
    tenant.subscriber("502", deputy)
    number = tenant.publish(
        [START, ring("mgr", "501", SEED_WAIT), ring("deputy", "502", None)],
        [arrow("start", "mgr"), arrow("mgr", "deputy", "no_answer")],
    )
    fast_api.events_delay = 1.5
    caller = Sipp(
        "caller", "caller_cancel", work_dir, remote=switch.address, service=number, pause_ms=SEED_WAIT * 1000 + 500
    )

    run(manager, caller)

    assert caller.count("487 INVITE") == 1
    assert caller.count("500 INVITE") == 0
    time.sleep(1.5)  # the pending decision comes back; the switch must not ring 502 for a call that is gone
    assert deputy.messages() == []
    trace = tenant.trace(caller_call_id(caller))
    assert (trace["status"], trace["result"]) == ("ended", "abandoned")  # the caller hung up while routed


# ------------------------------------------------------------------------------------------------ raw SIP probes


def send_and_collect(sock: socket.socket, message: str, address: tuple[str, int], wait: float = 1.0) -> list[str]:
    sock.sendto(message.encode(), address)
    sock.settimeout(wait)
    replies = []
    try:
        while True:
            replies.append(sock.recv(65535).decode(errors="replace"))
            sock.settimeout(0.2)
    except OSError:
        return replies


def invite(target: str, address: tuple[str, int], port: int, call_id: str, host: str = LOOPBACK, **extra: str) -> str:
    headers = "".join(f"{name}: {value}\r\n" for name, value in extra.items())
    to_tag = ""
    return (
        f"INVITE sip:{target}@{address[0]}:{address[1]} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK{uuid.uuid4().hex[:12]};rport\r\n"
        f"From: <sip:mallory@{host}>;tag={uuid.uuid4().hex[:8]}\r\nTo: <sip:{target}@{address[0]}>{to_tag}\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:mallory@{host}:{port}>\r\nMax-Forwards: 70\r\n"
        f"{headers}Content-Length: 0\r\n\r\n"
    )


def test_a_spoofed_in_dialog_invite_is_refused_not_relayed(switch: Kamailio) -> None:
    """A made-up To tag and a Route header through the switch to a 'gateway': toll fraud if relayed."""
    gateway = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    gateway.bind((LOOPBACK, 0))
    gateway_port = gateway.getsockname()[1]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        message = invite("+79990001122", switch.address, sock.getsockname()[1], f"spoof-{uuid.uuid4().hex}")
        message = message.replace(
            "To: <sip:+79990001122@127.0.0.1>",
            f"To: <sip:+79990001122@127.0.0.1>;tag=madeup\r\nRoute: <sip:{LOOPBACK}:{switch.port};lr>,"
            f" <sip:{LOOPBACK}:{gateway_port};lr>",
        ).replace(
            f"INVITE sip:+79990001122@{LOOPBACK}:{switch.port}", f"INVITE sip:+79990001122@{LOOPBACK}:{gateway_port}"
        )
        replies = send_and_collect(sock, message, switch.address)
    gateway.settimeout(0.5)
    try:
        relayed = gateway.recv(65535)
    except OSError:
        relayed = b""
    gateway.close()
    assert relayed == b"", "the spoofed INVITE reached the gateway"
    assert replies
    assert replies[0].startswith("SIP/2.0 403"), replies
    assert "X-Vpbx-Reason: unknown_dialog" in replies[0]


def test_an_untrusted_address_must_authenticate_and_a_bad_register_is_refused(switch: Kamailio) -> None:
    """Only the peers of peers.list start calls unauthenticated; a phone registers with digest credentials."""
    untrusted = "127.0.0.5"  # any 127/8 address reaches loopback; peers.list trusts 127.0.0.1 only
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((untrusted, 0))
        port = sock.getsockname()[1]
        replies = send_and_collect(
            sock, invite("+74955550010", switch.address, port, uuid.uuid4().hex, untrusted), switch.address
        )
        assert replies
        assert replies[0].startswith("SIP/2.0 407"), replies
        register = (
            f"REGISTER sip:{switch.address[0]}:{switch.address[1]} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {untrusted}:{port};branch=z9hG4bK{uuid.uuid4().hex[:12]};rport\r\n"
            f"From: <sip:201@pbx.test>;tag=r1\r\nTo: <sip:201@pbx.test>\r\nCall-ID: {uuid.uuid4().hex}\r\n"
            f"CSeq: 1 REGISTER\r\nContact: <sip:201@{untrusted}:{port}>\r\nExpires: 60\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        challenge = send_and_collect(sock, register, switch.address)
        assert challenge
        assert challenge[0].startswith("SIP/2.0 401"), challenge
        wrong = register.replace("CSeq: 1 REGISTER", "CSeq: 2 REGISTER").replace(
            "Expires: 60",
            'Expires: 60\r\nAuthorization: Digest username="201", realm="pbx.test", nonce="forged", '
            f'uri="sip:{LOOPBACK}", response="00000000000000000000000000000000"',
        )
        refused = send_and_collect(sock, wrong, switch.address)
        assert refused
        assert not refused[0].startswith("SIP/2.0 200"), refused


def test_a_hung_api_never_delays_other_calls_sip(switch: Kamailio, tenant: Tenant) -> None:  # noqa: F811
    """30 calls at once to a number whose API request hangs: each still gets 100 Trying within 200 ms, then 503
    once API_TIMEOUT_S passes; OPTIONS through the switch stays fast meanwhile."""
    socks = []
    sent: dict[int, float] = {}
    trying: dict[int, float] = {}
    finals: dict[int, tuple[float, str]] = {}
    try:
        for _ in range(30):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((LOOPBACK, 0))
            socks.append(sock)
        for n, sock in enumerate(socks):
            sent[n] = time.monotonic()
            sock.sendto(
                invite(HUNG_NUMBER, switch.address, sock.getsockname()[1], uuid.uuid4().hex).encode(), switch.address
            )
        options_rtts = []
        deadline = time.monotonic() + 15
        while len(finals) < len(socks) and time.monotonic() < deadline:
            probe_sent = time.monotonic()
            if switch._answers_options():
                options_rtts.append(time.monotonic() - probe_sent)
            for n, sock in enumerate(socks):
                sock.settimeout(0.0)
                try:
                    while True:
                        data = sock.recv(65535).decode(errors="replace")
                        if data.startswith("SIP/2.0 100"):
                            trying.setdefault(n, time.monotonic())
                        elif data.startswith("SIP/2.0"):
                            finals.setdefault(n, (time.monotonic(), data.split("\r\n", 1)[0]))
                except OSError:
                    pass
            time.sleep(0.01)
    finally:
        for sock in socks:
            sock.close()
    delays = sorted(trying[n] - sent[n] for n in trying)
    assert len(trying) == 30, f"only {len(trying)} calls got 100 Trying"
    assert delays[-1] < 0.2, f"100 Trying took up to {delays[-1] * 1000:.0f} ms"
    assert len(finals) == 30
    assert all(" 503 " in line for _, line in finals.values()), finals
    assert options_rtts
    assert max(options_rtts) < 0.25, f"OPTIONS took up to {max(options_rtts) * 1000:.0f} ms"
    print(
        f"\nhung API, 30 calls: 100 Trying max {delays[-1] * 1000:.1f} ms; 503 after "
        f"{min(f[0] - sent[n] for n, f in finals.items()):.2f}-{max(f[0] - sent[n] for n, f in finals.items()):.2f} s;"
        f" OPTIONS max {max(options_rtts) * 1000:.1f} ms"
    )


# ------------------------------------------------------------------------------------------------ reports


def find_values(record: Any, key: str) -> list[Any]:
    """Every value of `key` anywhere in a JSON document."""
    if isinstance(record, dict):
        return [v for k, v in record.items() if k == key] + [x for v in record.values() for x in find_values(v, key)]
    if isinstance(record, list):
        return [x for item in record for x in find_values(item, key)]
    return []


def test_answered_and_completed_are_reported_with_extension_and_duration(
    tenant: Tenant,  # noqa: F811
    switch: Kamailio,
    fast_api: SlowApi,
    work_dir: Path,  # noqa: F811
) -> None:
    """The caller talks ~1 s and hangs up: the switch posts `answered` (+ extension) after relaying the 200 and
    `completed` (duration, ended_by caller) on the BYE, and the call record shows the end."""
    phone = Sipp("701", "phone_answer", work_dir)
    tenant.subscriber("701", phone)
    number = tenant.publish([START, ring("a", "701", 20)], [arrow("start", "a")])
    caller = Sipp("caller", "caller", work_dir, remote=switch.address, service=number)

    run(phone, caller)

    call_id = caller_call_id(caller)
    answered = fast_api.reports(call_id, "answered")
    assert answered, fast_api.events
    assert answered[0][0]["extension"] == "701"
    assert answered[0][0]["seq"] == 1
    assert answered[0][0]["outcome"] == "answered"
    completed = fast_api.reports(call_id, "completed")
    assert len(completed) == 1, fast_api.events
    body, status = completed[0]
    assert body["seq"] == 2
    assert body["ended_by"] == "caller"
    talk = caller.first("BYE", received=False).at - caller.first("200 INVITE").at
    assert abs(body["duration_seconds"] - talk) <= 1, (body, talk)
    assert status == 200, body
    record = tenant.api.ok("GET", f"/v1/calls/{call_id}", tenant.admin_key)
    assert body["duration_seconds"] in find_values(record, "duration_seconds"), record


# ------------------------------------------------------------------------------------------------ registration


def digest_register(sock: socket.socket, switch: Kamailio, user: str, password: str, contact_port: int) -> list[str]:
    """REGISTER `user` with Contact at 127.0.0.1:contact_port, answering the digest challenge."""
    port = sock.getsockname()[1]
    call_id = uuid.uuid4().hex

    def register(cseq: int, authorization: str = "") -> str:
        return (
            f"REGISTER sip:{SIP_DOMAIN} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {LOOPBACK}:{port};branch=z9hG4bK{uuid.uuid4().hex[:12]};rport\r\n"
            f"From: <sip:{user}@{SIP_DOMAIN}>;tag=reg{user}\r\nTo: <sip:{user}@{SIP_DOMAIN}>\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{user}@{LOOPBACK}:{contact_port}>\r\n"
            f"Expires: 300\r\nMax-Forwards: 70\r\n{authorization}Content-Length: 0\r\n\r\n"
        )

    challenge = send_and_collect(sock, register(1), switch.address)
    assert challenge
    assert challenge[0].startswith("SIP/2.0 401"), challenge
    fields = dict(re.findall(r'(\w+)="([^"]*)"', challenge[0].split("WWW-Authenticate:", 1)[1].split("\r\n", 1)[0]))
    md5 = lambda text: hashlib.md5(text.encode()).hexdigest()  # noqa: E731, S324 (SIP digest is MD5)
    uri = f"sip:{SIP_DOMAIN}"
    ha1, ha2 = md5(f"{user}:{fields['realm']}:{password}"), md5(f"REGISTER:{uri}")
    if "qop" in fields:
        response = md5(f"{ha1}:{fields['nonce']}:00000001:c0ffee:auth:{ha2}")
        extra = ', qop=auth, nc=00000001, cnonce="c0ffee"'
    else:
        response, extra = md5(f"{ha1}:{fields['nonce']}:{ha2}"), ""
    authorization = (
        f'Authorization: Digest username="{user}", realm="{fields["realm"]}", nonce="{fields["nonce"]}", '
        f'uri="{uri}", response="{response}", algorithm=MD5{extra}\r\n'
    )
    return send_and_collect(sock, register(2, authorization), switch.address)


def test_a_registered_phone_is_rung_at_its_registration_and_an_unregistered_one_is_skipped(
    tenant: Tenant,  # noqa: F811
    switch: Kamailio,
    fast_api: SlowApi,
) -> None:
    """Subscribers without sip_uri ring at sip:<ext>@<tenant sip_domain> = SIP_DOMAIN: the registrar decides."""
    desk = Phone("201", mode="answer", answer_after=0.1)
    caller = Caller("carrier", switch.address)
    try:
        for extension in ("202", "201"):
            tenant.api.ok("POST", "/v1/subscribers", tenant.admin_key, {"extension": extension, "name": extension})
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((LOOPBACK, 0))
            accepted = digest_register(sock, switch, "201", PHONES["201"], desk.port)
        assert accepted
        assert accepted[0].startswith("SIP/2.0 200"), accepted
        number = tenant.publish(
            [START, ring("away", "202", 10), ring("desk", "201", None)],
            [arrow("start", "away"), arrow("away", "desk", "no_answer")],
        )
        call_id = f"{uuid.uuid4().hex}@{LOOPBACK}"

        result = caller.call(number, call_id, timeout=10)

        assert result.final_status == 200, result
        assert desk.first("INVITE", call_id) is not None
        steps = [(s["element_id"], s.get("outcome")) for s in tenant.trace(call_id)["trace"]]
        assert ("away", "unavailable") in steps  # 202 never registered: skipped, not rung
        assert ("desk", "answered") in steps
    finally:
        caller.close()
        desk.close()


def test_tcp_and_tls_listeners_answer(
    switch: Kamailio,
    tenant: Tenant,  # noqa: F811
    work_dir: Path,  # noqa: F811
) -> None:
    secure = Kamailio("http://127.0.0.1:9", tenant.telephony_key, work_dir, tls=True)

    def options(stream: socket.socket, transport: str, port: int) -> str:
        local = stream.getsockname()[1]
        stream.sendall(
            (
                f"OPTIONS sip:{LOOPBACK}:{port};transport={transport.lower()} SIP/2.0\r\n"
                f"Via: SIP/2.0/{transport} {LOOPBACK}:{local};branch=z9hG4bK{uuid.uuid4().hex[:12]}\r\n"
                f"From: <sip:probe@{LOOPBACK}>;tag=p\r\nTo: <sip:{LOOPBACK}>\r\nCall-ID: {uuid.uuid4().hex}\r\n"
                "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            ).encode()
        )
        stream.settimeout(3)
        return stream.recv(65535).decode(errors="replace")

    with socket.create_connection(switch.address, timeout=3) as tcp:
        assert options(tcp, "TCP", switch.port).startswith("SIP/2.0 200")
    try:
        secure.start()
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the test's self-signed certificate
        raw = socket.create_connection((LOOPBACK, secure.tls_port), timeout=3)
        with context.wrap_socket(raw, server_hostname=SIP_DOMAIN) as tls:
            assert options(tls, "TLS", secure.tls_port).startswith("SIP/2.0 200")
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
    finally:
        secure.stop()
