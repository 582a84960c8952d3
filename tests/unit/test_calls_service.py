"""The calls service over the in-memory repository: starts, events, replays, races, pinning, CRM, budget."""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from vpbx.domain.directory import Subscriber
from vpbx.domain.errors import Conflict, InvalidField, InvalidInput, NotFound
from vpbx.domain.scenario import Scenario
from vpbx.service.calls import (
    CallDecisionOut,
    CallEvent,
    CallsService,
    CallStart,
    RecordingMetrics,
    call_detail,
    decision_out,
    is_loop_guard_end,
)
from vpbx.service.crm import CrmClient
from vpbx.service.version_cache import VersionCache
from vpbx.store.memory import InMemoryRepository
from vpbx.store.models import CallCounters, CallRecord, DirectorySnapshot, PhoneNumber, Tenant
from vpbx.store.ports import Repository

from tests.helpers.scenarios import seed_scenario

TENANT = "acme"
OTHER = "globex"
MAIN_NUMBER = "+74951234567"
OTHER_NUMBER = "+74957654321"
CALLER = "+79161234567"
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

SUBSCRIBERS = [Subscriber(extension=ext, name=f"Employee {ext}") for ext in ("101", "102", "103")]


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class CountingRepository:
    """Forwards to a repository and records which methods the service called (each is one DynamoDB request)."""

    def __init__(self, inner: Repository) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if not callable(attribute):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return attribute(*args, **kwargs)

        return counted


@dataclass
class World:
    repository: InMemoryRepository
    clock: Clock
    metrics: RecordingMetrics = field(default_factory=RecordingMetrics)
    crm_answers: dict[str, str | None] = field(default_factory=dict)
    crm_asked: list[tuple[str, str | None, float]] = field(default_factory=list)

    def service(self, repository: Repository | None = None, versions: VersionCache | None = None) -> CallsService:
        return CallsService(
            repository or self.repository,
            clock=self.clock,
            crm_lookup=self.crm_lookup,
            metrics=self.metrics,
            versions=versions,
        )

    def crm_lookup(self, url: str, caller: str | None, timeout: float) -> str | None:
        self.crm_asked.append((url, caller, timeout))
        return self.crm_answers.get(url)

    def publish(self, scenario: dict[str, Any], scenario_id: str = "main", tenant: str = TENANT) -> int:
        parsed = Scenario.model_validate(scenario)
        try:
            draft = self.repository.get_scenario(tenant, scenario_id)
        except NotFound:
            draft = self.repository.create_scenario(tenant, scenario_id, parsed)
        else:
            draft = self.repository.update_scenario(tenant, scenario_id, parsed, draft.version)
        snapshot = DirectorySnapshot(subscribers=SUBSCRIBERS)
        return self.repository.publish_scenario(tenant, scenario_id, draft.version, snapshot, self.clock(), None).number

    def rollback(self, version: int, scenario_id: str = "main") -> None:
        draft = self.repository.get_scenario(TENANT, scenario_id)
        self.repository.rollback_scenario(TENANT, scenario_id, version, draft.version)


@pytest.fixture
def world() -> World:
    clock = Clock()
    repository = InMemoryRepository(clock=clock)
    repository.create_tenant(Tenant(id=TENANT, name="Acme", sip_domain="acme.sip.example", created_at=T0))
    repository.create_tenant(Tenant(id=OTHER, name="Globex", created_at=T0))
    for tenant in (TENANT, OTHER):  # a number may only point at an existing scenario; tests publish into this draft
        repository.create_scenario(tenant, "main", Scenario.model_validate(seed_scenario()))
        for subscriber in SUBSCRIBERS:  # calls ring the live directory
            repository.create_subscriber(tenant, subscriber)
    repository.create_number(TENANT, PhoneNumber(number=MAIN_NUMBER, scenario_id="main"))
    repository.create_number(OTHER, PhoneNumber(number=OTHER_NUMBER, scenario_id="main"))
    return World(repository=repository, clock=clock)


def start(service: CallsService, call_id: str = "call-1", to: str = MAIN_NUMBER, **body: Any) -> CallDecisionOut:
    request = CallStart.model_validate({"call_id": call_id, "from": CALLER, "to": to, **body})
    return decision_out(call_id, service.start(TENANT, request))


def event(service: CallsService, seq: int, outcome: str, call_id: str = "call-1", **body: Any) -> CallDecisionOut:
    request = CallEvent.model_validate({"seq": seq, "outcome": outcome, **body})
    return decision_out(call_id, service.handle_event(TENANT, call_id, request))


def as_json(decision: CallDecisionOut) -> dict[str, Any]:
    return decision.model_dump(mode="json")


# ---------------------------------------------------------------------------------------------- the seed route


def test_seed_route_rings_101_then_the_next_element_then_connects(world: World) -> None:
    world.publish(seed_scenario())
    service = world.service()

    first = as_json(start(service))
    assert first == {
        "call_id": "call-1",
        "seq": 1,
        "status": "in_progress",
        "action": {
            "type": "ring",
            "targets": [
                {"extension": "101", "uri": "sip:101@acme.sip.example", "number": None, "dial_delay_seconds": 0}
            ],
            "strategy": "single",
            "timeout_seconds": 20,
        },
        "state_token": None,  # this service has no token keys
    }
    world.clock.advance(20)
    second = as_json(event(service, 1, "no_answer"))
    assert second["seq"] == 2
    assert second["action"]["targets"][0]["extension"] == "102"
    assert second["action"]["timeout_seconds"] is None  # without limit_wait the element rings until answered
    third = as_json(event(service, 2, "answered"))
    assert third == {"call_id": "call-1", "seq": 3, "action": None, "status": "connected", "state_token": None}

    stored = world.repository.get_call(TENANT, "call-1")
    assert stored.state.result == "connected"
    assert [(s.seq, s.element_id, s.outcome, s.exit) for s in stored.trace] == [
        (1, "start", None, "next"),
        (1, "mgr", None, None),
        (2, "mgr", "no_answer", "no_answer"),
        (2, "next", None, None),
        (3, "next", "answered", None),
    ]
    assert stored.trace[2].at == T0 + timedelta(seconds=20)


def test_call_state_expires_a_day_after_the_last_event(world: World) -> None:
    world.publish(seed_scenario())
    service = world.service()
    start(service)
    assert world.repository.get_call(TENANT, "call-1").expires_at == int((T0 + timedelta(hours=24)).timestamp())
    world.clock.advance(3600)
    event(service, 1, "no_answer")
    later = T0 + timedelta(hours=25)
    assert world.repository.get_call(TENANT, "call-1").expires_at == int(later.timestamp())


def test_caller_hangup_ends_routing(world: World) -> None:
    world.publish(seed_scenario())
    service = world.service()
    start(service)
    ended = event(service, 1, "caller_hangup")
    assert (ended.status, ended.action) == ("ended", None)
    assert world.repository.get_call(TENANT, "call-1").state.result == "caller_hangup"
    with pytest.raises(Conflict, match="already ended"):
        event(service, 2, "no_answer")


# ---------------------------------------------------------------------------------------------- numbers


def test_unknown_number_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        start(world.service(), to="+74990000000")


def test_another_tenants_number_is_not_found(world: World) -> None:
    world.publish(seed_scenario(), tenant=OTHER)
    with pytest.raises(NotFound):
        start(world.service(), to=OTHER_NUMBER)
    with pytest.raises(NotFound):
        world.repository.get_call(OTHER, "call-1")


def test_number_without_scenario_is_not_found(world: World) -> None:
    world.repository.create_number(TENANT, PhoneNumber(number="+74951112233"))
    with pytest.raises(NotFound, match="not assigned"):
        start(world.service(), to="+74951112233")


def test_unpublished_scenario_hangs_up_with_a_reason(world: World) -> None:
    assert world.repository.get_scenario(TENANT, "main").item.published_version is None
    decision = as_json(start(world.service()))
    assert decision == {
        "call_id": "call-1",
        "seq": 1,
        "action": {"type": "hangup", "reason": "not_published"},
        "status": "ended",
        "state_token": None,
    }
    assert world.repository.get_call(TENANT, "call-1").state.result == "not_published"
    with pytest.raises(Conflict):
        event(world.service(), 1, "no_answer")


def test_dialed_number_is_normalized_and_must_be_e164() -> None:
    body = CallStart.model_validate({"call_id": "c", "from": "+7 916 123-45-67", "to": "+7 (495) 123-45-67"})
    assert (body.from_, body.to) == ("+79161234567", MAIN_NUMBER)
    assert CallStart.model_validate({"call_id": "c", "from": "anonymous", "to": MAIN_NUMBER}).from_ == "anonymous"
    assert CallStart.model_validate({"call_id": "c", "from": None, "to": MAIN_NUMBER}).from_ is None
    with pytest.raises(ValueError, match="not a valid phone number"):
        CallStart.model_validate({"call_id": "c", "to": "+7495"})
    with pytest.raises(ValueError, match=r"E\.164"):
        CallStart.model_validate({"call_id": "c", "to": "sip:anyone@example.com"})
    # a national form passes the shape check; the service reads it with the tenant's default country
    assert CallStart.model_validate({"call_id": "c", "to": "8 495 123-45-67"}).to == "8 495 123-45-67"


def test_a_national_dialed_number_needs_the_tenants_default_country(world: World) -> None:
    world.publish(seed_scenario())
    with pytest.raises(InvalidField, match="default_country"):
        start(world.service(), to="84951234567")
    with pytest.raises(ValueError, match="call_id"):
        CallStart.model_validate({"call_id": "bad id with spaces", "to": MAIN_NUMBER})


# ---------------------------------------------------------------------------------------------- idempotency


def test_duplicate_start_returns_the_first_decision_even_after_the_call_moved_on(world: World) -> None:
    world.publish(seed_scenario())
    service = world.service()
    first = as_json(start(service))
    event(service, 1, "no_answer")
    assert as_json(start(service)) == first
    assert world.repository.get_call(TENANT, "call-1").state.seq == 2  # the duplicate changed nothing


def test_duplicate_start_with_another_body_is_a_conflict(world: World) -> None:
    world.publish(seed_scenario())
    service = world.service()
    start(service)
    with pytest.raises(Conflict, match="already started"):
        start(service, **{"from": "+79990001122"})


def test_replayed_event_returns_the_stored_decision_unchanged(world: World) -> None:
    world.publish(seed_scenario())
    service = world.service()
    start(service)
    first = as_json(event(service, 1, "no_answer"))
    before = world.repository.get_call(TENANT, "call-1")
    world.clock.advance(5)
    replays = [as_json(event(service, 1, "no_answer")) for _ in range(5)]
    assert replays == [first] * 5
    assert world.repository.get_call(TENANT, "call-1") == before


def test_other_outcome_for_an_answered_seq_is_a_conflict(world: World) -> None:
    world.publish(seed_scenario())
    service = world.service()
    start(service)
    event(service, 1, "no_answer")
    with pytest.raises(Conflict, match="already answered") as raised:
        event(service, 1, "busy")
    [detail] = raised.value.details
    assert (detail["loc"], detail["current_seq"], detail["status"]) == (["body", "seq"], 2, "in_progress")


def test_stale_seq_is_a_conflict(world: World) -> None:
    world.publish(seed_scenario())
    service = world.service()
    start(service)
    event(service, 1, "no_answer")
    event(service, 2, "busy")  # decision 3: the route ends
    with pytest.raises(Conflict, match="stale"):
        event(service, 1, "no_answer")


@pytest.mark.parametrize("seq", [3, 9])
def test_future_seq_is_a_conflict(world: World, seq: int) -> None:
    world.publish(seed_scenario())
    service = world.service()
    start(service)
    event(service, 1, "no_answer")
    with pytest.raises(Conflict, match="ahead"):
        event(service, seq, "no_answer")
    assert world.repository.get_call(TENANT, "call-1").state.seq == 2


def test_outcome_that_does_not_fit_the_action_is_a_conflict(world: World) -> None:
    world.publish(seed_scenario())
    service = world.service()
    start(service)
    with pytest.raises(Conflict, match="does not fit"):
        event(service, 1, "played")
    assert world.repository.get_call(TENANT, "call-1").state.seq == 1


def test_digits_go_with_the_digits_outcome_only() -> None:
    assert CallEvent.model_validate({"seq": 1, "outcome": "digits", "digits": "1"}).digits == "1"
    with pytest.raises(ValueError, match="digits"):
        CallEvent.model_validate({"seq": 1, "outcome": "digits"})
    with pytest.raises(ValueError, match="digits"):
        CallEvent.model_validate({"seq": 1, "outcome": "answered", "digits": "1"})
    with pytest.raises(ValueError, match="outcome"):
        CallEvent.model_validate({"seq": 1, "outcome": "exploded"})


def test_unknown_call_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        event(world.service(), 1, "no_answer", call_id="nope")


# ---------------------------------------------------------------------------------------------- concurrency


def test_concurrent_deliveries_advance_the_call_once(world: World) -> None:
    world.publish(seed_scenario())
    service = world.service()
    start(service)
    barrier = threading.Barrier(10)
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        barrier.wait()
        try:
            results.append(as_json(event(service, 1, "no_answer")))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 10
    assert all(r == results[0] for r in results)
    stored = world.repository.get_call(TENANT, "call-1")
    assert stored.state.seq == 2
    assert sum(1 for step in stored.trace if step.outcome == "no_answer") == 1


class RacingRepository(InMemoryRepository):
    """Lets a competing delivery save first, right before this one's conditional save."""

    competitor: Callable[[], None] | None = None

    def save_call(
        self, tenant_id: str, call: CallRecord, expected_seq: int, counters: CallCounters | None = None
    ) -> CallRecord:
        competitor, self.competitor = self.competitor, None
        if competitor is not None:
            competitor()
        return super().save_call(tenant_id, call, expected_seq, counters)


def racing_world() -> tuple[World, RacingRepository]:
    clock = Clock()
    repository = RacingRepository(clock=clock)
    repository.create_tenant(Tenant(id=TENANT, name="Acme", created_at=T0))
    for subscriber in SUBSCRIBERS:
        repository.create_subscriber(TENANT, subscriber)
    world = World(repository=repository, clock=clock)
    world.publish(seed_scenario())
    repository.create_number(TENANT, PhoneNumber(number=MAIN_NUMBER, scenario_id="main"))
    return world, repository


def test_loser_of_a_race_with_the_same_event_returns_the_winners_decision() -> None:
    world, repository = racing_world()
    service = world.service()
    start(service)
    winner: list[dict[str, Any]] = []
    repository.competitor = lambda: winner.append(as_json(event(service, 1, "no_answer")))
    loser = as_json(event(service, 1, "no_answer"))
    assert loser == winner[0]
    assert repository.get_call(TENANT, "call-1").state.seq == 2


def test_loser_of_a_race_with_another_outcome_gets_a_conflict() -> None:
    world, repository = racing_world()
    service = world.service()
    start(service)

    def competing_answer() -> None:
        event(service, 1, "answered")

    repository.competitor = competing_answer
    with pytest.raises(Conflict):
        event(service, 1, "no_answer")
    assert repository.get_call(TENANT, "call-1").state.status == "connected"


# ---------------------------------------------------------------------------------------------- version pinning


def test_calls_stay_on_the_version_they_started_with_across_publish_and_rollback(world: World) -> None:
    v1 = world.publish(seed_scenario(second="102"))
    service = world.service()
    start(service, call_id="old")
    v2 = world.publish(seed_scenario(second="103"))
    assert v2 == v1 + 1

    start(service, call_id="new")
    assert event(service, 1, "no_answer", call_id="old").action.targets[0].extension == "102"  # type: ignore[union-attr]
    assert event(service, 1, "no_answer", call_id="new").action.targets[0].extension == "103"  # type: ignore[union-attr]

    world.rollback(v1)
    start(service, call_id="after-rollback")
    rolled = event(service, 1, "no_answer", call_id="after-rollback")
    assert rolled.action.targets[0].extension == "102"  # type: ignore[union-attr]
    assert [world.repository.get_call(TENANT, c).state.version for c in ("old", "new", "after-rollback")] == [
        v1,
        v2,
        v1,
    ]
    assert event(service, 2, "answered", call_id="new").status == "connected"  # v2 call finishes on v2


# ---------------------------------------------------------------------------------------------- loop guard


def test_loop_guard_ends_the_call_with_a_hangup(world: World) -> None:
    world.publish(
        {
            "name": "Endless greeting",
            "elements": [
                {"id": "start", "type": "incoming_call"},
                {"id": "hello", "type": "greeting", "prompt": {"text": "Hello"}},
            ],
            "connections": [{"from": "start", "to": "hello"}, {"from": "hello", "to": "hello"}],
        }
    )
    service = world.service()
    decision = start(service)
    events = 0
    while decision.status == "in_progress" and events < 50:
        decision = event(service, decision.seq, "played")
        events += 1
    assert as_json(decision)["action"] == {"type": "hangup", "reason": "loop_guard"}
    assert decision.status == "ended"
    assert events == 10  # the eleventh consecutive visit is refused
    assert sum(is_loop_guard_end(d) for d in world.metrics.decisions) == 1
    assert world.repository.get_call(TENANT, "call-1").state.result == "loop_guard"


# ---------------------------------------------------------------------------------------------- CRM routing


def crm_scenario() -> dict[str, Any]:
    return {
        "name": "CRM routing",
        "elements": [
            {"id": "start", "type": "incoming_call"},
            {"id": "crm", "type": "external_routing", "url": "https://crm.example.com/route", "wait_seconds": 15},
            {"id": "vm", "type": "voicemail", "mailbox": "101"},
        ],
        "connections": [
            {"from": "start", "to": "crm"},
            {"from": "crm", "exit": "not_found", "to": "vm"},
            {"from": "crm", "exit": "no_answer", "to": "vm"},
        ],
    }


def test_crm_found_rings_the_returned_extension(world: World) -> None:
    world.publish(crm_scenario())
    world.crm_answers["https://crm.example.com/route"] = "103"
    decision = as_json(start(world.service()))
    assert decision["action"]["type"] == "ring"
    assert decision["action"]["targets"][0]["extension"] == "103"
    assert decision["action"]["timeout_seconds"] == 15
    assert world.crm_asked == [("https://crm.example.com/route", CALLER, 3.0)]


@pytest.mark.parametrize("answer", [None, "999"], ids=["not-found", "unknown-extension"])
def test_crm_not_found_or_unknown_extension_follows_not_found(world: World, answer: str | None) -> None:
    world.publish(crm_scenario())
    world.crm_answers["https://crm.example.com/route"] = answer
    decision = as_json(start(world.service()))
    assert decision["action"] == {"type": "voicemail", "mailbox": "101"}
    trace = world.repository.get_call(TENANT, "call-1").trace
    assert any(step.element_id == "crm" and step.exit == "not_found" for step in trace)


def test_real_crm_client_refuses_an_internal_url_and_follows_not_found(world: World) -> None:
    scenario = crm_scenario()
    scenario["elements"][1]["url"] = "https://169.254.169.254/latest/meta-data/"
    world.publish(scenario)
    service = CallsService(world.repository, clock=world.clock, crm=CrmClient(allow_insecure=False))
    assert as_json(start(service))["action"] == {"type": "voicemail", "mailbox": "101"}


# ---------------------------------------------------------------------------------------------- budget, metrics


def test_request_budget_per_start_and_per_event(world: World) -> None:
    world.publish(seed_scenario())
    counting = CountingRepository(world.repository)
    repository = cast(Repository, counting)
    versions = VersionCache(repository)
    service = world.service(repository, versions)

    start(service, call_id="cold")
    assert counting.calls == [
        "call_route",
        "get_scenario_version",
        "resolve_directory",
        "get_tenant",
        "create_call",
    ]
    counting.calls.clear()
    start(service, call_id="warm")
    assert counting.calls == ["call_route", "create_call"]
    counting.calls.clear()
    event(service, 1, "no_answer", call_id="warm")
    assert counting.calls == ["get_call", "save_call"]
    counting.calls.clear()
    event(service, 1, "no_answer", call_id="warm")  # a replay: one read, no write
    assert counting.calls == ["get_call"]
    assert versions.stats.compilations == 1


def test_a_new_directory_revision_recompiles_with_the_tenant_reread_but_not_the_version(world: World) -> None:
    """A tenant settings change advances the directory revision (like a directory edit): the next call reads the
    tenant with the directory, so a new SIP domain applies at once (no time-to-live), and the version is not reread."""
    world.publish(seed_scenario())
    counting = CountingRepository(world.repository)
    versions = VersionCache(cast(Repository, counting))
    service = world.service(cast(Repository, counting), versions)
    start(service, call_id="a")
    changed = world.repository.get_tenant(TENANT).model_copy(update={"sip_domain": "pbx.acme.example"})
    counting.inner = cast(Repository, _TenantOverride(world.repository, changed))  # the tenant's domain changed
    counting.calls.clear()
    assert as_json(start(service, call_id="b"))["action"]["targets"][0]["uri"] == "sip:101@acme.sip.example"
    world.repository.update_subscriber(TENANT, SUBSCRIBERS[2], 1)  # what the tenant's PUT does: a new revision
    counting.calls.clear()
    decision = as_json(start(service, call_id="c"))
    assert decision["action"]["targets"][0]["uri"] == "sip:101@pbx.acme.example"
    assert "get_scenario_version" not in counting.calls
    assert counting.calls.count("get_tenant") == 1


class _TenantOverride:
    def __init__(self, inner: Repository, tenant: Tenant) -> None:
        self.inner, self.tenant = inner, tenant

    def get_tenant(self, tenant_id: str) -> Tenant:
        return self.tenant

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_metrics_report_decisions_and_outcomes(world: World) -> None:
    world.publish(seed_scenario())
    service = world.service()
    start(service)
    event(service, 1, "no_answer")
    event(service, 1, "no_answer")  # a replay is not a new decision
    event(service, 2, "answered")
    assert [d.action.type if d.action else None for d in world.metrics.decisions] == ["ring", "ring", None]
    assert world.metrics.outcomes == ["no_answer", "answered"]
    assert len(world.metrics.latencies_ms) == 3
    assert all(ms >= 0 for ms in world.metrics.latencies_ms)


# ---------------------------------------------------------------------------------------------- reading calls


def test_get_call_shows_the_trace(world: World) -> None:
    world.publish(seed_scenario())
    service = world.service()
    start(service)
    world.clock.advance(21)
    event(service, 1, "no_answer")
    detail = call_detail(service.get(TENANT, "call-1")).model_dump(mode="json", by_alias=True)
    assert detail["from"] == CALLER
    assert detail["to"] == MAIN_NUMBER
    assert (detail["scenario_id"], detail["version"], detail["status"], detail["seq"]) == ("main", 1, "in_progress", 2)
    assert detail["updated_at"] == "2026-03-02T10:00:21Z"
    assert detail["action"]["targets"][0]["extension"] == "102"
    assert [(s["element_id"], s["outcome"], s["exit"]) for s in detail["trace"]][2] == ("mgr", "no_answer", "no_answer")
    with pytest.raises(NotFound):
        service.get(OTHER, "call-1")


def test_list_calls_newest_first_with_filters(world: World) -> None:
    world.publish(seed_scenario())
    world.repository.create_number(TENANT, PhoneNumber(number="+74951112233", scenario_id="main"))
    service = world.service()
    for index in range(5):
        start(service, call_id=f"c{index}", to=MAIN_NUMBER if index % 2 == 0 else "+74951112233")
        world.clock.advance(60)

    page = service.list(TENANT, limit=2)
    assert [c.call_id for c in page.items] == ["c4", "c3"]
    rest = service.list(TENANT, limit=10, cursor=page.next_cursor)
    assert [c.call_id for c in rest.items] == ["c2", "c1", "c0"]
    by_number = service.list(TENANT, limit=10, number="+7 495 111-22-33")
    assert [c.call_id for c in by_number.items] == ["c3", "c1"]
    window = service.list(TENANT, limit=10, since=T0 + timedelta(seconds=60), until=T0 + timedelta(seconds=180))
    assert [c.call_id for c in window.items] == ["c2", "c1"]
    assert service.list(OTHER, limit=10).items == []
    with pytest.raises(InvalidInput):
        service.list(TENANT, limit=10, number="not a number")
    with pytest.raises(InvalidInput):
        service.list(TENANT, limit=10, since=T0, until=T0)
