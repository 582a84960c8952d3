"""A small SIP user agent on UDP loopback for end-to-end tests of the switch.

`Phone` is a callee that rings forever, answers after a delay, answers busy or rejects; `Caller` places one call
(INVITE, ACK, BYE). Both record every message they send or receive with a `time.monotonic()` timestamp, so tests
measure timing from the phones' own clocks rather than from the switch's logs.

Only what a proxy test needs: no SDP negotiation, no authentication, no retransmission timers (loopback does not
lose datagrams). Messages are parsed leniently; header names are compared case-insensitively.
"""

import itertools
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

LOOPBACK = "127.0.0.1"
SDP_BODY = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"
_COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length"}


# ------------------------------------------------------------------------------------------------ messages


@dataclass
class SipMessage:
    first_line: str
    headers: list[tuple[str, str]]
    body: str = ""

    @property
    def is_request(self) -> bool:
        return not self.first_line.startswith("SIP/2.0")

    @property
    def method(self) -> str:
        """The request's method, or the method of the CSeq a response answers."""
        if self.is_request:
            return self.first_line.split(" ", 1)[0]
        return self.header("cseq").split()[-1]

    @property
    def status(self) -> int:
        return int(self.first_line.split()[1]) if not self.is_request else 0

    @property
    def call_id(self) -> str:
        return self.header("call-id")

    def header(self, name: str) -> str:
        values = self.all(name)
        return values[0] if values else ""

    def all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key == wanted]

    def to_bytes(self) -> bytes:
        lines = [self.first_line, *(f"{_pretty(k)}: {v}" for k, v in self.headers if k != "content-length")]
        lines.append(f"Content-Length: {len(self.body.encode())}")
        return ("\r\n".join(lines) + "\r\n\r\n" + self.body).encode()


def _pretty(name: str) -> str:
    special = {"call-id": "Call-ID", "cseq": "CSeq", "www-authenticate": "WWW-Authenticate"}
    return special.get(name, "-".join(part.capitalize() for part in name.split("-")))


def parse(data: bytes) -> SipMessage:
    text = data.decode(errors="replace")
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # folded continuation line
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, _, value = line.partition(":")
        key = name.strip().lower()
        headers.append((_COMPACT.get(key, key), value.strip()))
    return SipMessage(lines[0], headers, body)


def uri_address(uri: str) -> tuple[str, int]:
    """Host and port of a SIP URI such as `<sip:101@127.0.0.1:5071;lr>` (default port 5060)."""
    inner = uri.strip().strip("<>").split(">", 1)[0]
    inner = inner.split(":", 1)[1] if inner.startswith("sip:") else inner
    hostport = inner.split("@", 1)[-1].split(";", 1)[0]
    host, _, port = hostport.partition(":")
    return host, int(port or 5060)


def via_address(via: str) -> tuple[str, int]:
    """Where a response goes: the top Via's sent-by, or its received/rport parameters."""
    sent_by, *params = via.split(";")
    host, _, port = sent_by.split()[-1].partition(":")
    values = dict(param.strip().partition("=")[::2] for param in params)
    return values.get("received") or host, int(values.get("rport") or port or 5060)


def _tag() -> str:
    return uuid.uuid4().hex[:10]


def _branch() -> str:
    return f"z9hG4bK{uuid.uuid4().hex[:16]}"


# ------------------------------------------------------------------------------------------------ endpoint


@dataclass(frozen=True)
class Event:
    at: float  # time.monotonic()
    direction: Literal["in", "out"]
    message: SipMessage

    @property
    def label(self) -> str:
        message = self.message
        return message.method if message.is_request else f"{message.status} {message.method}"


class Endpoint:
    """A UDP socket on loopback with a receiver thread and a timestamped log of every message."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOOPBACK, 0))
        self.port: int = self.sock.getsockname()[1]
        self.events: list[Event] = []
        self._changed = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._receive, name=f"sip-{name}", daemon=True)
        self._thread.start()

    @property
    def uri(self) -> str:
        return f"sip:{self.name}@{LOOPBACK}:{self.port}"

    def send(self, message: SipMessage, address: tuple[str, int]) -> float:
        """Send and log `message`; the time it was sent."""
        sent_at = time.monotonic()
        with self._changed:
            self.events.append(Event(sent_at, "out", message))
            self._changed.notify_all()
        self.sock.sendto(message.to_bytes(), address)
        return sent_at

    def close(self) -> None:
        self._closed = True
        self.sock.close()

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float) -> Event | None:
        """The first logged event matching `predicate`, waiting up to `timeout` seconds for it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = next((e for e in self.events if predicate(e)), None)
                remaining = deadline - time.monotonic()
                if found is not None or remaining <= 0:
                    return found
                self._changed.wait(remaining)

    def received(self, label: str, call_id: str | None = None) -> list[Event]:
        """Messages received with this label (`INVITE`, `486 INVITE`…), of one call when `call_id` is given."""
        return [
            e
            for e in self.events
            if e.direction == "in" and e.label == label and (call_id is None or e.message.call_id == call_id)
        ]

    def first(self, label: str, call_id: str | None = None, direction: Literal["in", "out"] = "in") -> Event | None:
        return next(
            (
                e
                for e in self.events
                if e.direction == direction and e.label == label and (call_id is None or e.message.call_id == call_id)
            ),
            None,
        )

    def _receive(self) -> None:
        while not self._closed:
            try:
                data, source = self.sock.recvfrom(65535)
            except OSError:
                return
            if not data.strip():
                continue  # keep-alive
            message = parse(data)
            with self._changed:
                self.events.append(Event(time.monotonic(), "in", message))
                self._changed.notify_all()
            self.handle(message, source)

    def handle(self, message: SipMessage, source: tuple[str, int]) -> None:
        """React to a received message (the log already has it); a caller only waits for responses."""


def response_to(
    request: SipMessage, status: int, reason: str, to_tag: str | None, contact: str | None = None
) -> SipMessage:
    headers = [(k, v) for k, v in request.headers if k in ("via", "from", "call-id", "cseq", "record-route")]
    to = request.header("to")
    if to_tag and ";tag=" not in to:
        to = f"{to};tag={to_tag}"
    headers.insert(2, ("to", to))
    if contact:
        headers.append(("contact", f"<{contact}>"))
    return SipMessage(f"SIP/2.0 {status} {reason}", headers)


# ------------------------------------------------------------------------------------------------ callee


PhoneMode = Literal["ring", "answer", "busy", "reject"]


class Phone(Endpoint):
    """A callee. mode: `ring` forever, `answer` after `answer_after` s, `busy` (486), `reject` (`reject_code`)."""

    def __init__(self, name: str, mode: PhoneMode = "ring", answer_after: float = 0.0, reject_code: int = 603) -> None:
        self.mode = mode
        self.answer_after = answer_after
        self.reject_code = reject_code
        self._invites: dict[str, tuple[SipMessage, str]] = {}  # INVITE branch -> (request, to tag)
        self._done: set[str] = set()  # branches that got a final response
        self._lock = threading.Lock()
        super().__init__(name)

    def handle(self, message: SipMessage, source: tuple[str, int]) -> None:
        if not message.is_request:
            return
        method = message.method
        if method == "INVITE":
            self._on_invite(message)
        elif method == "CANCEL":
            self._on_cancel(message)
        elif method in ("BYE", "OPTIONS"):
            self._reply(message, 200, "OK", None)
        # ACK needs no answer; it is logged.

    def _on_invite(self, invite: SipMessage) -> None:
        branch = _branch_of(invite)
        with self._lock:
            if branch in self._invites:
                return  # retransmission
            tag = _tag()
            self._invites[branch] = (invite, tag)
        self._reply(invite, 180, "Ringing", tag)
        if self.mode == "busy":
            self._final(branch, 486, "Busy Here")
        elif self.mode == "reject":
            self._final(branch, self.reject_code, "Decline" if self.reject_code == 603 else "Rejected")
        elif self.mode == "answer":
            timer = threading.Timer(self.answer_after, self._final, (branch, 200, "OK"))
            timer.daemon = True
            timer.start()

    def _on_cancel(self, cancel: SipMessage) -> None:
        self._reply(cancel, 200, "OK", None)
        self._final(_branch_of(cancel), 487, "Request Terminated")

    def _final(self, branch: str, status: int, reason: str) -> None:
        with self._lock:
            if branch in self._done or branch not in self._invites:
                return
            self._done.add(branch)
            invite, tag = self._invites[branch]
        response = response_to(invite, status, reason, tag, contact=self.uri if status == 200 else None)
        if status == 200:
            response.headers.append(("content-type", "application/sdp"))
            response.body = SDP_BODY
        self.send(response, via_address(invite.header("via")))

    def _reply(self, request: SipMessage, status: int, reason: str, tag: str | None) -> None:
        self.send(response_to(request, status, reason, tag), via_address(request.header("via")))


def _branch_of(message: SipMessage) -> str:
    via = message.header("via")
    for param in via.split(";")[1:]:
        if param.strip().startswith("branch="):
            return param.strip()[7:].split(",")[0]
    return ""


# ------------------------------------------------------------------------------------------------ caller


@dataclass
class CallResult:
    final_status: int | None
    final_reason: str
    invite_at: float
    final_at: float | None
    response: SipMessage | None = None
    extra: dict[str, str] = field(default_factory=dict)


class Caller(Endpoint):
    """Places calls through a proxy; answers ACK to every final response and hangs up answered calls with BYE."""

    _cseq = itertools.count(1)

    def __init__(self, name: str, proxy: tuple[str, int]) -> None:
        self.proxy = proxy
        super().__init__(name)

    def call(
        self,
        number: str,
        call_id: str | None = None,
        timeout: float = 30.0,
        hold: float = 0.2,
        cancel_after: float | None = None,
    ) -> CallResult:
        """INVITE sip:<number>@proxy; wait for the final response; ACK it; after `hold` s hang up with BYE.

        With `cancel_after`, the caller gives up (CANCEL) when no final response came within that many seconds.
        """
        call_id = call_id or f"{uuid.uuid4().hex}@{LOOPBACK}"
        from_tag, branch, cseq = _tag(), _branch(), next(self._cseq)
        proxy_host, proxy_port = self.proxy
        request_uri = f"sip:{number}@{proxy_host}:{proxy_port}"
        invite = SipMessage(
            f"INVITE {request_uri} SIP/2.0",
            [
                ("via", f"SIP/2.0/UDP {LOOPBACK}:{self.port};branch={branch};rport"),
                ("max-forwards", "70"),
                ("from", f"<sip:{self.name}@{LOOPBACK}>;tag={from_tag}"),
                ("to", f"<{request_uri}>"),
                ("call-id", call_id),
                ("cseq", f"{cseq} INVITE"),
                ("contact", f"<{self.uri}>"),
                ("content-type", "application/sdp"),
            ],
            SDP_BODY,
        )
        invite_at = self.send(invite, self.proxy)

        def is_final(event: Event) -> bool:
            message = event.message
            return (
                event.direction == "in"
                and not message.is_request
                and message.call_id == call_id
                and message.method == "INVITE"
                and message.status >= 200
            )

        final = self.wait_for(is_final, cancel_after if cancel_after is not None else timeout)
        if final is None and cancel_after is not None:
            self._cancel(invite)
            final = self.wait_for(is_final, timeout)
        if final is None:
            return CallResult(None, "no final response", invite_at, None)
        response = final.message
        if response.status >= 300:
            self._ack_failure(invite, response)
        else:
            self._ack_and_bye(invite, response, cseq, hold)
        return CallResult(response.status, response.first_line.split(" ", 2)[-1], invite_at, final.at, response)

    def _cancel(self, invite: SipMessage) -> None:
        headers = [(k, v) for k, v in invite.headers if k in ("via", "max-forwards", "from", "to", "call-id")]
        headers.append(("cseq", f"{invite.header('cseq').split()[0]} CANCEL"))
        self.send(SipMessage(f"CANCEL {invite.first_line.split()[1]} SIP/2.0", headers), self.proxy)

    def _ack_failure(self, invite: SipMessage, response: SipMessage) -> None:
        """ACK of a non-2xx final response: same branch, hop by hop to the proxy."""
        headers = [(k, v) for k, v in invite.headers if k in ("via", "max-forwards", "from", "call-id")]
        headers.insert(3, ("to", response.header("to")))
        headers.append(("cseq", f"{invite.header('cseq').split()[0]} ACK"))
        self.send(SipMessage(f"ACK {invite.first_line.split()[1]} SIP/2.0", headers), self.proxy)

    def _ack_and_bye(self, invite: SipMessage, response: SipMessage, cseq: int, hold: float) -> None:
        """End-to-end ACK and BYE to the callee's Contact, through the route set the proxy recorded."""
        remote = response.header("contact").strip("<>").split(">", 1)[0]
        routes = [r.strip() for value in reversed(response.all("record-route")) for r in value.split(",")]
        next_hop = uri_address(routes[0]) if routes else uri_address(remote)
        for method, number in (("ACK", cseq), ("BYE", cseq + 1)):
            headers = [
                ("via", f"SIP/2.0/UDP {LOOPBACK}:{self.port};branch={_branch()};rport"),
                ("max-forwards", "70"),
                ("from", invite.header("from")),
                ("to", response.header("to")),
                ("call-id", invite.call_id),
                ("cseq", f"{number} {method}"),
                *(("route", route) for route in routes),
            ]
            self.send(SipMessage(f"{method} {remote} SIP/2.0", headers), next_hop)
            if method == "ACK":
                time.sleep(hold)
