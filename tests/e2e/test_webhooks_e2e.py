"""Webhooks over real HTTP: `vpbx serve` (its stream feed and timer queue) delivering to a local HTTPS receiver that
verifies every signature with the snippet docs/WEBHOOKS.md publishes.

The receiver runs on 127.0.0.1 with a self-signed certificate, reachable only through the test-only trust setting
(VPBX_ALLOW_INSECURE_WEBHOOKS + VPBX_WEBHOOK_CA_FILE); retries run on short delays (VPBX_WEBHOOK_RETRY_DELAYS) and
a 1-second attempt deadline. The session's default server (no trust setting) refuses the same receiver.
"""

import itertools
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LocalServer, running_local_server
from tests.e2e.test_calls_e2e import Tenant, new_tenant
from tests.helpers.http import Client
from tests.helpers.webhook_receiver import Receiver, running_receiver

pytestmark = pytest.mark.e2e
DOCS = Path(__file__).resolve().parents[2] / "docs" / "WEBHOOKS.md"
ALL_CALL_EVENTS = ["call.started", "call.answered", "call.completed", "call.missed", "call.voicemail"]
Verify = Callable[..., bool]


def documented_verifier() -> Verify:
    """The verification snippet exactly as docs/WEBHOOKS.md prints it, executed."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## Verifying signatures", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code, "docs/WEBHOOKS.md lost its verification snippet"
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), str(DOCS), "exec"), namespace)  # noqa: S102 - our own documentation
    verify: Verify = namespace["verify_vpbx_signature"]
    return verify


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    with running_receiver(tmp_path_factory.mktemp("receiver")) as running:
        yield running


@pytest.fixture(scope="module")
def trusting_server(receiver: Receiver) -> Iterator[LocalServer]:
    env = {
        "VPBX_ALLOW_INSECURE_WEBHOOKS": "1",
        "VPBX_WEBHOOK_CA_FILE": str(receiver.cert_file),
        "VPBX_WEBHOOK_RETRY_DELAYS": "0.3,0.6,1",
        "VPBX_WEBHOOK_TIMEOUT_SECONDS": "1",
    }
    with running_local_server(env) as server:
        yield server


@pytest.fixture
def tenant(trusting_server: LocalServer) -> Tenant:
    return new_tenant(trusting_server)


def subscribe(tenant: Tenant, receiver: Receiver, path: str, events: list[str]) -> dict[str, Any]:
    created = tenant.admin("POST", "/v1/webhooks", {"url": receiver.url(path), "events": events})
    assert created.status_code == 201, created.text
    hook: dict[str, Any] = created.json()
    return hook


def unique_path(name: str) -> str:
    return f"/{name}/{uuid.uuid4().hex[:8]}"


def deliveries(tenant: Tenant, hook: dict[str, Any]) -> list[dict[str, Any]]:
    listed = tenant.admin("GET", f"/v1/webhooks/{hook['id']}/deliveries")
    assert listed.status_code == 200, listed.text
    items: list[dict[str, Any]] = listed.json()["items"]
    return items


def settled(tenant: Tenant, hook: dict[str, Any], count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    """The webhook's deliveries once `count` of them are delivered or dead."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = deliveries(tenant, hook)
        if len([item for item in items if item["state"] in ("delivered", "dead")]) >= count:
            return items
        time.sleep(0.1)
    raise AssertionError(f"deliveries did not settle: {deliveries(tenant, hook)}")


def test_a_call_is_delivered_as_signed_started_answered_events(tenant: Tenant, receiver: Receiver) -> None:
    path = unique_path("calls")
    hook = subscribe(tenant, receiver, path, ALL_CALL_EVENTS)
    assert tenant.start("wh-call-1").status_code == 201
    assert tenant.event("wh-call-1", 1, "answered").status_code == 200

    received = receiver.wait_for(path, 2)
    verify = documented_verifier()
    by_type = {request.event["type"]: request for request in received}  # delivered in parallel: any order
    assert sorted(by_type) == ["call.answered", "call.started"]
    for request in received:
        assert verify(hook["secret"], request.headers["Vpbx-Signature"], request.body)
        assert not verify("whsec_wrong", request.headers["Vpbx-Signature"], request.body)
        assert not verify(hook["secret"], request.headers["Vpbx-Signature"], request.body + b" ")
        assert request.headers["Vpbx-Event-Id"] == request.event["id"]
        assert set(request.event) == {"id", "type", "created", "tenant_id", "data"}
        assert request.event["tenant_id"] == tenant.id
        assert request.event["data"]["call_id"] == "wh-call-1"
    assert by_type["call.answered"].event["data"]["status"] == "connected"
    assert by_type["call.started"].event["data"]["status"] == "in_progress"
    items = settled(tenant, hook, 2)
    assert {(item["event_type"], item["state"], item["attempts"], item["last_status_code"]) for item in items} == {
        ("call.started", "delivered", 1, 200),
        ("call.answered", "delivered", 1, 200),
    }


def test_a_call_nobody_answers_is_missed(tenant: Tenant, receiver: Receiver) -> None:
    path = unique_path("missed")
    subscribe(tenant, receiver, path, ["call.missed"])
    assert tenant.start("wh-missed-1").status_code == 201
    assert tenant.event("wh-missed-1", 1, "no_answer").status_code == 200
    ended = tenant.event("wh-missed-1", 2, "no_answer")
    assert ended.json()["status"] == "ended", ended.text
    (missed,) = receiver.wait_for(path, 1)
    assert missed.event["type"] == "call.missed"
    assert missed.event["data"]["call_id"] == "wh-missed-1"


def test_an_answered_call_that_ends_is_completed_with_its_talk_time(tenant: Tenant, receiver: Receiver) -> None:
    path = unique_path("completed")
    subscribe(tenant, receiver, path, ["call.answered", "call.completed"])
    assert tenant.start("wh-done-1").status_code == 201
    assert tenant.event("wh-done-1", 1, "answered").status_code == 200
    report = {"seq": 2, "outcome": "completed", "duration_seconds": 42, "ended_by": "callee"}
    done = tenant.telephony("POST", "/v1/calls/wh-done-1/events", report)
    assert (done.status_code, done.json()["status"]) == (200, "ended"), done.text

    by_type = {request.event["type"]: request.event["data"] for request in receiver.wait_for(path, 2)}
    assert sorted(by_type) == ["call.answered", "call.completed"]
    assert by_type["call.answered"]["answered_extension"] == "101"  # the ring's only target
    completed = by_type["call.completed"]
    assert (completed["call_id"], completed["result"]) == ("wh-done-1", "completed")
    assert (completed["duration_seconds"], completed["ended_by"]) == (42, "callee")


def test_publishing_is_an_event(tenant: Tenant, receiver: Receiver) -> None:
    path = unique_path("published")
    subscribe(tenant, receiver, path, ["scenario.published"])
    version = tenant.publish({"name": "Republished", **_seed_without_name()})
    # The tenant's first publish (version 1, just before the webhook existed) may arrive too: the stream lags.
    published = _event_of_version(receiver, path, version)
    assert published.event["type"] == "scenario.published"
    assert published.event["data"]["scenario_id"] == "main"
    assert published.event["data"]["version"] == version
    assert published.event["data"]["rollback"] is False


def _event_of_version(receiver: Receiver, path: str, version: int, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [r for r in receiver.at(path) if r.event["data"].get("version") == version]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no scenario.published for version {version}: {receiver.at(path)}")


def _seed_without_name() -> dict[str, Any]:
    from tests.helpers.scenarios import seed_scenario

    return {key: value for key, value in seed_scenario().items() if key != "name"}


def test_receiver_500s_are_retried_with_the_same_event_id(tenant: Tenant, receiver: Receiver) -> None:
    path = unique_path("flaky")
    receiver.script[path] = [500, 503]
    hook = subscribe(tenant, receiver, path, ["call.started"])
    assert tenant.start("wh-flaky-1").status_code == 201
    attempts = receiver.wait_for(path, 3)
    assert len({request.headers["Vpbx-Event-Id"] for request in attempts}) == 1
    assert len({request.body for request in attempts}) == 1  # the same event; only the signature's t changes
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.25  # the first retry waited its delay (0.3 s)
    assert gaps[1] >= 0.5  # the second waited longer (0.6 s)
    verify = documented_verifier()
    assert all(verify(hook["secret"], request.headers["Vpbx-Signature"], request.body) for request in attempts)
    (item,) = settled(tenant, hook, 1)
    assert (item["state"], item["attempts"], item["last_status_code"]) == ("delivered", 3, 200)


def test_a_receiver_timeout_is_retried_and_the_redelivery_keeps_its_id(tenant: Tenant, receiver: Receiver) -> None:
    """The receiver got the first POST but answered after the 1-second deadline: at least once means it gets the
    event again, with the same id to deduplicate on."""
    path = unique_path("slow")
    receiver.script[path] = [("sleep", 2.0)]
    hook = subscribe(tenant, receiver, path, ["call.started"])
    assert tenant.start("wh-slow-1").status_code == 201
    first, second = receiver.wait_for(path, 2)
    assert first.headers["Vpbx-Event-Id"] == second.headers["Vpbx-Event-Id"]
    (item,) = settled(tenant, hook, 1)
    assert (item["state"], item["attempts"]) == ("delivered", 2)


def test_a_receiver_that_keeps_failing_ends_dead(tenant: Tenant, receiver: Receiver) -> None:
    path = unique_path("down")
    receiver.script[path] = [500] * 10
    hook = subscribe(tenant, receiver, path, ["call.started"])
    assert tenant.start("wh-down-1").status_code == 201
    (item,) = settled(tenant, hook, 1)
    assert (item["state"], item["attempts"], item["last_status_code"]) == ("dead", 4, 500)
    assert item["next_attempt_at"] is None
    assert item["last_error"] == "HTTP 500"
    assert len(receiver.at(path)) == 4


def test_the_test_endpoint_pings_and_answers_with_the_attempt(tenant: Tenant, receiver: Receiver) -> None:
    path = unique_path("ping")
    hook = subscribe(tenant, receiver, path, ["call.completed"])
    pinged = tenant.admin("POST", f"/v1/webhooks/{hook['id']}/test")
    assert pinged.status_code == 200, pinged.text
    assert (pinged.json()["state"], pinged.json()["last_status_code"]) == ("delivered", 200)
    (ping,) = receiver.at(path)
    assert ping.event["type"] == "webhook.ping"
    assert documented_verifier()(hook["secret"], ping.headers["Vpbx-Signature"], ping.body)
    receiver.script[path] = [502]
    failed = tenant.admin("POST", f"/v1/webhooks/{hook['id']}/test").json()
    assert (failed["state"], failed["attempts"], failed["last_status_code"]) == ("dead", 1, 502)


def test_without_the_trust_setting_a_loopback_receiver_is_refused(
    local_server: LocalServer, receiver: Receiver
) -> None:
    admin = _admin_of_a_new_tenant(local_server)
    before = len(receiver.received)
    for url in (receiver.url("/private"), f"https://localhost:{receiver.port}/x", "https://10.0.0.7/x"):
        refused = admin("POST", "/v1/webhooks", {"url": url, "events": ["call.started"]})
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["details"][0]["loc"] == ["body", "url"]
    assert len(receiver.received) == before


def _admin_of_a_new_tenant(server: LocalServer) -> Client:
    from tests.helpers.http import create_tenant

    return create_tenant(Client(server.base_url, server.operator_key), f"wh-{uuid.uuid4().hex[:8]}", "Refused")
