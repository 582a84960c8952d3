"""State tokens through the calls handler on DynamoDB (moto): one request per tokened event, failed conditions answered
from the item they return (ALL_OLD), forged and reused tokens refused, the same call as without tokens."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from vpbx.api.deps import set_state_tokens
from vpbx.service.state_tokens import StateTokenKeys, StateTokens
from vpbx.store.dynamodb import DynamoRepository

from tests.helpers.apigw import response_json
from tests.integration.test_calls_api import (
    NUMBER,
    OTHER_NUMBER,
    OTHER_TENANT,
    SEED_SCENARIO,
    TENANT,
    Call,
    api,
    error_code,
    publish,
    repository,
    start_body,
)

__all__ = ["api", "repository"]  # the fixtures, shared with test_calls_api

KEYS = StateTokenKeys.from_secret(StateTokenKeys.generate())
COMPLETED = {"duration_seconds": 42, "ended_by": "callee"}


@pytest.fixture(autouse=True)
def tokens() -> Iterator[None]:
    set_state_tokens(StateTokens.of(KEYS))
    yield
    set_state_tokens(None)


@contextmanager
def counted(repository: DynamoRepository) -> Iterator[list[str]]:
    """The DynamoDB operations the handler sends inside the block."""
    operations: list[str] = []
    unique_id = f"count-{id(operations)}"
    repository.client.meta.events.register(
        "before-call.dynamodb", lambda model, **_: operations.append(model.name), unique_id=unique_id
    )
    try:
        yield operations
    finally:
        repository.client.meta.events.unregister("before-call.dynamodb", unique_id=unique_id)


def started(api: Call, call_id: str = "call-1") -> dict[str, Any]:
    response = api("POST", "/v1/calls", start_body(call_id))
    assert response["statusCode"] == 201
    body: dict[str, Any] = response_json(response)
    return body


def report(api: Call, call_id: str, decision: dict[str, Any], outcome: str, **fields: Any) -> dict[str, Any]:
    body = {"seq": decision["seq"], "outcome": outcome, "state_token": decision["state_token"], **fields}
    return api("POST", f"/v1/calls/{call_id}/events", body)


# ---------------------------------------------------------------------------------------------- one request


def test_a_tokened_call_costs_one_request_per_event(api: Call, repository: DynamoRepository) -> None:
    publish(repository, TENANT, SEED_SCENARIO)
    started(api, "warmup")  # the version cache
    with counted(repository) as operations:
        first = started(api)
        assert operations == ["BatchGetItem", "PutItem"]
        assert first["state_token"].startswith("v1.")
        operations.clear()
        second = response_json(report(api, "call-1", first, "no_answer"))
        assert operations == ["UpdateItem"]
        assert (second["seq"], second["action"]["targets"][0]["extension"]) == (2, "102")
        operations.clear()
        connected = response_json(report(api, "call-1", second, "answered"))
        assert operations == ["TransactWriteItems"]  # the call, its history and its counters
        assert (connected["status"], connected["state_token"] is not None) == ("connected", True)  # completed follows
        operations.clear()
        ended = response_json(report(api, "call-1", connected, "completed", **COMPLETED))
        assert operations == ["TransactWriteItems"]
        assert (ended["status"], ended["state_token"]) == ("ended", None)


def test_events_without_a_token_still_cost_two_requests(api: Call, repository: DynamoRepository) -> None:
    publish(repository, TENANT, SEED_SCENARIO)
    started(api, "warmup")
    first = started(api)
    with counted(repository) as operations:
        second = api("POST", "/v1/calls/call-1/events", {"seq": 1, "outcome": "no_answer"})
        assert operations == ["GetItem", "PutItem"]
    tokened = response_json(report(api, "call-1", response_json(second), "no_answer"))  # a token after an untokened
    assert tokened["status"] == "ended"
    assert first["state_token"] is not None


def test_the_same_call_with_and_without_tokens(api: Call, repository: DynamoRepository) -> None:
    """What a token-driven call stores (trace, history, listing, statistics) is what the read-first path stores."""
    publish(repository, TENANT, SEED_SCENARIO)
    decision = started(api, "with")
    for outcome in ("no_answer", "answered"):
        decision = response_json(report(api, "with", decision, outcome))
    response_json(report(api, "with", decision, "completed", **COMPLETED))
    api("POST", "/v1/calls", start_body("without"))
    for seq, outcome in ((1, "no_answer"), (2, "answered")):
        api("POST", "/v1/calls/without/events", {"seq": seq, "outcome": outcome})
    api("POST", "/v1/calls/without/events", {"seq": 3, "outcome": "completed", **COMPLETED})

    def stored(call_id: str) -> dict[str, Any]:
        """The call's detail without its id and the moments (the handler runs on the real clock)."""
        detail: dict[str, Any] = response_json(api("GET", f"/v1/calls/{call_id}", role="viewer"))
        timeless = {name: value for name, value in detail.items() if name != "call_id" and not name.endswith("_at")}
        timeless["trace"] = [{name: value for name, value in step.items() if name != "at"} for step in detail["trace"]]
        return timeless

    assert stored("with") == stored("without")
    assert stored("with")["path"] == ["start", "mgr", "next"]
    assert [step["outcome"] for step in stored("with")["trace"]] == [
        None,
        None,
        "no_answer",
        None,
        "answered",
        "completed",
    ]
    listed = response_json(api("GET", "/v1/calls?result=completed", role="viewer"))["items"]
    assert sorted(item["call_id"] for item in listed) == ["with", "without"]
    assert listed[0]["path"] == listed[1]["path"]
    stats = response_json(api("GET", "/v1/scenarios/main/stats", role="viewer"))
    assert stats["calls"] == 2
    next_element = next(element for element in stats["elements"] if element["element_id"] == "next")
    assert next_element["ring"]["answered"] == 2


# ---------------------------------------------------------------------------------------------- failed conditions


def test_a_duplicate_start_is_answered_from_the_failed_write(api: Call, repository: DynamoRepository) -> None:
    publish(repository, TENANT, SEED_SCENARIO)
    started(api, "warmup")
    first = started(api)
    with counted(repository) as operations:
        again = api("POST", "/v1/calls", start_body())
        assert operations == ["BatchGetItem", "PutItem"]  # the failed PutItem returns the call: no GetItem
    assert (again["statusCode"], response_json(again)) == (201, first)
    with counted(repository) as operations:
        other = api("POST", "/v1/calls", start_body(**{"from": "+79990001122"}))
        assert operations == ["BatchGetItem", "PutItem"]
    assert (other["statusCode"], error_code(other)) == (409, "conflict")
    report(api, "call-1", first, "no_answer")
    late = response_json(api("POST", "/v1/calls", start_body()))
    assert (late["seq"], late["state_token"]) == (1, None)  # the first decision; its token would be stale


def test_a_reused_token_replays_or_conflicts_in_one_request(api: Call, repository: DynamoRepository) -> None:
    publish(repository, TENANT, SEED_SCENARIO)
    first = started(api)
    answered = report(api, "call-1", first, "no_answer")
    with counted(repository) as operations:
        replay = report(api, "call-1", first, "no_answer")
        assert operations == ["UpdateItem"]  # failed on seq; the stored call came back with the failure
    assert (replay["statusCode"], response_json(replay)) == (200, response_json(answered))
    with counted(repository) as operations:
        other_outcome = report(api, "call-1", first, "busy")
        assert operations == ["UpdateItem"]
    assert (other_outcome["statusCode"], error_code(other_outcome)) == (409, "conflict")
    [detail] = response_json(other_outcome)["error"]["details"]
    assert (detail["current_seq"], detail["status"]) == (2, "in_progress")
    assert repository.get_call(TENANT, "call-1").state.seq == 2


def test_a_replay_after_routing_ended_is_answered_from_the_failed_transaction(
    api: Call, repository: DynamoRepository
) -> None:
    publish(repository, TENANT, SEED_SCENARIO)
    first = started(api)
    second = response_json(report(api, "call-1", first, "no_answer"))
    connected = report(api, "call-1", second, "answered")
    with counted(repository) as operations:
        replay = report(api, "call-1", second, "answered")
        assert operations == ["TransactWriteItems"]  # its cancellation reason carries the stored call
    assert (replay["statusCode"], response_json(replay)) == (200, response_json(connected))
    stats = response_json(api("GET", "/v1/scenarios/main/stats", role="viewer"))
    assert stats["calls"] == 1  # counted once


def test_simultaneous_deliveries_of_one_event_cost_one_request_each(api: Call, repository: DynamoRepository) -> None:
    publish(repository, TENANT, SEED_SCENARIO)
    first = started(api)
    deliveries = 4
    barrier = threading.Barrier(deliveries)
    answers: list[dict[str, Any]] = []

    def deliver() -> None:
        barrier.wait()
        answers.append(report(api, "call-1", first, "no_answer"))

    with counted(repository) as operations:
        threads = [threading.Thread(target=deliver) for _ in range(deliveries)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert operations == ["UpdateItem"] * deliveries
    assert [answer["statusCode"] for answer in answers] == [200] * deliveries
    bodies = [response_json(answer) for answer in answers]
    assert all(body == bodies[0] for body in bodies)
    stored = repository.get_call(TENANT, "call-1")
    assert stored.state.seq == 2
    assert sum(1 for step in stored.trace if step.outcome == "no_answer") == 1


# ---------------------------------------------------------------------------------------------- refused tokens


def _swap(token: str, index: int, value: str) -> str:
    parts = token.split(".")
    parts[index] = value
    return ".".join(parts)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: _swap(token, 3, token.split(".")[3][:-4] + "AAAA"),
        lambda token: _swap(token, 4, "A" * 43),
        lambda token: _swap(token, 1, "k9"),
        lambda token: "v1.k1.1.AAAA.AAAA",
        lambda token: token[:-1],
    ],
    ids=["payload", "mac", "key id", "made up", "cut"],
)
def test_a_forged_token_is_refused_before_any_request(api: Call, repository: DynamoRepository, tamper: Any) -> None:
    publish(repository, TENANT, SEED_SCENARIO)
    first = started(api)
    with counted(repository) as operations:
        refused = report(api, "call-1", {**first, "state_token": tamper(first["state_token"])}, "no_answer")
        assert operations == []
    assert (refused["statusCode"], error_code(refused)) == (400, "invalid_state_token")
    assert response_json(refused)["error"]["details"][0]["loc"] == ["body", "state_token"]
    assert repository.get_call(TENANT, "call-1").state.seq == 1


def test_a_token_is_refused_for_another_seq_call_or_tenant(api: Call, repository: DynamoRepository) -> None:
    publish(repository, TENANT, SEED_SCENARIO)
    publish(repository, OTHER_TENANT, SEED_SCENARIO)
    first = started(api)
    other_call = started(api, "call-2")
    token = first["state_token"]
    ahead = api("POST", "/v1/calls/call-1/events", {"seq": 2, "outcome": "no_answer", "state_token": token})
    assert (ahead["statusCode"], error_code(ahead)) == (400, "invalid_state_token")
    swapped = api("POST", "/v1/calls/call-2/events", {"seq": 1, "outcome": "no_answer", "state_token": token})
    assert (swapped["statusCode"], error_code(swapped)) == (400, "invalid_state_token")
    theirs = api("POST", "/v1/calls", {"call_id": "call-1", "to": OTHER_NUMBER}, tenant=OTHER_TENANT)
    assert theirs["statusCode"] == 201
    with counted(repository) as operations:
        crossed = api(
            "POST",
            "/v1/calls/call-1/events",
            {"seq": 1, "outcome": "no_answer", "state_token": token},
            tenant=OTHER_TENANT,
        )
        assert operations == []
    assert (crossed["statusCode"], error_code(crossed)) == (400, "invalid_state_token")
    assert repository.get_call(OTHER_TENANT, "call-1").state.seq == 1
    assert other_call["state_token"] != token
    assert NUMBER != OTHER_NUMBER


def test_a_token_longer_than_allowed_is_a_422(api: Call, repository: DynamoRepository) -> None:
    publish(repository, TENANT, SEED_SCENARIO)
    started(api)
    response = api("POST", "/v1/calls/call-1/events", {"seq": 1, "outcome": "no_answer", "state_token": "v" * 4097})
    assert response["statusCode"] == 422
    assert response_json(response)["error"]["details"][0]["loc"] == ["body", "state_token"]


def test_without_a_secret_no_token_is_issued_and_none_is_accepted(api: Call, repository: DynamoRepository) -> None:
    publish(repository, TENANT, SEED_SCENARIO)
    first = started(api)
    set_state_tokens(StateTokens(lambda: None))
    assert started(api, "call-2")["state_token"] is None
    refused = report(api, "call-1", first, "no_answer")
    assert (refused["statusCode"], error_code(refused)) == (400, "invalid_state_token")


def test_simultaneous_untokened_deliveries_never_read_twice(api: Call, repository: DynamoRepository) -> None:
    """Without a token each delivery reads the call once; the loser of the write answers from its failed write's
    ALL_OLD instead of reading again (before: GetItem + PutItem + GetItem for the loser)."""
    publish(repository, TENANT, SEED_SCENARIO)
    started(api)
    barrier = threading.Barrier(2)
    answers: list[dict[str, Any]] = []

    def deliver() -> None:
        barrier.wait()
        answers.append(api("POST", "/v1/calls/call-1/events", {"seq": 1, "outcome": "no_answer"}))

    with counted(repository) as operations:
        threads = [threading.Thread(target=deliver) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert operations.count("GetItem") == 2
        assert operations.count("PutItem") <= 2  # a delivery that reads after the winner wrote replays from the read
    assert response_json(answers[0]) == response_json(answers[1])
    assert repository.get_call(TENANT, "call-1").state.seq == 2
