"""Webhooks without the network: signatures, the backoff schedule, the event mapping table, the dispatcher's state
machine on the in-memory store, and the sender's refusals and deadline (a TLS server on 127.0.0.1 only)."""

import contextlib
import hashlib
import hmac
import itertools
import json
import socket
import ssl
import threading
import time
import typing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from vpbx.domain import calls as call_vocabulary
from vpbx.domain.webhooks import (
    EVENT_TYPES,
    RETRY_DELAYS_SECONDS,
    RETRY_WINDOW,
    EventType,
    SigningSecrets,
    Webhook,
    max_attempts,
    retry_delay,
    signature,
    signature_header,
    verify_signature,
)
from vpbx.service.webhook_delivery import (
    AttemptResult,
    DeliveryMessage,
    WebhookDispatcher,
    WebhookSender,
    WebhookSettings,
    handle_delivery_batch,
    handle_stream_batch,
)
from vpbx.store.dynamodb.stream_events import RESULT_EVENTS, STATUS_EVENTS, events_of
from vpbx.store.memory import InMemoryRepository

from tests.helpers.webhook_receiver import write_certificate

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
SECRET = "whsec_test"

# ---------------------------------------------------------------------------------------------- signatures


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"id":"evt_1"}'
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature(SECRET, 1700000000, body) == expected
    assert signature_header([SECRET], 1700000000, body) == f"t=1700000000,v1={expected}"


def test_verification_accepts_a_fresh_signature_and_refuses_tampering_and_replays() -> None:
    body = b'{"id":"evt_1"}'
    header = signature_header([SECRET], 1700000000, body)
    assert verify_signature(SECRET, header, body, now=1700000000 + 299)
    assert not verify_signature(SECRET, header, body, now=1700000000 + 301)  # outside the 5-minute window
    assert not verify_signature(SECRET, header, body + b" ", now=1700000000)
    assert not verify_signature("whsec_other", header, body, now=1700000000)
    assert not verify_signature(SECRET, "v1=" + signature(SECRET, 1700000000, body), body, now=1700000000)  # no t
    assert not verify_signature(SECRET, "t=abc,v1=00", body, now=1700000000)


def test_after_a_rotation_both_secrets_sign_for_a_day() -> None:
    rotated = SigningSecrets(current="whsec_old").rotated("whsec_new", NOW)
    assert rotated.active(NOW) == ["whsec_new", "whsec_old"]
    assert rotated.active(NOW + timedelta(hours=25)) == ["whsec_new"]
    header = signature_header(rotated.active(NOW), 1700000000, b"{}")
    assert verify_signature("whsec_old", header, b"{}", now=1700000000)
    assert verify_signature("whsec_new", header, b"{}", now=1700000000)


# ---------------------------------------------------------------------------------------------- backoff


def test_backoff_grows_exponentially_and_ends_within_24_hours() -> None:
    delays = [retry_delay(n) for n in range(1, max_attempts())]
    assert delays == list(RETRY_DELAYS_SECONDS)
    assert delays[0] == 60
    growing = [delay for delay in delays if delay is not None]
    assert all(later >= 3 * earlier or later == 28800 for earlier, later in itertools.pairwise(growing))
    assert timedelta(seconds=sum(growing)) < RETRY_WINDOW
    assert timedelta(seconds=sum(growing)) > RETRY_WINDOW * 0.9  # the window is used, not wasted
    assert retry_delay(max_attempts()) is None
    assert retry_delay(0) is None
    assert max_attempts() == 9


def test_local_delays_override_the_schedule() -> None:
    settings = WebhookSettings.from_env({"VPBX_WEBHOOK_RETRY_DELAYS": "0.2,0.5"})
    assert [settings.retry_delay(n) for n in (1, 2, 3)] == [0.2, 0.5, None]
    assert WebhookSettings.from_env({}).retry_delay(1) == 60


def test_a_ca_file_is_refused_without_the_insecure_switch() -> None:
    with pytest.raises(ValueError, match="only with"):
        WebhookSettings.from_env({"VPBX_WEBHOOK_CA_FILE": "/tmp/ca.pem"})
    assert WebhookSettings.from_env({"VPBX_WEBHOOK_CA_FILE": "x", "VPBX_ALLOW_INSECURE_WEBHOOKS": "1"}).allow_insecure


# ---------------------------------------------------------------------------------------------- the mapping table


def known_call_results() -> set[str]:
    """Every final result a call can have: the domain's result type."""
    return set(call_vocabulary.CALL_RESULTS)


def test_every_call_result_has_a_row_in_the_table() -> None:
    assert set(RESULT_EVENTS) == known_call_results()


def test_every_call_event_type_comes_from_exactly_one_rule() -> None:
    produced = {"call.started", *STATUS_EVENTS.values(), *(e for e in RESULT_EVENTS.values() if e)}
    call_types = {event for event in EVENT_TYPES if event.startswith("call.")}
    assert produced == call_types
    assert set(typing.get_args(EventType)) == set(EVENT_TYPES)


def summary(status: str, result: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "call_id": "c-1",
        "caller": "+79161234567",
        "dialed": "+74951234567",
        "scenario_id": "main",
        "version": 1,
        "status": status,
        "result": result,
        "seq": 1,
        "started_at": "2026-12-03T12:00:00+00:00",
        "updated_at": "2026-12-03T12:00:05+00:00",
        "expires_at": 1,
        **extra,
    }


def call_record(old: dict[str, Any] | None, new: dict[str, Any] | None, tenant: str = "acme") -> dict[str, Any]:
    keys = {"PK": {"S": f"TENANT#{tenant}"}, "SK": {"S": "CALL#c-1"}}
    change: dict[str, Any] = {"Keys": keys, "SequenceNumber": "100"}
    if old is not None:
        change["OldImage"] = {**keys, "summary": {"S": json.dumps(old)}, "body": {"B": b"\x00"}}
    if new is not None:
        change["NewImage"] = {**keys, "summary": {"S": json.dumps(new)}}
    return {"eventName": "MODIFY" if old and new else "INSERT" if new else "REMOVE", "dynamodb": change}


def types_of(record: dict[str, Any]) -> list[str]:
    return [event.type for event in events_of(record)]


def test_a_call_walks_started_answered_completed() -> None:
    ringing, connected = summary("in_progress"), summary("connected", "connected", answered_extension="101")
    ended = summary("ended", "completed", answered_extension="101", duration_seconds=42)
    assert types_of(call_record(None, ringing)) == ["call.started"]
    assert types_of(call_record(ringing, ringing)) == []  # a mid-route step
    assert types_of(call_record(ringing, connected)) == ["call.answered"]
    assert types_of(call_record(connected, ended)) == ["call.completed"]
    assert types_of(call_record(ended, None)) == []  # TTL removal
    (completed,) = events_of(call_record(connected, ended))
    assert completed.data["answered_extension"] == "101"
    assert completed.data["duration_seconds"] == 42
    assert completed.tenant_id == "acme"
    assert completed.created == datetime(2026, 12, 3, 12, 0, 5, tzinfo=UTC)


@pytest.mark.parametrize(("result", "event"), [(r, e) for r, e in RESULT_EVENTS.items() if e is not None])
def test_each_final_result_is_its_event(result: str, event: str) -> None:
    assert types_of(call_record(summary("in_progress"), summary("ended", result))) == [event]


def test_a_call_that_ends_at_its_start_is_started_and_final_at_once() -> None:
    """E.g. a number whose scenario has no published version: result `failed` (nobody could answer)."""
    assert types_of(call_record(None, summary("ended", "failed"))) == ["call.started", "call.missed"]


def test_event_ids_are_stable_per_occurrence_and_differ_between_them() -> None:
    ringing, connected = summary("in_progress"), summary("connected", "connected")
    answered = call_record(ringing, connected)
    assert events_of(answered)[0].id == events_of(answered)[0].id  # a redelivered record: the same id
    later_write = call_record(ringing, {**connected, "seq": 2, "updated_at": "2026-12-03T12:00:09+00:00"})
    assert events_of(later_write)[0].id == events_of(answered)[0].id  # the same answer written twice
    assert events_of(call_record(None, ringing))[0].id != events_of(answered)[0].id
    other_tenant = call_record(ringing, connected, tenant="other")
    assert events_of(other_tenant)[0].id != events_of(answered)[0].id


def test_summaries_without_newer_fields_or_with_unknown_results_do_not_break() -> None:
    bare = {"call_id": "c-1", "status": "ended", "result": "teleported"}
    assert types_of(call_record({"call_id": "c-1", "status": "in_progress"}, bare)) == []
    assert types_of(call_record(None, {"no": "call id"})) == []
    broken = call_record(None, None)
    broken["dynamodb"]["NewImage"] = {"summary": {"S": "{not json"}}
    assert events_of(broken) == []
    assert events_of({"dynamodb": {"Keys": {"PK": {"S": "APIKEY#x"}, "SK": {"S": "CALL#x"}}}}) == []


def scenario_record(old_version: int | None, new_version: int, latest: int) -> dict[str, Any]:
    keys = {"PK": {"S": "TENANT#acme"}, "SK": {"S": "SCENARIO#main"}}
    old = {**keys, **({"published_version": {"N": str(old_version)}} if old_version else {})}
    new = {**keys, "published_version": {"N": str(new_version)}, "latest_version": {"N": str(latest)}}
    change = {"Keys": keys, "OldImage": old, "NewImage": new, "SequenceNumber": "7", "ApproximateCreationDateTime": 1}
    return {"eventName": "MODIFY", "dynamodb": change}


def test_publish_and_rollback_are_scenario_published() -> None:
    (published,) = events_of(scenario_record(None, 1, 1))
    assert published.type == "scenario.published"
    assert published.data == {"scenario_id": "main", "version": 1, "previous_version": None, "rollback": False}
    (rolled_back,) = events_of(scenario_record(3, 2, 3))
    assert rolled_back.data["rollback"] is True
    assert rolled_back.data["previous_version"] == 3
    assert events_of(scenario_record(2, 2, 2)) == []  # a draft edit


# ---------------------------------------------------------------------------------------------- the dispatcher


@dataclass
class ScriptedSender:
    """Answers each POST from a script (status codes; None is a timeout) and records what it was sent."""

    script: list[int | None]
    sent: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
        self.sent.append((url, body, dict(headers)))
        status = self.script.pop(0) if self.script else 200
        return AttemptResult(
            status, None if status and status < 300 else f"HTTP {status}" if status else "timed out", 5
        )


@dataclass
class RecordingQueue:
    scheduled: list[tuple[DeliveryMessage, float]] = field(default_factory=list)

    def schedule(self, message: DeliveryMessage, delay_seconds: float) -> None:
        self.scheduled.append((message, delay_seconds))

    def take(self) -> DeliveryMessage:
        return self.scheduled.pop(0)[0]


@dataclass
class Rig:
    store: InMemoryRepository
    sender: ScriptedSender
    queue: RecordingQueue
    dispatcher: WebhookDispatcher
    clock: list[datetime]

    def deliveries(self) -> list[Any]:
        return self.store.list_deliveries("acme", "wh-1", 100, None).items


def rig(script: list[int | None], events: list[EventType] | None = None, enabled: bool = True) -> Rig:
    store, sender, queue, clock = InMemoryRepository(), ScriptedSender(script), RecordingQueue(), [NOW]
    hook = Webhook(id="wh-1", url="https://hooks.example.com/x", events=events or ["call.answered"], enabled=enabled)
    store.create_webhook("acme", hook, SigningSecrets(current=SECRET))
    dispatcher = WebhookDispatcher(store, sender, queue, WebhookSettings(), clock=lambda: clock[0])  # type: ignore[arg-type]
    return Rig(store, sender, queue, dispatcher, clock)


ANSWERED = call_record(summary("in_progress"), summary("connected", "connected"))


def test_an_event_is_recorded_enqueued_then_delivered_signed() -> None:
    test = rig([200])
    assert handle_stream_batch(test.dispatcher, [ANSWERED]) == {"batchItemFailures": []}
    assert [d.state for d in test.deliveries()] == ["pending"]
    assert test.sender.sent == []
    test.dispatcher.deliver(test.queue.take())
    (delivery,) = test.deliveries()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    _url, body, headers = test.sender.sent[0]
    assert headers["Vpbx-Event-Id"] == json.loads(body)["id"] == delivery.event_id
    assert verify_signature(SECRET, headers["Vpbx-Signature"], body, now=int(NOW.timestamp()))
    assert set(json.loads(body)) == {"id", "type", "created", "tenant_id", "data"}


def test_failures_back_off_then_the_delivery_is_dead() -> None:
    test = rig([500] * 20)
    test.dispatcher.dispatch_record(ANSWERED)
    message = test.queue.take()
    for attempt in range(1, max_attempts() + 1):
        test.dispatcher.deliver(message)
        (delivery,) = test.deliveries()
        assert delivery.attempts == attempt
        assert delivery.last_status_code == 500
        if attempt == max_attempts():
            assert delivery.state == "dead"
            assert delivery.next_attempt_at is None
            assert test.queue.scheduled == []
            break
        message, delay = test.queue.scheduled.pop(0)
        assert delay == RETRY_DELAYS_SECONDS[attempt - 1]
        assert delivery.state == "retrying"
        assert delivery.next_attempt_at == message.due == test.clock[0] + timedelta(seconds=delay)
        test.clock[0] = message.due
    assert len(test.sender.sent) == max_attempts()
    assert len({headers["Vpbx-Event-Id"] for _, _, headers in test.sender.sent}) == 1  # one id for every attempt


def test_a_wait_longer_than_sqs_allows_is_re_enqueued_until_due() -> None:
    test = rig([500, 500, 500, 500, 500, 200])
    test.dispatcher.dispatch_record(ANSWERED)
    for _ in range(5):
        test.dispatcher.deliver(test.queue.take())
        message, delay = test.queue.scheduled[-1]
        test.clock[0] = message.due
    assert delay == 4860  # 81 minutes: SQS delays at most 15, so it comes back early
    test.clock[0] = message.due - timedelta(seconds=delay - 900)
    test.dispatcher.deliver(test.queue.take())
    requeued, wait = test.queue.scheduled[-1]
    assert requeued == message
    assert wait == delay - 900
    assert len(test.sender.sent) == 5
    test.clock[0] = message.due
    test.dispatcher.deliver(test.queue.take())
    assert test.deliveries()[0].state == "delivered"


def test_redelivered_records_and_duplicate_messages_send_once() -> None:
    test = rig([200])
    test.dispatcher.dispatch_record(ANSWERED)
    message = test.queue.take()
    test.dispatcher.deliver(message)
    test.dispatcher.dispatch_record(ANSWERED)  # Lambda retried the stream batch
    test.dispatcher.deliver(message)  # SQS delivered the message twice
    assert len(test.sender.sent) == 1
    assert test.queue.scheduled == []


def test_a_record_whose_message_was_lost_is_enqueued_again() -> None:
    """The delivery was recorded but the process died before the enqueue: the stream's redelivery enqueues it."""
    test = rig([200])
    test.dispatcher.dispatch_record(ANSWERED)
    test.queue.scheduled.clear()  # lost
    test.dispatcher.dispatch_record(ANSWERED)
    test.dispatcher.deliver(test.queue.take())
    assert test.deliveries()[0].state == "delivered"


def test_unsubscribed_events_and_disabled_webhooks_get_nothing() -> None:
    test = rig([200], events=["call.completed"])
    assert test.dispatcher.dispatch_record(ANSWERED) == 0
    disabled = rig([200], enabled=False)
    assert disabled.dispatcher.dispatch_record(ANSWERED) == 0


def test_retries_of_a_webhook_disabled_meanwhile_end_dead() -> None:
    test = rig([500])
    test.dispatcher.dispatch_record(ANSWERED)
    test.dispatcher.deliver(test.queue.take())
    hook = test.store.get_webhook("acme", "wh-1")
    test.store.update_webhook("acme", hook.item.model_copy(update={"enabled": False}), hook.version)
    message = test.queue.take()
    test.clock[0] = message.due
    test.dispatcher.deliver(message)
    assert test.deliveries()[0].state == "dead"
    assert "disabled" in (test.deliveries()[0].last_error or "")


def test_storage_failures_are_reported_for_redelivery() -> None:
    test = rig([200])

    def broken(*_: Any) -> Any:
        raise RuntimeError("table unavailable")

    test.store.webhook_targets = broken  # type: ignore[method-assign,assignment]
    records = [
        call_record(None, summary("in_progress")) | {"dynamodb": {**ANSWERED["dynamodb"], "SequenceNumber": "5"}}
    ]
    assert handle_stream_batch(test.dispatcher, records) == {"batchItemFailures": [{"itemIdentifier": "5"}]}
    message = DeliveryMessage(
        tenant_id="acme", webhook_id="wh-1", event_id="evt_x", created=NOW, attempts=0, due=NOW
    ).model_dump_json()
    test.store.get_delivery = broken  # type: ignore[method-assign,assignment]
    batch = [{"messageId": "m1", "body": message}, {"messageId": "m2", "body": "not json"}]
    assert handle_delivery_batch(test.dispatcher, batch) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


def test_a_ping_is_one_attempt_recorded() -> None:
    test = rig([503])
    delivery = test.dispatcher.ping("acme", "wh-1")
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("dead", 1, 503)
    assert test.queue.scheduled == []
    assert json.loads(test.sender.sent[0][1])["type"] == "webhook.ping"


# ---------------------------------------------------------------------------------------------- the sender


@dataclass
class Connections:
    attempts: list[tuple[str, int]] = field(default_factory=list)

    def connect(self, address: tuple[str, int], timeout: float) -> Any:
        self.attempts.append(address)
        raise ConnectionRefusedError("recorded, not connected")


@pytest.mark.parametrize("resolved", [["10.0.0.5"], ["127.0.0.1"], ["93.184.216.34", "169.254.169.254"], ["::1"]])
def test_a_name_resolving_to_a_private_address_is_never_contacted(resolved: list[str]) -> None:
    connections = Connections()
    sender = WebhookSender(resolver=lambda host, port: resolved, connector=connections.connect)
    result = sender.post("https://hooks.example.com/x", b"{}", {})
    assert not result.ok
    assert "refused" in (result.error or "")
    assert connections.attempts == []


def test_plain_http_is_refused_even_with_insecure_targets_allowed() -> None:
    connections = Connections()
    sender = WebhookSender(allow_insecure=True, resolver=lambda h, p: ["127.0.0.1"], connector=connections.connect)
    result = sender.post("http://127.0.0.1:9/x", b"{}", {})
    assert "https only" in (result.error or "")
    assert connections.attempts == []


def test_a_public_address_is_contacted_at_the_pinned_address() -> None:
    connections = Connections()
    sender = WebhookSender(resolver=lambda host, port: ["93.184.216.34"], connector=connections.connect)
    result = sender.post("https://hooks.example.com:8443/x", b"{}", {})
    assert connections.attempts == [("93.184.216.34", 8443)]
    assert result.status_code is None


def test_a_receiver_dripping_its_answer_is_cut_at_the_deadline(tmp_path: Path) -> None:
    """Each byte arrives within the socket timeout, so only the whole-attempt deadline can end it."""
    cert_file, key_file = write_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def drip() -> None:
        connection, _ = listener.accept()
        with context.wrap_socket(connection, server_side=True) as tls:
            tls.recv(65536)
            with contextlib.suppress(OSError):
                for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
                    tls.sendall(bytes([byte]))
                    time.sleep(0.2)

    threading.Thread(target=drip, daemon=True).start()
    sender = WebhookSender(
        allow_insecure=True,
        ssl_context=ssl.create_default_context(cafile=str(cert_file)),
        timeout_seconds=1.0,
    )
    started = time.monotonic()
    result = sender.post(f"https://127.0.0.1:{port}/hook", b"{}", {})
    listener.close()
    assert result.status_code is None
    assert result.error is not None
    assert time.monotonic() - started < 2.5
