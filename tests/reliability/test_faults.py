"""Injected DynamoDB throttling and transient errors during publish, subscriber and number creation, and call events.

Short bursts are retried by botocore's standard mode and the request succeeds; a persistent fault is a clean 503
(`unavailable`, Retry-After, the error shape). Either way the table is checked afterwards: no half-written scenario
version, no number guard without its tenant item (or the reverse), no call advanced twice.
"""

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.reliability.faults import DynamoFaults
from tests.security.figures import report
from tests.security.harness import ApiResponse, InProcessApi, World, build_world, path_number, seed_scenario

PERSISTENT = 50  # more failures than botocore's attempts for one call
TALLY: Counter[str] = Counter()


@pytest.fixture(scope="module")
def world(api: InProcessApi) -> World:
    return build_world(api, 4)


@pytest.fixture
def faults(api: InProcessApi, monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoFaults]:
    injector = DynamoFaults(api.repository.client, monkeypatch)
    yield injector
    injector.close()
    TALLY["injected"] += sum(injector.injected.values())
    TALLY["backoffs"] += len(injector.backoffs)
    assert_table_consistent(api)


# ------------------------------------------------------------------------------------------------ table invariants


def s(item: dict[str, Any], name: str) -> str:
    return str(item[name]["S"])


def assert_table_consistent(api: InProcessApi) -> None:
    items = api.items()
    keys = {(s(item, "PK"), s(item, "SK")) for item in items}
    drafts = {
        (s(i, "PK"), s(i, "SK").removeprefix("SCENARIO#")): i for i in items if s(i, "SK").startswith("SCENARIO#")
    }
    versions: dict[tuple[str, str], list[int]] = {}
    for pk, sk in keys:
        if sk.startswith("SCNVER#"):
            scenario_id, number = sk.removeprefix("SCNVER#").rsplit("#", 1)
            versions.setdefault((pk, scenario_id), []).append(int(number))
    for key, found in versions.items():
        assert key in drafts, f"versions without a draft: {key}"
        latest = int(drafts[key].get("latest_version", {"N": "0"})["N"])
        assert sorted(found) == list(range(1, latest + 1)), f"{key}: versions {sorted(found)}, latest {latest}"
    for key, draft in drafts.items():
        latest = int(draft.get("latest_version", {"N": "0"})["N"])
        published = int(draft.get("published_version", {"N": "0"})["N"])
        assert len(versions.get(key, [])) == latest, f"{key}: draft says latest {latest}, table has {versions.get(key)}"
        assert 0 <= published <= latest
    guards = {
        (s(i, "tenant_id"), s(i, "PK").removeprefix("NUMBER#")) for i in items if s(i, "PK").startswith("NUMBER#")
    }
    numbers = {
        (s(i, "PK").removeprefix("TENANT#"), s(i, "SK").removeprefix("NUM#"))
        for i in items
        if s(i, "SK").startswith("NUM#")
    }
    assert guards == numbers, f"orphans: guards only {guards - numbers}, numbers only {numbers - guards}"
    hashed = sum(1 for pk, _ in keys if pk.startswith("APIKEY#"))
    listed = sum(1 for _, sk in keys if sk.startswith("KEY#"))
    assert hashed == listed


def unavailable(response: ApiResponse) -> None:
    assert response.status == 503, response.text
    assert response.error_code() == "unavailable"
    assert response.headers.get("retry-after") == "1"


# ------------------------------------------------------------------------------------------------ scenario publish


def new_draft(api: InProcessApi, world: World, scenario_id: str) -> str:
    body = {"id": scenario_id, **seed_scenario(world.extensions[0], world.extensions[1])}
    created = api.request("POST", "/v1/scenarios", world.keys["editor"], body)
    assert created.status == 201, created.text
    return created.headers["etag"]


def publish(api: InProcessApi, world: World, scenario_id: str, etag: str) -> ApiResponse:
    return api.request("POST", f"/v1/scenarios/{scenario_id}/publish", world.keys["editor"], headers={"If-Match": etag})


@pytest.mark.parametrize("kind", ["throughput", "throttling", "internal"])
def test_publish_rides_out_a_short_burst(api: InProcessApi, world: World, faults: DynamoFaults, kind: str) -> None:
    etag = new_draft(api, world, f"burst-{kind}")
    faults.fail("TransactWriteItems", kind, times=2)
    published = publish(api, world, f"burst-{kind}", etag)
    assert published.status == 201, published.text
    assert published.json()["version"] == 1
    assert faults.injected[("TransactWriteItems", kind)] == 2
    assert len(faults.backoffs) >= 2  # botocore backed off before each retry


@pytest.mark.parametrize("operation", ["TransactWriteItems", "GetItem"])
def test_publish_under_persistent_throttling_is_a_clean_503_and_writes_nothing(
    api: InProcessApi, world: World, faults: DynamoFaults, operation: str
) -> None:
    scenario_id = f"down-{operation.lower()}"
    etag = new_draft(api, world, scenario_id)
    before = api.items()
    faults.fail(operation, "throughput", times=PERSISTENT, match="SCENARIO#")
    unavailable(publish(api, world, scenario_id, etag))
    faults.clear()
    assert api.items() == before
    again = publish(api, world, scenario_id, etag)  # the client's retry, same If-Match
    assert again.status == 201, again.text
    assert again.json()["version"] == 1


# ------------------------------------------------------------------------------------------------ directory writes


def test_subscriber_create_retries_transient_errors_then_503s_without_a_trace(
    api: InProcessApi, world: World, faults: DynamoFaults
) -> None:
    # a subscriber and the directory revision it advances are written in one transaction
    faults.fail("TransactWriteItems", "internal", times=2)
    created = api.request("POST", "/v1/subscribers", world.keys["editor"], {"extension": "4901", "name": "Retried"})
    assert created.status == 201, created.text
    faults.fail("TransactWriteItems", "throttling", times=PERSISTENT)
    refused = api.request("POST", "/v1/subscribers", world.keys["editor"], {"extension": "4902", "name": "Refused"})
    unavailable(refused)
    faults.clear()
    assert api.request("GET", "/v1/subscribers/4902", world.keys["viewer"]).status == 404
    assert api.request("GET", "/v1/subscribers/4901", world.keys["viewer"]).status == 200


@pytest.mark.parametrize("kind", ["throughput", "internal"])
def test_number_create_never_leaves_an_orphan_uniqueness_guard(
    api: InProcessApi, world: World, faults: DynamoFaults, kind: str
) -> None:
    number = "+74957" + ("100001" if kind == "throughput" else "100002")
    faults.fail("TransactWriteItems", kind, times=PERSISTENT)
    body = {"number": number, "scenario_id": world.scenarios[0]}
    unavailable(api.request("POST", "/v1/numbers", world.keys["editor"], body))
    faults.clear()
    assert not [item for item in api.items() if number in str(item["PK"]) + str(item["SK"])]
    faults.fail("TransactWriteItems", kind, times=2)
    created = api.request("POST", "/v1/numbers", world.keys["editor"], body)
    assert created.status == 201, created.text
    assert api.request("GET", f"/v1/numbers/{path_number(number)}", world.keys["viewer"]).status == 200


# ------------------------------------------------------------------------------------------------ call events


def call_seq(api: InProcessApi, world: World, call_id: str) -> tuple[int, int]:
    detail = api.request("GET", f"/v1/calls/{call_id}", world.keys["viewer"]).json()
    return int(detail["seq"]), len(detail["trace"])


def event(api: InProcessApi, world: World, call_id: str, seq: int, outcome: str = "no_answer") -> ApiResponse:
    body = {"seq": seq, "outcome": outcome}
    return api.request("POST", f"/v1/calls/{call_id}/events", world.keys["telephony"], body)


def start(api: InProcessApi, world: World, call_id: str) -> ApiResponse:
    body = {"call_id": call_id, "from": "+79161234567", "to": world.numbers[0]}
    return api.request("POST", "/v1/calls", world.keys["telephony"], body)


def test_call_event_is_retried_or_refused_but_never_advances_twice(
    api: InProcessApi, world: World, faults: DynamoFaults
) -> None:
    assert start(api, world, "fault-call-1").status == 201
    faults.fail("PutItem", "throughput", times=PERSISTENT)
    unavailable(event(api, world, "fault-call-1", 1))
    faults.clear()
    assert call_seq(api, world, "fault-call-1")[0] == 1  # the refused event changed nothing
    faults.fail("PutItem", "throttling", times=2)
    answered = event(api, world, "fault-call-1", 1)
    assert answered.status == 200, answered.text
    assert answered.json()["seq"] == 2
    replay = event(api, world, "fault-call-1", 1)
    assert replay.json() == answered.json()
    assert call_seq(api, world, "fault-call-1")[0] == 2


def test_a_lost_write_response_does_not_double_advance_the_call(
    api: InProcessApi, world: World, faults: DynamoFaults
) -> None:
    assert start(api, world, "fault-call-2").status == 201
    seq_before, trace_before = call_seq(api, world, "fault-call-2")
    faults.fail("PutItem", "lost", times=1)  # applied, then reported as a 500; botocore retries into its own condition
    answered = event(api, world, "fault-call-2", 1)
    assert faults.injected[("PutItem", "lost")] == 1
    assert answered.status == 200, answered.text
    assert answered.json()["seq"] == seq_before + 1
    seq_after, trace_after = call_seq(api, world, "fault-call-2")
    assert seq_after == seq_before + 1
    assert trace_after > trace_before
    assert event(api, world, "fault-call-2", 1).json() == answered.json()


def test_a_lost_call_start_response_still_gives_the_first_decision_once(
    api: InProcessApi, world: World, faults: DynamoFaults
) -> None:
    faults.fail("PutItem", "lost", times=1)
    started = start(api, world, "fault-call-3")
    assert started.status in {200, 201}, started.text
    assert started.json()["seq"] == 1
    assert start(api, world, "fault-call-3").json() == started.json()
    assert call_seq(api, world, "fault-call-3")[0] == 1


def test_a_throttled_authorizer_is_a_503_not_a_500(api: InProcessApi, world: World, faults: DynamoFaults) -> None:
    faults.fail("GetItem", "throughput", times=PERSISTENT, match="APIKEY#")
    unavailable(api.request("GET", "/v1/subscribers", world.keys["viewer"]))


def test_zz_fault_figures() -> None:
    report(
        f"Faults: {TALLY['injected']} DynamoDB failures injected (throughput/throttling/500/lost response), "
        f"{TALLY['backoffs']} botocore backoffs; table invariants held after every test"
    )
    assert TALLY["injected"] > 0
