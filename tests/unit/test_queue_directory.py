"""The queue directory object (`/v1/queues`) through DirectoryService on the in-memory repository: input models and
their bounds, versions, tenancy, the directory revision, the in-use guard, and live resolution for calls."""

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError
from vpbx.domain.errors import Conflict, InUse, NotFound, VersionMismatch
from vpbx.domain.queues import MAX_QUEUE_MEMBERS, MAX_QUEUE_WAITING, Queue
from vpbx.domain.scenario import References, Scenario
from vpbx.service.directory import (
    DirectoryService,
    QueueCreate,
    QueueReplace,
    SubscriberCreate,
    queue_out,
)
from vpbx.service.scenarios import ScenarioCreate, ScenarioService
from vpbx.service.version_cache import VersionCache
from vpbx.store.memory import InMemoryRepository
from vpbx.store.models import Tenant

from tests.helpers.queues import naming_queues, queue_body, queue_scenario

TENANT = "acme"
OTHER = "globex"
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def repository() -> InMemoryRepository:
    repository = InMemoryRepository(clock=lambda: T0)
    for tenant_id in (TENANT, OTHER):
        repository.create_tenant(Tenant(id=tenant_id, name=tenant_id, created_at=T0))
    return repository


@pytest.fixture
def directory(repository: InMemoryRepository) -> DirectoryService:
    service = DirectoryService(repository, TENANT)
    for extension in ("101", "102"):
        service.create_subscriber(SubscriberCreate(extension=extension, name=f"Agent {extension}"))
    return service


def create(directory: DirectoryService, **body: Any) -> Any:
    return directory.create_queue(QueueCreate.model_validate(queue_body(**body)))


def replace_body(**fields: Any) -> QueueReplace:
    body = queue_body(None, **fields)
    return QueueReplace.model_validate(body)


def publish(repository: InMemoryRepository, body: dict[str, Any]) -> int:
    scenarios = ScenarioService(repository, TENANT)
    scenario_id = body["id"]
    try:
        draft = scenarios.get(scenario_id)
        draft = scenarios.replace(scenario_id, Scenario.model_validate(_without_id(body)), draft.version)
    except NotFound:
        draft = scenarios.create(ScenarioCreate.model_validate(body))
    return scenarios.publish(scenario_id, draft.version, by="test").number


def _without_id(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "id"}


# ------------------------------------------------------------------------------------------------ the object


def test_queue_round_trip_with_versions(directory: DirectoryService) -> None:
    created = create(directory, strategy="least_recent", max_waiting=5, hold_prompt={"text": "Please hold"})
    assert (created.item.id, created.version, created.item.extensions) == ("support", 1, ("101", "102"))
    assert directory.get_queue("support") == created

    replaced = directory.replace_queue("support", replace_body(members=("102",), wrapup_seconds=0), 1)
    assert (replaced.version, replaced.item.extensions, replaced.item.wrapup_seconds) == (2, ("102",), 0)
    assert replaced.item.strategy == "ring_all"  # a replace is whole: what the body leaves out takes its default
    with pytest.raises(VersionMismatch):
        directory.replace_queue("support", replace_body(), 1)
    with pytest.raises(VersionMismatch):
        directory.delete_queue("support", 1)

    directory.delete_queue("support", 2)
    with pytest.raises(NotFound):
        directory.get_queue("support")


def test_a_queue_without_an_id_gets_one(directory: DirectoryService) -> None:
    first = create(directory, queue_id=None)
    second = create(directory, queue_id=None)
    assert first.item.id.startswith("que-")
    assert first.item.id != second.item.id


def test_queues_list_in_pages(directory: DirectoryService) -> None:
    for n in range(5):
        create(directory, queue_id=f"q{n}")
    first = directory.list_queues(2, None)
    assert [q.item.id for q in first.items] == ["q0", "q1"]
    rest = directory.list_queues(10, first.next_cursor)
    assert [q.item.id for q in rest.items] == ["q2", "q3", "q4"]
    assert rest.next_cursor is None


def test_the_output_carries_the_version(directory: DirectoryService) -> None:
    out = queue_out(create(directory))
    assert (out.id, out.version, out.created_at) == ("support", 1, T0)
    assert out.members[0].priority == 0


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"members": [{"extension": "101"}, {"extension": "101", "priority": 2}]}, "member once"),
        ({"members": [{"extension": str(100 + n)} for n in range(MAX_QUEUE_MEMBERS + 1)]}, "at most"),
        ({"members": [{"extension": "1234567"}]}, "pattern"),
        ({"members": [{"extension": "101", "priority": 10}]}, "less than or equal"),
        ({"max_waiting": 0}, "greater than or equal"),
        ({"max_waiting": MAX_QUEUE_WAITING + 1}, "less than or equal"),
        ({"member_ring_seconds": 4}, "greater than or equal"),
        ({"max_wait_seconds": 3601}, "less than or equal"),
        ({"wrapup_seconds": -1}, "greater than or equal"),
        ({"poll_seconds": 61}, "less than or equal"),
        ({"strategy": "longest_idle"}, "ring_all"),
        ({"hold_prompt": {"text": "x", "audio_url": "https://a.example/x.wav"}}, "either text"),
        ({"announcements": {"enabled": True, "every_seconds": 5}}, "greater than or equal"),
        ({"tenant_id": OTHER}, "Extra inputs"),
        ({"version": 3}, "Extra inputs"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_bad_queues_are_refused_at_parse_time(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        QueueCreate.model_validate({"name": "Support", **fields})
    with pytest.raises(ValidationError, match=problem):
        QueueReplace.model_validate({"name": "Support", **fields})


def test_the_input_model_keeps_the_domain_bounds() -> None:
    """The bodies restate the domain's fields for the contract; a bound changed on one side only fails here."""
    domain = Queue.model_json_schema()["properties"]
    body = QueueReplace.model_json_schema()["properties"]
    assert set(body) == set(domain) - {"id"}
    for name, schema in domain.items():
        if name == "id":
            continue
        bounds = {key: schema[key] for key in ("minimum", "maximum", "maxItems", "default") if key in schema}
        assert bounds == {key: body[name][key] for key in bounds}, name


def test_a_member_need_not_be_a_subscriber(directory: DirectoryService) -> None:
    created = create(directory, members=("101", "555"))
    assert created.item.extensions == ("101", "555")  # skipped at call time, not refused here


# ------------------------------------------------------------------------------------------------ tenancy


def test_another_tenants_queue_is_not_found(repository: InMemoryRepository, directory: DirectoryService) -> None:
    create(directory)
    stranger = DirectoryService(repository, OTHER)
    with pytest.raises(NotFound):
        stranger.get_queue("support")
    with pytest.raises(NotFound):
        stranger.replace_queue("support", replace_body(), 1)
    with pytest.raises(NotFound):
        stranger.delete_queue("support", 1)
    assert stranger.list_queues(10, None).items == []
    assert directory.get_queue("support").version == 1  # untouched
    assert repository.resolve_directory(OTHER, References(queues=frozenset({"support"}))).queues == []


# ------------------------------------------------------------------------------------------------ revision and calls


def test_every_queue_write_advances_the_directory_revision(
    repository: InMemoryRepository, directory: DirectoryService
) -> None:
    seen = [repository.directory_revision(TENANT)]
    create(directory)
    seen.append(repository.directory_revision(TENANT))
    directory.replace_queue("support", replace_body(members=("102",)), 1)
    seen.append(repository.directory_revision(TENANT))
    directory.delete_queue("support", 2)
    seen.append(repository.directory_revision(TENANT))
    assert seen == sorted(set(seen)), seen
    assert repository.directory_revision(OTHER) == 0


def test_resolving_a_queue_brings_its_member_subscribers(
    repository: InMemoryRepository, directory: DirectoryService
) -> None:
    create(directory, members=("102", "555"))  # 555 is nobody
    create(directory, queue_id="other", members=("101",))
    snapshot = repository.resolve_directory(TENANT, References(queues=frozenset({"support", "missing"})))
    assert [q.id for q in snapshot.queues] == ["support"]
    assert [s.extension for s in snapshot.subscribers] == ["102"]
    assert snapshot.to_directory().queues["support"].extensions == ("102", "555")

    named_too = References(extensions=frozenset({"101"}), queues=frozenset({"support"}))
    resolved = repository.resolve_directory(TENANT, named_too)
    assert [s.extension for s in resolved.subscribers] == ["101", "102"]


def test_a_queue_edit_reaches_the_next_compilation_without_republishing(
    repository: InMemoryRepository, directory: DirectoryService, monkeypatch: pytest.MonkeyPatch
) -> None:
    naming_queues(monkeypatch)
    create(directory, members=("101",))
    version = publish(repository, queue_scenario("support"))
    cache = VersionCache(repository)

    before = repository.directory_revision(TENANT)
    compiled = cache.compiled(TENANT, "main", version, before)
    assert compiled.directory.queues["support"].extensions == ("101",)
    assert set(compiled.directory.subscribers) == {"101"}

    directory.replace_queue("support", replace_body(members=("102",), strategy="random"), 1)
    after = repository.directory_revision(TENANT)
    assert after > before
    recompiled = cache.compiled(TENANT, "main", version, after)
    assert recompiled.directory.queues["support"].strategy == "random"
    assert set(recompiled.directory.subscribers) == {"102"}
    assert cache.compiled(TENANT, "main", version, before) is compiled  # a call keeps what it started with


# ------------------------------------------------------------------------------------------------ deletion guard


def test_a_queue_the_published_version_names_cannot_be_deleted(
    repository: InMemoryRepository, directory: DirectoryService, monkeypatch: pytest.MonkeyPatch
) -> None:
    naming_queues(monkeypatch)
    create(directory)
    publish(repository, queue_scenario("support"))

    with pytest.raises(InUse, match="main") as refused:
        directory.delete_queue("support", 1)
    assert refused.value.details[0]["loc"] == ["path", "queue_id"]
    edited = directory.replace_queue("support", replace_body(name="Renamed"), 1)  # edits stay allowed
    assert edited.version == 2

    without = queue_scenario("support")
    without["elements"][1] = {"id": "line", "type": "greeting", "prompt": {"text": "Bye"}}
    publish(repository, without)  # version 2 names no queue
    directory.delete_queue("support", 2)

    draft = ScenarioService(repository, TENANT).get("main")
    with pytest.raises(Conflict, match="queue support"):  # the version that named it cannot come back
        ScenarioService(repository, TENANT).rollback("main", 1, draft.version)


def test_a_queue_member_may_be_deleted(
    repository: InMemoryRepository, directory: DirectoryService, monkeypatch: pytest.MonkeyPatch
) -> None:
    naming_queues(monkeypatch)
    create(directory)
    publish(repository, queue_scenario("support"))
    directory.delete_subscriber("102", directory.get_subscriber("102").version)
    snapshot = repository.resolve_directory(TENANT, References(queues=frozenset({"support"})))
    assert [s.extension for s in snapshot.subscribers] == ["101"]
