"""The calls service with state tokens over the in-memory repository: the same calls, races and replays as without."""

import threading
from datetime import timedelta
from typing import Any

import pytest
from vpbx.domain.errors import Conflict, NotFound
from vpbx.service.call_snapshots import CallSnapshot
from vpbx.service.calls import CallAnswer, CallEvent, CallsService, CallStart
from vpbx.service.state_tokens import InvalidStateToken, StateTokenKeys, StateTokens

from tests.helpers.scenarios import seed_scenario
from tests.unit.test_calls_service import CALLER, MAIN_NUMBER, TENANT, World, world

__all__ = ["world"]

TOKENS = StateTokens.of(StateTokenKeys.from_secret(StateTokenKeys.generate()))


def service_of(world: World) -> CallsService:
    return CallsService(world.repository, clock=world.clock, crm_lookup=world.crm_lookup, tokens=TOKENS)


def start(service: CallsService, call_id: str = "call-1") -> CallAnswer:
    return service.start_call(TENANT, CallStart.model_validate({"call_id": call_id, "from": CALLER, "to": MAIN_NUMBER}))


def report(service: CallsService, answer: CallAnswer, outcome: str, call_id: str = "call-1", **body: Any) -> CallAnswer:
    event = {"seq": answer.decision.seq, "outcome": outcome, "state_token": answer.state_token, **body}
    return service.report_event(TENANT, call_id, CallEvent.model_validate(event))


def test_a_tokened_call_stores_what_an_untokened_one_does(world: World) -> None:
    world.publish(seed_scenario())
    service = service_of(world)
    answer = start(service, "with")
    start(service, "without")
    for seq, outcome in ((1, "no_answer"), (2, "answered")):
        world.clock.advance(5)
        answer = report(service, answer, outcome, "with")
        service.report_event(TENANT, "without", CallEvent.model_validate({"seq": seq, "outcome": outcome}))
    assert answer.decision.status == "connected"
    assert answer.state_token is not None
    ended = report(service, answer, "completed", "with", duration_seconds=9, ended_by="caller")
    assert (ended.decision.status, ended.state_token) == ("ended", None)
    service.report_event(
        TENANT,
        "without",
        CallEvent.model_validate({"seq": 3, "outcome": "completed", "duration_seconds": 9, "ended_by": "caller"}),
    )

    def stored(call_id: str) -> dict[str, Any]:
        record = world.repository.get_call(TENANT, call_id).model_dump(exclude={"first_decision"})
        record["state"]["call"].pop("call_id")
        return record

    assert stored("with") == stored("without")
    with_history = world.repository.get_call_history(TENANT, "with").model_dump(exclude={"call_id"})
    assert with_history == world.repository.get_call_history(TENANT, "without").model_dump(exclude={"call_id"})


def test_the_token_carries_the_statistics_tally_of_the_whole_route(world: World) -> None:
    world.publish(seed_scenario())
    service = service_of(world)
    answer = report(service, start(service), "no_answer")
    assert answer.state_token is not None
    snapshot = CallSnapshot.model_validate_json(TOKENS.open(TENANT, "call-1", 2, answer.state_token))
    assert snapshot.path == ["start", "mgr", "next"]
    assert snapshot.rang
    assert snapshot.tally == {
        "v#start": 1,
        "x#start#next": 1,
        "v#mgr": 1,
        "o#mgr": 1,
        "x#mgr#no_answer": 1,
        "v#next": 1,
        "o#next": 1,
    }


def test_concurrent_tokened_deliveries_advance_the_call_once(world: World) -> None:
    world.publish(seed_scenario())
    service = service_of(world)
    first = start(service)
    barrier = threading.Barrier(10)
    results: list[CallAnswer] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        barrier.wait()
        try:
            results.append(report(service, first, "no_answer"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert all(result == results[0] for result in results)
    stored = world.repository.get_call(TENANT, "call-1")
    assert stored.state.seq == 2
    assert sum(1 for step in stored.trace if step.outcome == "no_answer") == 1


def test_a_reused_token_with_another_outcome_is_a_conflict(world: World) -> None:
    world.publish(seed_scenario())
    service = service_of(world)
    first = start(service)
    report(service, first, "no_answer")
    with pytest.raises(Conflict) as conflict:
        report(service, first, "busy")
    assert conflict.value.details[0]["current_seq"] == 2


def test_a_token_of_an_expired_call_is_not_found(world: World) -> None:
    world.publish(seed_scenario())
    service = service_of(world)
    first = start(service)
    world.clock.advance(timedelta(hours=25).total_seconds())
    with pytest.raises(NotFound):
        report(service, first, "no_answer")


def test_a_service_without_keys_refuses_a_token(world: World) -> None:
    world.publish(seed_scenario())
    first = start(service_of(world))
    keyless = CallsService(world.repository, clock=world.clock, crm_lookup=world.crm_lookup)
    with pytest.raises(InvalidStateToken):
        report(keyless, first, "no_answer")
    assert keyless.start_call(
        TENANT, CallStart.model_validate({"call_id": "c2", "from": CALLER, "to": MAIN_NUMBER})
    ) == CallAnswer(world.repository.get_call(TENANT, "c2").last_decision)


def test_a_token_that_would_be_too_long_is_not_issued(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Telephony then reports without one (the call is read first); nothing breaks."""
    world.publish(seed_scenario())
    monkeypatch.setattr("vpbx.service.calls.MAX_TOKEN_LENGTH", 64)
    service = service_of(world)
    first = start(service)
    assert first.state_token is None
    second = service.report_event(TENANT, "call-1", CallEvent.model_validate({"seq": 1, "outcome": "no_answer"}))
    assert (second.decision.seq, second.state_token) == (2, None)
