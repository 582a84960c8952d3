"""Call end and history on both repositories: `completed`, results, who answered, retention, filters, statistics."""

import threading
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import ValidationError
from vpbx.domain.directory import Subscriber
from vpbx.domain.errors import Conflict, InvalidInput, NotFound
from vpbx.domain.scenario import Scenario
from vpbx.service.call_stats import scenario_stats
from vpbx.service.calls import CallEvent, CallsService, CallStart, call_detail
from vpbx.store.dynamodb import DynamoRepository
from vpbx.store.dynamodb.table import DynamoTable
from vpbx.store.memory import InMemoryRepository
from vpbx.store.models import CallCounters, CallFilter, CallRecord, DirectorySnapshot, PhoneNumber, Tenant
from vpbx.store.ports import Repository

from tests.helpers.scenarios import seed_scenario

if TYPE_CHECKING:
    from tests.integration.conftest import ManualClock

T = "acme"
NUMBER, OTHER_NUMBER, DRAFT_NUMBER = "+74951234567", "+74951230000", "+74951239999"
CALLER, OTHER_CALLER = "+79161234567", "+79030000000"
HISTORY_DAYS = 7

GROUP_SCENARIO = {
    "name": "Group",
    "elements": [
        {"id": "start", "type": "incoming_call"},
        {"id": "sales", "type": "group", "members": ["101", "102"], "strategy": "simultaneous", "wait_seconds": 20},
        {"id": "vm", "type": "voicemail", "mailbox": "101"},
    ],
    "connections": [{"from": "start", "to": "sales"}, {"from": "sales", "exit": "no_answer", "to": "vm"}],
}
GREETING_SCENARIO = {
    "name": "Closed",
    "elements": [
        {"id": "start", "type": "incoming_call"},
        {"id": "closed", "type": "greeting", "prompt": {"text": "We are closed", "voice": "alice"}},
        {"id": "bye", "type": "hangup"},
    ],
    "connections": [{"from": "start", "to": "closed"}, {"from": "closed", "to": "bye"}],
}


def publish(repository: Repository, clock: "ManualClock", scenario: dict[str, Any], scenario_id: str) -> None:
    parsed = Scenario.model_validate(scenario)
    try:
        draft = repository.get_scenario(T, scenario_id)
        draft = repository.update_scenario(T, scenario_id, parsed, draft.version)
    except NotFound:
        draft = repository.create_scenario(T, scenario_id, parsed)
    snapshot = DirectorySnapshot(subscribers=[Subscriber(extension=e, name=f"E{e}") for e in ("101", "102")])
    repository.publish_scenario(T, scenario_id, draft.version, snapshot, clock(), None)


def hire_staff(repository: Repository) -> None:
    """Calls ring the live directory's subscribers: 101 and 102 exist."""
    for extension in ("101", "102"):
        repository.create_subscriber(T, Subscriber(extension=extension, name=f"E{extension}"))


@pytest.fixture
def world(repository: Repository, clock: "ManualClock") -> Repository:
    repository.create_tenant(Tenant(id=T, name="Acme", created_at=clock(), call_history_days=HISTORY_DAYS))
    hire_staff(repository)
    publish(repository, clock, seed_scenario(), "main")
    publish(repository, clock, GROUP_SCENARIO, "group")
    repository.create_number(T, PhoneNumber(number=NUMBER, scenario_id="main"))
    repository.create_number(T, PhoneNumber(number=OTHER_NUMBER, scenario_id="group"))
    return repository


def service(repository: Repository, clock: "ManualClock") -> CallsService:
    return CallsService(repository, clock=clock, crm_lookup=lambda *_: None)


def start(calls: CallsService, call_id: str, to: str = NUMBER, caller: str = CALLER) -> Any:
    return calls.start(T, CallStart.model_validate({"call_id": call_id, "from": caller, "to": to}))


def event(calls: CallsService, call_id: str, seq: int, outcome: str, **fields: Any) -> Any:
    return calls.handle_event(T, call_id, CallEvent.model_validate({"seq": seq, "outcome": outcome, **fields}))


def completed(seconds: int = 125, by: str = "caller") -> dict[str, Any]:
    return {"duration_seconds": seconds, "ended_by": by}


def answered_and_completed(calls: CallsService, clock: "ManualClock", call_id: str, **start_fields: Any) -> None:
    start(calls, call_id, **start_fields)
    clock.advance(seconds=8)
    event(calls, call_id, 1, "answered")
    clock.advance(seconds=125)
    event(calls, call_id, 2, "completed", **completed())


def counters(repository: Repository, scenario_id: str = "main") -> dict[str, int]:
    totals: dict[str, int] = {}
    for day in repository.read_call_counters(T, scenario_id, date(2000, 1, 1), date(2999, 1, 1)):
        for name, value in day.values.items():
            totals[name] = totals.get(name, 0) + value
    return totals


# ---------------------------------------------------------------------------------------------- completed


def test_completed_records_talk_time_who_hung_up_and_who_answered(world: Repository, clock: "ManualClock") -> None:
    calls = service(world, clock)
    started = clock()
    answered_and_completed(calls, clock, "c1")

    record = calls.get(T, "c1")
    assert isinstance(record, CallRecord)
    assert (record.state.status, record.result, record.state.seq) == ("ended", "completed", 3)
    assert (record.answered_extension, record.answered_at) == ("101", started + timedelta(seconds=8))
    assert (record.duration_seconds, record.ended_by, record.ended_at) == (125, "caller", clock())
    assert record.path == ["start", "mgr"]
    assert record.trace[-1].outcome == "completed"
    detail = call_detail(record).model_dump(mode="json", by_alias=True)
    assert (detail["result"], detail["duration_seconds"], detail["answered_extension"]) == ("completed", 125, "101")


def test_completed_answers_seq_plus_one_ended_and_a_duplicate_gets_the_same(
    world: Repository, clock: "ManualClock"
) -> None:
    calls = service(world, clock)
    start(calls, "c1")
    connected = event(calls, "c1", 1, "answered")
    assert (connected.seq, connected.status) == (2, "connected")
    first = event(calls, "c1", 2, "completed", **completed())
    assert (first.seq, first.action, first.status) == (3, None, "ended")
    assert event(calls, "c1", 2, "completed", **completed()) == first
    with pytest.raises(Conflict):  # the same seq with another duration is not a duplicate
        event(calls, "c1", 2, "completed", **completed(seconds=126))
    assert counters(world)["r#completed"] == 1


def test_completed_needs_a_connected_call(world: Repository, clock: "ManualClock") -> None:
    calls = service(world, clock)
    start(calls, "c1")
    with pytest.raises(Conflict) as raised:
        event(calls, "c1", 1, "completed", **completed())
    assert raised.value.details[0]["status"] == "in_progress"


@pytest.mark.parametrize(
    "body",
    [
        {"seq": 2, "outcome": "completed"},  # duration and ended_by are required
        {"seq": 2, "outcome": "completed", "duration_seconds": 5},
        {"seq": 2, "outcome": "completed", "duration_seconds": -1, "ended_by": "caller"},
        {"seq": 2, "outcome": "completed", "duration_seconds": 5, "ended_by": "operator"},
        {"seq": 2, "outcome": "answered", "duration_seconds": 5, "ended_by": "caller"},
        {"seq": 2, "outcome": "no_answer", "extension": "101"},
    ],
)
def test_completed_fields_only_with_completed(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        CallEvent.model_validate(body)


def test_answered_extension_is_the_target_telephony_names(world: Repository, clock: "ManualClock") -> None:
    calls = service(world, clock)
    start(calls, "g1", to=OTHER_NUMBER)
    with pytest.raises(Conflict):  # 103 was not rung
        event(calls, "g1", 1, "answered", extension="103")
    event(calls, "g1", 1, "answered", extension="102")
    start(calls, "g2", to=OTHER_NUMBER)
    event(calls, "g2", 1, "answered")  # a group without the extension: unknown, not guessed
    extensions = [world.get_call(T, call_id).answered_extension for call_id in ("g1", "g2")]
    assert extensions == ["102", None]


# ---------------------------------------------------------------------------------------------- results


def test_each_result(world: Repository, clock: "ManualClock") -> None:
    calls = service(world, clock)
    answered_and_completed(calls, clock, "completed")
    start(calls, "connected")
    event(calls, "connected", 1, "answered")
    start(calls, "missed")
    event(calls, "missed", 1, "no_answer")
    event(calls, "missed", 2, "no_answer")  # 102 rings without a limit: the end of the route
    start(calls, "abandoned")
    event(calls, "abandoned", 1, "caller_hangup")
    start(calls, "voicemail", to=OTHER_NUMBER)
    event(calls, "voicemail", 1, "no_answer")
    publish(world, clock, GREETING_SCENARIO, "main")
    start(calls, "hangup")
    event(calls, "hangup", 1, "played")
    world.create_scenario(T, "draft", Scenario.model_validate(seed_scenario()))
    world.create_number(T, PhoneNumber(number=DRAFT_NUMBER, scenario_id="draft"))
    start(calls, "failed", to=DRAFT_NUMBER)  # the number's scenario has no published version

    results = {summary.call_id: summary.result for summary in world.list_calls(T, 20, None).items}
    assert results == {name: name for name in results}
    assert set(results) == {"completed", "connected", "missed", "abandoned", "voicemail", "hangup", "failed"}


def test_a_routed_call_has_no_result_yet(world: Repository, clock: "ManualClock") -> None:
    calls = service(world, clock)
    start(calls, "c1")
    (summary,) = world.list_calls(T, 10, None).items
    assert (summary.status, summary.result, summary.path) == ("in_progress", None, ["start", "mgr"])


# ---------------------------------------------------------------------------------------------- retention


def test_history_outlives_the_live_call_for_the_tenants_retention(world: Repository, clock: "ManualClock") -> None:
    calls = service(world, clock)
    answered_and_completed(calls, clock, "c1")
    ended = clock()
    clock.advance(hours=25)  # the live call item has expired
    with pytest.raises(NotFound):
        world.get_call(T, "c1")
    history = calls.get(T, "c1")
    assert history.expires_at == int((ended + timedelta(days=HISTORY_DAYS)).timestamp())
    detail = call_detail(history)
    assert (detail.result, detail.duration_seconds, detail.trace, detail.path) == (
        "completed",
        125,
        [],
        ["start", "mgr"],
    )
    assert [c.call_id for c in world.list_calls(T, 10, None, where=CallFilter(kind="result", value="completed")).items]
    clock.advance(days=HISTORY_DAYS)
    with pytest.raises(NotFound):
        calls.get(T, "c1")
    assert world.list_calls(T, 10, None).items == []


def test_a_call_still_routed_keeps_the_live_ttl_only(world: Repository, clock: "ManualClock") -> None:
    calls = service(world, clock)
    start(calls, "c1")
    clock.advance(hours=25)
    with pytest.raises(NotFound):
        calls.get(T, "c1")


# ---------------------------------------------------------------------------------------------- filters


def all_pages(list_page: Callable[[str | None], Any]) -> tuple[list[str], int]:
    ids: list[str] = []
    cursor, pages = None, 0
    while True:
        page = list_page(cursor)
        pages += 1
        ids.extend(summary.call_id for summary in page.items)
        cursor = page.next_cursor
        if cursor is None:
            return ids, pages


def test_each_filter_pages_through_its_index_newest_first(world: Repository, clock: "ManualClock") -> None:
    """Matching calls (m*) between non-matching ones (x*): every page is full until the last, none is empty."""
    calls = service(world, clock)
    for i in range(4):
        answered_and_completed(calls, clock, f"m{i}")  # main, 101 answered, completed, CALLER
        clock.advance(minutes=1)
        start(calls, f"x{i}", to=OTHER_NUMBER, caller=OTHER_CALLER)  # the group, nobody answers: voicemail
        event(calls, f"x{i}", 1, "no_answer")
        clock.advance(minutes=1)
    expected = ["m3", "m2", "m1", "m0"]
    filters = {
        "result": "completed",
        "scenario_id": "main",
        "extension": "101",
        "number": NUMBER,
        "caller": CALLER,
    }
    for kind, value in filters.items():
        where = CallFilter(kind=kind, value=value)
        ids, pages = all_pages(lambda cursor, where=where: world.list_calls(T, 2, cursor, where=where))  # type: ignore[misc]
        assert (kind, ids, pages) == (kind, expected, 2)
    others = world.list_calls(T, 10, None, where=CallFilter(kind="result", value="voicemail")).items
    assert [c.call_id for c in others] == ["x3", "x2", "x1", "x0"]
    since, until = (world.get_call(T, call_id).state.call.started_at for call_id in ("m1", "m3"))
    window = world.list_calls(T, 10, None, since=since, until=until, where=filters_of("caller"))
    assert [c.call_id for c in window.items] == ["m2", "m1"]
    everything, _ = all_pages(lambda cursor: world.list_calls(T, 3, cursor))
    assert len(everything) == len(set(everything)) == 8  # a call is listed once, by its history item


def filters_of(kind: str) -> CallFilter:
    return CallFilter(kind=kind, value=CALLER)


def test_routed_calls_are_found_by_number_scenario_and_caller(world: Repository, clock: "ManualClock") -> None:
    calls = service(world, clock)
    start(calls, "routed")
    for kind, value in (("number", NUMBER), ("scenario_id", "main"), ("caller", CALLER)):
        listed = world.list_calls(T, 10, None, where=CallFilter(kind=kind, value=value)).items
        assert [c.call_id for c in listed] == ["routed"]
    assert world.list_calls(T, 10, None, where=CallFilter(kind="extension", value="101")).items == []


def test_list_takes_one_filter_and_validates_it(world: Repository, clock: "ManualClock") -> None:
    calls = service(world, clock)
    with pytest.raises(InvalidInput) as raised:
        calls.list(T, limit=10, result="missed", extension="101")
    assert [d["loc"] for d in raised.value.details] == [["query", "result"], ["query", "extension"]]
    with pytest.raises(InvalidInput):
        calls.list(T, limit=10, number="not a number")
    assert calls.list(T, limit=10, caller=" +7 916 123-45-67 ").items == []  # normalized like a start's caller


# ---------------------------------------------------------------------------------------------- statistics


def test_stats_count_elements_exits_answers_waits_and_results(world: Repository, clock: "ManualClock") -> None:
    calls = service(world, clock)
    answered_and_completed(calls, clock, "a1")  # 101 answers after 8 s, 125 s of talk
    start(calls, "a2")
    clock.advance(seconds=20)
    event(calls, "a2", 1, "no_answer")
    clock.advance(seconds=4)
    event(calls, "a2", 2, "answered")  # 102 answers 24 s after the start; never completed
    start(calls, "m1")
    event(calls, "m1", 1, "no_answer")
    event(calls, "m1", 2, "no_answer")
    start(calls, "ab")
    event(calls, "ab", 1, "caller_hangup")
    start(calls, "routed")  # still ringing: not counted yet

    stats = scenario_stats(world, T, "main", None, None, clock())
    assert (stats.calls, stats.answer_rate) == (4, 0.5)
    assert stats.results == {"connected": 2, "completed": 1, "missed": 1, "abandoned": 1}
    assert (stats.average_wait_seconds, stats.average_talk_seconds) == (16.0, 125.0)
    by_id = {element.element_id: element for element in stats.elements}
    assert (by_id["start"].visits, by_id["start"].exits) == (4, {"next": 4})
    mgr, nxt = by_id["mgr"], by_id["next"]
    assert (mgr.visits, mgr.exits, mgr.ended_here) == (4, {"no_answer": 2}, 2)
    assert mgr.ring is not None
    assert (mgr.ring.offered, mgr.ring.answered, mgr.ring.answer_rate) == (4, 1, 0.25)
    assert nxt.ring is not None
    assert (nxt.ring.offered, nxt.ring.answered, nxt.ring.average_wait_seconds) == (2, 1, 24.0)
    assert nxt.ended_here == 2
    assert [d.calls for d in stats.days][-1] == 4


def test_stats_period_is_validated_and_scoped_to_the_tenant(world: Repository, clock: "ManualClock") -> None:
    today = clock().date()
    with pytest.raises(InvalidInput):
        scenario_stats(world, T, "main", today, today - timedelta(days=1), clock())
    with pytest.raises(InvalidInput):
        scenario_stats(world, T, "main", today - timedelta(days=400), today, clock())
    with pytest.raises(NotFound):
        scenario_stats(world, "globex", "main", None, None, clock())
    week = scenario_stats(world, T, "main", today - timedelta(days=6), today, clock())
    assert (len(week.days), week.calls, week.answer_rate) == (7, 0, None)


# ---------------------------------------------------------------------------------------------- races


class CompetingRepository:
    """Mixin: lets a competing delivery run right before this one's first conditional save."""

    competitor: Callable[[], None] | None = None

    def save_call(
        self, tenant_id: str, call: CallRecord, expected_seq: int, counters: CallCounters | None = None
    ) -> CallRecord:
        competitor, self.competitor = self.competitor, None
        if competitor is not None:
            competitor()
        return super().save_call(tenant_id, call, expected_seq, counters)  # type: ignore[misc]


class CompetingMemory(CompetingRepository, InMemoryRepository):
    pass


class CompetingDynamo(CompetingRepository, DynamoRepository):
    pass


@pytest.fixture
def competing(request: pytest.FixtureRequest, repository: Repository, clock: "ManualClock") -> Iterator[Any]:
    if isinstance(repository, DynamoRepository):
        yield CompetingDynamo(repository.table_name, client=repository.client, clock=clock)
    else:
        yield CompetingMemory(clock=clock)


def duplicate_completed_race(repository: Any, clock: "ManualClock") -> tuple[list[Any], dict[str, int]]:
    repository.create_tenant(Tenant(id=T, name="Acme", created_at=clock()))
    hire_staff(repository)
    publish(repository, clock, seed_scenario(), "main")
    repository.create_number(T, PhoneNumber(number=NUMBER, scenario_id="main"))
    calls = service(repository, clock)
    start(calls, "c1")
    event(calls, "c1", 1, "answered")
    answers: list[Any] = []
    repository.competitor = lambda: answers.append(event(calls, "c1", 2, "completed", **completed()))
    answers.append(event(calls, "c1", 2, "completed", **completed()))
    return answers, counters(repository)


def test_two_deliveries_of_completed_end_the_call_once(competing: Any, clock: "ManualClock") -> None:
    answers, counted = duplicate_completed_race(competing, clock)
    assert answers[0] == answers[1]
    assert (counted["r#completed"], counted["talk_seconds"]) == (1, 125)
    assert sum(1 for step in competing.get_call(T, "c1").trace if step.outcome == "completed") == 1


def test_without_the_seq_condition_the_duplicate_completed_counts_twice(
    repository: Repository, clock: "ManualClock", monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard matters: with the seq condition made always true (as tests/reliability/unguarded_store.py does),
    both deliveries of one `completed` write, and the call's talk time is counted twice."""
    if not isinstance(repository, DynamoRepository):
        pytest.skip("the condition under test is DynamoDB's")
    guarded = DynamoTable._request

    def unguarded(self: DynamoTable, operation: str, **params: Any) -> dict[str, Any]:
        for target in [params, *(next(iter(item.values())) for item in params.get("TransactItems", []))]:
            condition = target.get("ConditionExpression")
            if condition and ":expected" in condition:
                target["ConditionExpression"] = f"attribute_exists(PK) OR attribute_not_exists(PK) OR ({condition})"
        return guarded(self, operation, **params)

    monkeypatch.setattr(DynamoTable, "_request", unguarded)
    racing = CompetingDynamo(repository.table_name, client=repository.client, clock=clock)
    _, counted = duplicate_completed_race(racing, clock)
    assert (counted["r#completed"], counted["talk_seconds"]) == (2, 250)


def test_concurrent_deliveries_of_completed(repository: Repository, clock: "ManualClock") -> None:
    repository.create_tenant(Tenant(id=T, name="Acme", created_at=clock()))
    hire_staff(repository)
    publish(repository, clock, seed_scenario(), "main")
    repository.create_number(T, PhoneNumber(number=NUMBER, scenario_id="main"))
    calls = service(repository, clock)
    start(calls, "c1")
    event(calls, "c1", 1, "answered")
    answers: list[Any] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            answers.append(event(calls, "c1", 2, "completed", **completed()))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(answers) == 4
    assert all(a == answers[0] for a in answers)
    assert counters(repository)["r#completed"] == 1
