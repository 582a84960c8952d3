"""The Repository contract, run against InMemoryRepository and DynamoRepository (moto) alike."""

import base64
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.retries.standard import ExponentialBackoff
from vpbx.domain.calls import CallInfo, CallState, TraceStep
from vpbx.domain.directory import CallerList, CallerPattern, Schedule, Subscriber
from vpbx.domain.errors import AlreadyExists, Conflict, InvalidInput, NotFound, Unavailable, VersionMismatch
from vpbx.domain.scenario import InternalSubscriber, Scenario
from vpbx.service.version_cache import VersionCache
from vpbx.store import schema
from vpbx.store.codec import MAX_TRACE_STEPS, TRACE_HEAD_STEPS
from vpbx.store.dynamodb import CALL_LISTING_ATTRIBUTES, DynamoRepository
from vpbx.store.models import (
    ApiKey,
    CallRecord,
    CallSummary,
    DirectorySnapshot,
    PhoneNumber,
    StoredDecision,
    Tenant,
)
from vpbx.store.paging import encode_cursor
from vpbx.store.ports import MAX_PAGE_LIMIT, Repository

from tests.conftest import dynamodb_client
from tests.helpers.item_size import index_entry_size, item_size

if TYPE_CHECKING:  # conftest is loaded by pytest itself; import it for the annotation only
    from tests.integration.conftest import ManualClock

A, B = "acme", "globex"
T0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)


# ------------------------------------------------------------------------------------------------------ builders
def scenario(name: str = "main", extension: str = "101", schedule: str | None = None) -> Scenario:
    elements: list[dict[str, Any]] = [
        {"id": "in", "type": "incoming_call"},
        {"id": "ring", "type": "internal_subscriber", "extension": extension, "limit_wait": True, "wait_seconds": 20},
        {"id": "bye", "type": "hangup"},
    ]
    connections = [{"from": "in", "to": "ring"}, {"from": "ring", "to": "bye", "exit": "no_answer"}]
    if schedule:
        elements.append({"id": "hours", "type": "schedule", "schedule_id": schedule})
        connections = [{"from": "in", "to": "hours"}, {"from": "hours", "to": "ring", "exit": "open"}, *connections[1:]]
    return Scenario.model_validate({"name": name, "elements": elements, "connections": connections})


def call_record(call_id: str, started: datetime, dialed: str = "+74951234567", seq: int = 1) -> CallRecord:
    state = CallState(
        call=CallInfo(call_id=call_id, caller="+79161234567", dialed=dialed, started_at=started),
        scenario_id="main",
        version=1,
        seq=seq,
        status="in_progress",
        element_id="ring",
    )
    expires = int((started + timedelta(days=30)).timestamp())
    return CallRecord(
        tenant_id=A,
        state=state,
        last_decision=StoredDecision(seq=seq, action=None, status="in_progress"),
        expires_at=expires,
    )


def with_seq(call: CallRecord, seq: int, steps: int = 0) -> CallRecord:
    trace = [
        TraceStep(seq=seq, element_id=f"e{i}", element_type="greeting", at=call.state.call.started_at)
        for i in range(steps)
    ]
    return call.model_copy(update={"state": call.state.model_copy(update={"seq": seq}), "trace": trace})


def api_key(key_id: str, tenant_id: str = A, key_hash: str | None = None) -> ApiKey:
    return ApiKey(
        id=key_id,
        tenant_id=tenant_id,
        role="admin",
        name=f"key {key_id}",
        key_hash=key_hash or f"hash-{tenant_id}-{key_id}",
        prefix="vpbx_abc",
        created_at=T0,
    )


@dataclass(frozen=True)
class Family:
    """One versioned directory family, seen through the repository's methods for it (create_<one>, list_<many>…)."""

    one: str
    many: str
    make: Callable[[int], Any]
    ident: Callable[[Any], str]
    edit: Callable[[Any], Any]

    def create(self, repository: Repository, tenant_id: str, obj: Any) -> Any:
        return getattr(repository, f"create_{self.one}")(tenant_id, obj)

    def get(self, repository: Repository, tenant_id: str, ident: str) -> Any:
        return getattr(repository, f"get_{self.one}")(tenant_id, ident)

    def list(self, repository: Repository, tenant_id: str, limit: int, cursor: str | None) -> Any:
        return getattr(repository, f"list_{self.many}")(tenant_id, limit, cursor)

    def update(self, repository: Repository, tenant_id: str, obj: Any, expected_version: int) -> Any:
        return getattr(repository, f"update_{self.one}")(tenant_id, obj, expected_version)

    def delete(self, repository: Repository, tenant_id: str, ident: str, expected_version: int) -> None:
        getattr(repository, f"delete_{self.one}")(tenant_id, ident, expected_version)


def renamed(obj: Any) -> Any:
    return obj.model_copy(update={"name": "Renamed"})


FAMILIES = [
    Family(
        "subscriber",
        "subscribers",
        lambda i: Subscriber(extension=str(100 + i), name=f"Employee {i}"),
        lambda s: s.extension,
        renamed,
    ),
    Family(
        "schedule",
        "schedules",
        lambda i: Schedule(
            id=f"sched-{i:02d}", name="Office", timezone="Europe/Moscow", weekly={"mon": ["09:00-18:00"]}
        ),
        lambda s: s.id,
        renamed,
    ),
    Family(
        "caller_list",
        "caller_lists",
        lambda i: CallerList(id=f"list-{i:02d}", name="VIP", patterns=[CallerPattern(kind="prefix", value="+7916")]),
        lambda c: c.id,
        renamed,
    ),
    Family(
        "number",
        "numbers",
        lambda i: PhoneNumber(number=f"+7495123450{i}", label=f"line {i}"),
        lambda n: n.number,
        lambda n: n.model_copy(update={"label": "Renamed", "scenario_id": "main"}),
    ),
]


@pytest.fixture(params=FAMILIES, ids=lambda f: f.many)
def family(request: pytest.FixtureRequest) -> Family:
    family: Family = request.param
    return family


def all_pages(fetch: Callable[[str | None], Any]) -> tuple[list[Any], int]:
    items: list[Any] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = fetch(cursor)
        pages += 1
        items.extend(page.items)
        cursor = page.next_cursor
        if cursor is None or pages > 20:
            return items, pages


# ------------------------------------------------------------------------------------------------------ tenants, keys
def test_tenant_create_get_and_duplicate(repository: Repository) -> None:
    tenant = Tenant(id=A, name="Acme", sip_domain="acme.example", created_at=T0)
    assert repository.create_tenant(tenant) == tenant
    assert repository.get_tenant(A) == tenant
    with pytest.raises(AlreadyExists):
        repository.create_tenant(tenant.model_copy(update={"name": "Other"}))
    with pytest.raises(NotFound):
        repository.get_tenant(B)


def test_api_keys_found_by_hash_listed_per_tenant_and_revoked(repository: Repository) -> None:
    first, second, foreign = api_key("k1"), api_key("k2"), api_key("k1", tenant_id=B)
    for key in (first, second, foreign):
        repository.put_api_key(key)
    assert repository.find_api_key(first.key_hash) == first
    assert repository.find_api_key("unknown") is None
    assert [k.id for k in repository.list_api_keys(A, 10, None).items] == ["k1", "k2"]
    with pytest.raises(AlreadyExists):
        repository.put_api_key(api_key("k1"))
    with pytest.raises(AlreadyExists):
        repository.put_api_key(api_key("k3", key_hash=first.key_hash))
    with pytest.raises(NotFound):
        repository.revoke_api_key(B, "k2", T0)

    revoked = repository.revoke_api_key(A, "k1", T0 + timedelta(hours=1))
    assert revoked.revoked_at == T0 + timedelta(hours=1)
    found = repository.find_api_key(first.key_hash)
    assert found is not None
    assert not found.active
    assert repository.revoke_api_key(A, "k1", T0 + timedelta(hours=2)).revoked_at == revoked.revoked_at
    assert repository.find_api_key(foreign.key_hash) == foreign


# ------------------------------------------------------------------------------------------------------ directory
def test_family_crud_with_versions(repository: Repository, family: Family, clock: "ManualClock") -> None:
    obj = family.make(1)
    created = family.create(repository, A, obj)
    assert (created.item, created.version) == (obj, 1)
    assert family.get(repository, A, family.ident(obj)) == created

    clock.advance(minutes=5)
    edited = family.edit(obj)
    updated = family.update(repository, A, edited, 1)
    assert (updated.item, updated.version) == (edited, 2)
    assert updated.created_at == created.created_at
    assert updated.updated_at == clock.now
    assert family.get(repository, A, family.ident(obj)) == updated

    with pytest.raises(VersionMismatch):
        family.update(repository, A, obj, 1)
    with pytest.raises(VersionMismatch):
        family.delete(repository, A, family.ident(obj), 1)
    family.delete(repository, A, family.ident(obj), 2)
    with pytest.raises(NotFound):
        family.get(repository, A, family.ident(obj))
    with pytest.raises(NotFound):
        family.update(repository, A, obj, 2)
    with pytest.raises(NotFound):
        family.delete(repository, A, family.ident(obj), 2)


def test_family_create_twice_is_already_exists(repository: Repository, family: Family) -> None:
    family.create(repository, A, family.make(1))
    with pytest.raises(AlreadyExists):
        family.create(repository, A, family.edit(family.make(1)))
    assert family.get(repository, A, family.ident(family.make(1))).item == family.make(1)


def test_family_is_invisible_to_other_tenants(repository: Repository, family: Family) -> None:
    obj = family.make(1)
    family.create(repository, A, obj)
    ident = family.ident(obj)
    with pytest.raises(NotFound):
        family.get(repository, B, ident)
    with pytest.raises(NotFound):
        family.update(repository, B, family.edit(obj), 1)
    with pytest.raises(NotFound):
        family.delete(repository, B, ident, 1)
    assert family.list(repository, B, 10, None).items == []
    assert family.get(repository, A, ident).item == obj


def test_family_pages_through_three_pages(repository: Repository, family: Family) -> None:
    made = [family.make(i) for i in (5, 2, 7, 1, 3, 6, 4)]
    for obj in made:
        family.create(repository, A, obj)
    family.create(repository, B, family.make(8)) if family.many != "numbers" else None

    listed, pages = all_pages(lambda cursor: family.list(repository, A, 3, cursor))
    assert pages == 3
    assert [family.ident(v.item) for v in listed] == sorted(family.ident(o) for o in made)


def test_extension_is_unique_per_tenant_only(repository: Repository) -> None:
    repository.create_subscriber(A, Subscriber(extension="101", name="Anna"))
    repository.create_subscriber(B, Subscriber(extension="101", name="Boris"))
    with pytest.raises(AlreadyExists):
        repository.create_subscriber(A, Subscriber(extension="101", name="Anna again"))
    assert repository.get_subscriber(B, "101").item.name == "Boris"


def test_number_is_unique_across_tenants_and_routes_to_its_owner(repository: Repository) -> None:
    number = PhoneNumber(number="+74951234567", scenario_id="main")
    repository.create_number(A, number)
    with pytest.raises(AlreadyExists):
        repository.create_number(B, PhoneNumber(number="+74951234567"))
    assert repository.route_number("+74951234567") == (A, number)
    assert repository.route_number("+74950000000") is None

    rerouted = PhoneNumber(number="+74951234567", scenario_id="night")
    repository.update_number(A, rerouted, 1)
    assert repository.route_number("+74951234567") == (A, rerouted)

    repository.delete_number(A, "+74951234567", 2)
    assert repository.route_number("+74951234567") is None
    repository.create_number(B, PhoneNumber(number="+74951234567"))
    assert repository.route_number("+74951234567") == (B, PhoneNumber(number="+74951234567"))


def test_foreign_tenant_cannot_touch_a_number(repository: Repository) -> None:
    repository.create_number(A, PhoneNumber(number="+74951234567"))
    with pytest.raises(NotFound):
        repository.update_number(B, PhoneNumber(number="+74951234567", scenario_id="x"), 1)
    with pytest.raises(NotFound):
        repository.delete_number(B, "+74951234567", 1)
    assert repository.route_number("+74951234567") == (A, PhoneNumber(number="+74951234567"))


# ------------------------------------------------------------------------------------------------------ locking
def run_concurrently(attempts: list[Callable[[], object]]) -> list[BaseException | None]:
    """Start every attempt at the same moment; return what each raised (None for success)."""
    barrier = threading.Barrier(len(attempts))
    outcomes: list[BaseException | None] = [None] * len(attempts)

    def run(index: int) -> None:
        barrier.wait()
        try:
            attempts[index]()
        except BaseException as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_same_expected_version_only_one_writer_wins(repository: Repository) -> None:
    repository.create_subscriber(A, Subscriber(extension="101", name="Anna"))
    repository.update_subscriber(A, Subscriber(extension="101", name="First"), 1)
    with pytest.raises(VersionMismatch):
        repository.update_subscriber(A, Subscriber(extension="101", name="Second"), 1)
    assert repository.get_subscriber(A, "101").item.name == "First"


def test_concurrent_writers_with_one_version_exactly_one_wins(repository: Repository) -> None:
    repository.create_subscriber(A, Subscriber(extension="101", name="Anna"))
    names = [f"Writer {i}" for i in range(6)]
    outcomes = run_concurrently(
        [partial(repository.update_subscriber, A, Subscriber(extension="101", name=name), 1) for name in names]
    )
    winners = [names[i] for i, outcome in enumerate(outcomes) if outcome is None]
    assert len(winners) == 1
    assert all(isinstance(o, VersionMismatch) for o in outcomes if o is not None)
    stored = repository.get_subscriber(A, "101")
    assert (stored.item.name, stored.version) == (winners[0], 2)


def test_concurrent_claims_of_one_number_exactly_one_tenant_wins(repository: Repository) -> None:
    tenants = [f"tenant-{i}" for i in range(5)]
    outcomes = run_concurrently(
        [partial(repository.create_number, t, PhoneNumber(number="+74951234567")) for t in tenants]
    )
    winners = [tenants[i] for i, outcome in enumerate(outcomes) if outcome is None]
    assert len(winners) == 1
    assert all(isinstance(o, AlreadyExists) for o in outcomes if o is not None)
    routed = repository.route_number("+74951234567")
    assert routed is not None
    assert routed[0] == winners[0]


# ------------------------------------------------------------------------------------------------------ paging
def test_limit_is_clamped(repository: Repository) -> None:
    for i in range(3):
        repository.create_subscriber(A, Subscriber(extension=str(200 + i), name="x"))
    smallest = repository.list_subscribers(A, 0, None)
    assert len(smallest.items) == 1
    assert smallest.next_cursor is not None
    everything = repository.list_subscribers(A, 10_000, None)
    assert len(everything.items) == 3
    assert everything.next_cursor is None


def test_limit_never_exceeds_max_page_limit(repository: Repository) -> None:
    for i in range(MAX_PAGE_LIMIT + 1):
        repository.put_api_key(api_key(f"k{i:03d}"))
    page = repository.list_api_keys(A, MAX_PAGE_LIMIT * 5, None)
    assert len(page.items) == MAX_PAGE_LIMIT
    assert page.next_cursor is not None
    rest = repository.list_api_keys(A, MAX_PAGE_LIMIT, page.next_cursor)
    assert [k.id for k in rest.items] == [f"k{MAX_PAGE_LIMIT:03d}"]
    assert rest.next_cursor is None


def _b64(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!!",
        "bm90IGpzb24",  # base64 of "not json"
        _b64([1, 2]),
        _b64({"t": A}),
        _b64({"t": A, "k": {"PK": "TENANT#globex", "SK": "SUB#101"}}),
        _b64({"t": A, "k": {"PK": "TENANT#acme", "SK": "SCHED#office"}}),
        _b64({"t": A, "k": {"PK": "TENANT#acme", "SK": 5}}),
        "x" * 5000,
    ],
    ids=["garbage", "not-json", "not-object", "no-key", "other-partition", "other-listing", "bad-types", "huge"],
)
def test_bad_cursor_is_invalid_input(repository: Repository, cursor: str) -> None:
    repository.create_subscriber(A, Subscriber(extension="101", name="Anna"))
    with pytest.raises(InvalidInput):
        repository.list_subscribers(A, 10, cursor)


def test_cursor_of_another_tenant_is_invalid_input(repository: Repository) -> None:
    for i in range(3):
        repository.create_subscriber(A, Subscriber(extension=str(100 + i), name="x"))
        repository.create_subscriber(B, Subscriber(extension=str(100 + i), name="x"))
    cursor_of_a = repository.list_subscribers(A, 1, None).next_cursor
    assert cursor_of_a is not None
    with pytest.raises(InvalidInput):
        repository.list_subscribers(B, 1, cursor_of_a)
    forged = encode_cursor(B, {"PK": "TENANT#acme", "SK": "SUB#100"})
    with pytest.raises(InvalidInput):
        repository.list_subscribers(B, 1, forged)
    with pytest.raises(InvalidInput):
        repository.list_schedules(A, 1, cursor_of_a)


# ------------------------------------------------------------------------------------------------------ scenarios
def test_scenario_draft_crud(repository: Repository) -> None:
    created = repository.create_scenario(A, "main", scenario("Main"))
    assert (created.version, created.item.id, created.item.scenario.name) == (1, "main", "Main")
    assert (created.item.published_version, created.item.latest_version) == (None, 0)
    with pytest.raises(AlreadyExists):
        repository.create_scenario(A, "main", scenario("Other"))
    updated = repository.update_scenario(A, "main", scenario("Main v2"), 1)
    assert (updated.version, updated.item.scenario.name) == (2, "Main v2")
    assert repository.get_scenario(A, "main") == updated
    with pytest.raises(VersionMismatch):
        repository.update_scenario(A, "main", scenario("Stale"), 1)
    with pytest.raises(NotFound):
        repository.get_scenario(B, "main")
    with pytest.raises(NotFound):
        repository.update_scenario(B, "main", scenario("Theirs"), 2)
    with pytest.raises(VersionMismatch):
        repository.delete_scenario(A, "main", 1)
    repository.delete_scenario(A, "main", 2)
    with pytest.raises(NotFound):
        repository.get_scenario(A, "main")


def test_list_scenarios_pages_and_isolates(repository: Repository) -> None:
    for i in range(5):
        repository.create_scenario(A, f"s{i}", scenario(f"S{i}"))
    repository.create_scenario(B, "theirs", scenario())
    listed, pages = all_pages(lambda cursor: repository.list_scenarios(A, 2, cursor))
    assert ([d.item.id for d in listed], pages) == ([f"s{i}" for i in range(5)], 3)
    assert [d.item.id for d in repository.list_scenarios(B, 10, None).items] == ["theirs"]


def test_publish_rollback_and_immutable_versions(repository: Repository) -> None:
    repository.create_scenario(A, "main", scenario("First", extension="101"))
    assert repository.published_version_of(A, "main") is None
    snapshot = DirectorySnapshot(subscribers=[Subscriber(extension="101", name="Anna")])
    v1 = repository.publish_scenario(A, "main", 1, snapshot, T0, "k1")
    assert (v1.number, v1.scenario.name, v1.published_by, v1.directory) == (1, "First", "k1", snapshot)
    assert repository.published_version_of(A, "main") == 1

    repository.update_scenario(A, "main", scenario("Second", extension="102"), 1)
    with pytest.raises(VersionMismatch):
        repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None)
    v2 = repository.publish_scenario(A, "main", 2, DirectorySnapshot(), T0 + timedelta(hours=1), None)
    assert (v2.number, v2.scenario.name) == (2, "Second")
    draft = repository.get_scenario(A, "main").item
    assert (draft.published_version, draft.latest_version) == (2, 2)
    assert repository.get_scenario_version(A, "main", 1) == v1  # editing the draft did not touch version 1

    rolled = repository.rollback_scenario(A, "main", 1, 2)
    assert (rolled.item.published_version, rolled.item.latest_version, rolled.version) == (1, 2, 2)
    assert repository.published_version_of(A, "main") == 1
    with pytest.raises(NotFound):
        repository.rollback_scenario(A, "main", 9, 2)
    with pytest.raises(VersionMismatch):
        repository.rollback_scenario(A, "main", 2, 1)
    v3 = repository.publish_scenario(A, "main", 2, DirectorySnapshot(), T0, None)
    assert v3.number == 3  # numbering continues after a rollback; no version is ever rewritten
    assert repository.get_scenario_version(A, "main", 2) == v2

    listed, pages = all_pages(lambda cursor: repository.list_scenario_versions(A, "main", 1, cursor))
    assert ([v.number for v in listed], pages) == ([3, 2, 1], 3)


def test_scenario_versions_are_tenant_scoped(repository: Repository) -> None:
    repository.create_scenario(A, "main", scenario())
    repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None)
    with pytest.raises(NotFound):
        repository.get_scenario_version(B, "main", 1)
    with pytest.raises(NotFound):
        repository.published_version_of(B, "main")
    with pytest.raises(NotFound):
        repository.list_scenario_versions(B, "main", 10, None)
    with pytest.raises(NotFound):
        repository.publish_scenario(B, "main", 1, DirectorySnapshot(), T0, None)
    with pytest.raises(NotFound):
        repository.rollback_scenario(B, "main", 1, 1)
    assert repository.scenarios_using(B, "extension", "101") == []


def test_concurrent_publishes_never_share_a_version_number(repository: Repository) -> None:
    """Publishing does not change the draft, so overlapping publishes race only for the next number: one takes it."""
    repository.create_scenario(A, "main", scenario())
    published: list[int] = []
    outcomes = run_concurrently(
        [
            lambda: published.append(repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None).number)
            for _ in range(4)
        ]
    )
    assert all(isinstance(o, VersionMismatch) for o in outcomes if o is not None)
    assert sorted(published) == list(range(1, len(published) + 1))
    listed = [v.number for v in repository.list_scenario_versions(A, "main", 10, None).items]
    assert listed == sorted(published, reverse=True)
    assert repository.get_scenario(A, "main").item.latest_version == len(published)


def test_scenarios_using_follows_the_published_version(repository: Repository) -> None:
    repository.create_scenario(A, "day", scenario(extension="101", schedule="office"))
    repository.create_scenario(A, "night", scenario(extension="102"))
    repository.create_scenario(A, "draft-only", scenario(extension="101"))
    assert repository.scenarios_using(A, "extension", "101") == []

    repository.publish_scenario(A, "day", 1, DirectorySnapshot(), T0, None)
    snapshot = DirectorySnapshot(caller_lists=[CallerList(id="vip", name="VIP")])
    repository.publish_scenario(A, "night", 1, snapshot, T0, None)
    assert repository.scenarios_using(A, "extension", "101") == ["day"]
    assert repository.scenarios_using(A, "schedule", "office") == ["day"]
    assert repository.scenarios_using(A, "caller_list", "vip") == ["night"]
    assert repository.scenarios_using(A, "extension", "999") == []

    repository.update_scenario(A, "day", scenario(extension="102"), 1)
    repository.publish_scenario(A, "day", 2, DirectorySnapshot(), T0, None)
    assert repository.scenarios_using(A, "extension", "101") == []
    assert repository.scenarios_using(A, "extension", "102") == ["day", "night"]

    repository.rollback_scenario(A, "day", 1, 2)
    assert repository.scenarios_using(A, "extension", "101") == ["day"]
    assert repository.scenarios_using(A, "schedule", "office") == ["day"]

    repository.delete_scenario(A, "day", 2)
    assert repository.scenarios_using(A, "extension", "101") == []
    with pytest.raises(InvalidInput):
        repository.scenarios_using(A, "number", "101")


def test_deleted_scenario_takes_its_versions_along(repository: Repository) -> None:
    repository.create_scenario(A, "main", scenario("Old"))
    repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None)
    repository.delete_scenario(A, "main", 1)
    with pytest.raises(NotFound):
        repository.get_scenario_version(A, "main", 1)
    repository.create_scenario(A, "main", scenario("New"))
    assert repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None).scenario.name == "New"


def test_recreated_scenario_never_reuses_a_version_number(repository: Repository) -> None:
    """Callers cache published versions by (tenant, scenario, version): a number must never name two contents."""
    repository.create_scenario(A, "main", scenario("Old"))
    repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None)
    repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None)
    repository.delete_scenario(A, "main", 1)

    recreated = repository.create_scenario(A, "main", scenario("New"))
    assert (recreated.version, recreated.item.published_version, recreated.item.latest_version) == (1, None, 2)
    for old in (1, 2):
        with pytest.raises(NotFound):
            repository.get_scenario_version(A, "main", old)
    assert repository.list_scenario_versions(A, "main", 10, None).items == []

    first = repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None)
    assert (first.number, first.scenario.name) == (3, "New")
    assert repository.published_version_of(A, "main") == 3
    assert [v.number for v in repository.list_scenario_versions(A, "main", 10, None).items] == [3]

    repository.delete_scenario(A, "main", 1)  # and again: numbering goes on from 3
    repository.create_scenario(A, "main", scenario("Newer"))
    assert repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None).number == 4

    repository.create_scenario(B, "main", scenario("Theirs"))  # another tenant's same id numbers on its own
    assert repository.publish_scenario(B, "main", 1, DirectorySnapshot(), T0, None).number == 1


def test_recreating_a_never_published_scenario_starts_at_zero(repository: Repository) -> None:
    repository.create_scenario(A, "main", scenario("Draft"))
    repository.delete_scenario(A, "main", 1)
    assert repository.create_scenario(A, "main", scenario("Again")).item.latest_version == 0
    assert repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None).number == 1


def test_version_cache_never_serves_a_deleted_scenarios_version(repository: Repository) -> None:
    repository.create_tenant(Tenant(id=A, name="Acme", created_at=T0))
    cache = VersionCache(repository)

    def ringing() -> str:
        version = repository.published_version_of(A, "main")
        assert version is not None
        ring = cache.compiled(A, "main", version).elements["ring"]
        assert isinstance(ring, InternalSubscriber)
        return ring.extension

    repository.create_scenario(A, "main", scenario(extension="101"))
    repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None)
    assert ringing() == "101"
    repository.delete_scenario(A, "main", 1)
    repository.create_scenario(A, "main", scenario(extension="102"))
    repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None)
    assert ringing() == "102"


# ------------------------------------------------------------------------------------------------------ calls
def test_call_create_duplicate_get_and_save(repository: Repository) -> None:
    call = call_record("c1", T0)
    assert repository.create_call(A, call) == call
    with pytest.raises(AlreadyExists):
        repository.create_call(A, with_seq(call, 5))
    assert repository.get_call(A, "c1") == call

    advanced = repository.save_call(A, with_seq(call, 2), expected_seq=1)
    assert repository.get_call(A, "c1") == advanced
    with pytest.raises(Conflict):
        repository.save_call(A, with_seq(call, 3), expected_seq=1)
    assert repository.get_call(A, "c1").state.seq == 2
    with pytest.raises(NotFound):
        repository.save_call(A, with_seq(call_record("missing", T0), 2), expected_seq=1)


def test_calls_are_tenant_scoped(repository: Repository) -> None:
    call = call_record("c1", T0)
    repository.create_call(A, call)
    with pytest.raises(NotFound):
        repository.get_call(B, "c1")
    with pytest.raises(InvalidInput):
        repository.save_call(B, with_seq(call, 2), expected_seq=1)
    assert repository.list_calls(B, 10, None).items == []


def test_concurrent_event_deliveries_advance_a_call_once(repository: Repository) -> None:
    call = call_record("c1", T0)
    repository.create_call(A, call)
    outcomes = run_concurrently([lambda: repository.save_call(A, with_seq(call, 2), expected_seq=1) for _ in range(5)])
    assert sum(outcome is None for outcome in outcomes) == 1
    assert all(isinstance(o, Conflict) for o in outcomes if o is not None)


def test_list_calls_newest_first_with_filters_and_paging(repository: Repository) -> None:
    for i in range(7):
        dialed = "+74951111111" if i % 2 else "+74952222222"
        repository.create_call(A, call_record(f"c{i}", T0 + timedelta(minutes=i), dialed=dialed))

    listed, pages = all_pages(lambda cursor: repository.list_calls(A, 3, cursor))
    assert ([c.call_id for c in listed], pages) == ([f"c{i}" for i in range(6, -1, -1)], 3)

    by_number, _ = all_pages(lambda cursor: repository.list_calls(A, 2, cursor, number="+74951111111"))
    assert [c.call_id for c in by_number] == ["c5", "c3", "c1"]

    window = repository.list_calls(A, 10, None, since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=5))
    assert [c.call_id for c in window.items] == ["c4", "c3", "c2"]
    since_only = repository.list_calls(A, 10, None, since=T0 + timedelta(minutes=5))
    assert [c.call_id for c in since_only.items] == ["c6", "c5"]
    until_only = repository.list_calls(A, 10, None, until=T0 + timedelta(minutes=1))
    assert [c.call_id for c in until_only.items] == ["c0"]


def test_listed_call_is_the_summary_of_its_latest_save(repository: Repository) -> None:
    call = call_record("c1", T0)
    repository.create_call(A, call)
    ended = with_seq(call, 2, steps=3)
    ended = ended.model_copy(update={"state": ended.state.model_copy(update={"status": "ended", "result": "hangup"})})
    repository.save_call(A, ended, expected_seq=1)

    (listed,) = repository.list_calls(A, 10, None).items
    assert listed == CallSummary.of(repository.get_call(A, "c1"))
    assert (listed.seq, listed.status, listed.result, listed.updated_at) == (2, "ended", "hangup", T0)


def test_expired_call_is_gone_before_ttl_sweeps_it(repository: Repository, clock: "ManualClock") -> None:
    call = call_record("c1", T0)
    repository.create_call(A, call)
    clock.now = datetime.fromtimestamp(call.expires_at + 1, UTC)
    with pytest.raises(NotFound):
        repository.get_call(A, "c1")
    assert repository.list_calls(A, 10, None).items == []
    assert repository.create_call(A, call) == call  # the id is free again


def test_call_trace_is_bounded(repository: Repository) -> None:
    call = with_seq(call_record("c1", T0), 1, steps=MAX_TRACE_STEPS + 40)
    stored = repository.create_call(A, call)
    assert len(stored.trace) == MAX_TRACE_STEPS
    assert stored.trace[:TRACE_HEAD_STEPS] == call.trace[:TRACE_HEAD_STEPS]
    assert stored.trace[-1] == call.trace[-1]
    assert repository.get_call(A, "c1") == stored


# ------------------------------------------------------------------------------------------------------ DynamoDB only
class _Body:
    """The raw body botocore reads a canned HTTP response from."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def stream(self, **_: object) -> Any:
        yield self.payload


def throttle_first(client: Any, operation: str, failures: int) -> list[int]:
    """Answer the first `failures` requests of `operation` with a throttling error; returns the request counter."""
    sent = [0]

    def answer(**_: object) -> AWSResponse | None:
        sent[0] += 1
        if sent[0] > failures:
            return None
        body = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "slow down"})
        headers: Any = {"Content-Type": "application/x-amz-json-1.0"}
        return AWSResponse("http://dynamodb", 400, headers, _Body(body.encode()))

    client.meta.events.register(f"before-send.dynamodb.{operation}", answer)
    return sent


@pytest.fixture
def dynamo_repository(dynamo_table: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> DynamoRepository:
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)  # retry at once in tests
    endpoint, table_name = dynamo_table
    return DynamoRepository(table_name, endpoint_url=endpoint)


def test_throttling_is_retried_by_botocore(dynamo_repository: DynamoRepository) -> None:
    dynamo_repository.create_subscriber(A, Subscriber(extension="101", name="Anna"))
    sent = throttle_first(dynamo_repository.client, "GetItem", failures=4)
    assert dynamo_repository.get_subscriber(A, "101").item.name == "Anna"
    assert sent[0] == 5  # botocore's retries "max_attempts": 4 means four retries after the first try


def test_throttling_that_outlasts_the_retries_is_unavailable(dynamo_repository: DynamoRepository) -> None:
    sent = throttle_first(dynamo_repository.client, "GetItem", failures=100)
    with pytest.raises(Unavailable):
        dynamo_repository.get_subscriber(A, "101")
    assert sent[0] == 5


class FailingClient:
    """A DynamoDB client whose every operation fails with one error code."""

    def __init__(self, code: str, status: int) -> None:
        self.code, self.status = code, status

    def __getattr__(self, operation: str) -> Callable[..., Any]:
        def fail(**_: object) -> Any:
            error = {
                "Error": {"Code": self.code, "Message": "failed"},
                "ResponseMetadata": {"HTTPStatusCode": self.status},
            }
            raise ClientError(error, operation)  # type: ignore[arg-type]

        return fail


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ProvisionedThroughputExceededException", 400, Unavailable),
        ("RequestLimitExceeded", 400, Unavailable),
        ("InternalServerError", 500, Unavailable),
        ("ResourceNotFoundException", 400, Unavailable),
        ("AccessDeniedException", 400, Unavailable),
        ("ValidationException", 400, Unavailable),
    ],
)
def test_client_errors_never_leak_raw(code: str, status: int, expected: type[Exception]) -> None:
    repository = DynamoRepository("table", client=FailingClient(code, status))
    for attempt in (
        lambda: repository.get_subscriber(A, "101"),
        lambda: repository.create_subscriber(A, Subscriber(extension="101", name="Anna")),
        lambda: repository.list_subscribers(A, 10, None),
        lambda: repository.create_number(A, PhoneNumber(number="+74951234567")),
        lambda: repository.save_call(A, call_record("c1", T0), 1),
        lambda: repository.scenarios_using(A, "extension", "101"),
    ):
        with pytest.raises(expected):
            attempt()


def test_missing_table_and_unreachable_endpoint_are_unavailable(
    dynamo_table: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    endpoint, _ = dynamo_table
    with pytest.raises(Unavailable):
        DynamoRepository("no-such-table", endpoint_url=endpoint).get_tenant(A)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(Unavailable):
        DynamoRepository("t", endpoint_url=f"http://127.0.0.1:{closed_port}").get_tenant(A)


def test_large_scenario_and_snapshot_fit_in_one_item(dynamo_repository: DynamoRepository) -> None:
    text = "Please hold, your call is important to us. " * 5
    elements = [{"id": "in", "type": "incoming_call"}] + [
        {"id": f"g{i}", "type": "greeting", "prompt": {"text": text}} for i in range(900)
    ]
    big = Scenario.model_validate({"name": "big", "elements": elements})
    assert len(big.model_dump_json()) > 200_000
    patterns = [CallerPattern(kind="exact", value=f"+7916{i:07d}") for i in range(10_000)]
    snapshot = DirectorySnapshot(caller_lists=[CallerList(id="vip", name="VIP", patterns=patterns)])
    dynamo_repository.create_scenario(A, "big", big)
    version = dynamo_repository.publish_scenario(A, "big", 1, snapshot, T0, None)
    assert dynamo_repository.get_scenario_version(A, "big", 1) == version
    assert dynamo_repository.get_scenario(A, "big").item.scenario == big


def test_calls_index_holds_only_the_listing_not_the_whole_call(dynamo_repository: DynamoRepository) -> None:
    """GSI1 projects the summary, not `data`: an index write stays at 1 KB however long the trace grows."""
    call = with_seq(call_record("c1", T0), 1, steps=MAX_TRACE_STEPS)
    dynamo_repository.create_call(A, call)
    client, table_name = dynamo_repository.client, dynamo_repository.table_name
    key = {"PK": {"S": f"TENANT#{A}"}, "SK": {"S": "CALL#c1"}}
    table_item = client.get_item(TableName=table_name, Key=key)["Item"]
    (index_item,) = client.query(
        TableName=table_name,
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :p",
        ExpressionAttributeValues={":p": table_item["GSI1PK"]},
    )["Items"]

    assert set(index_item) == {"PK", "SK", "GSI1PK", "GSI1SK", *CALL_LISTING_ATTRIBUTES}
    assert index_entry_size(index_item) < 1024 < item_size(table_item)
    assert CallSummary.model_validate_json(index_item["summary"]["S"]) == CallSummary.of(call)


# ------------------------------------------------------------------------------------------------------ schema
def test_table_is_built_from_the_template(dynamo_table: tuple[str, str]) -> None:
    endpoint, table_name = dynamo_table
    client = dynamodb_client(endpoint)
    table = client.describe_table(TableName=table_name)["Table"]
    properties = schema.table_properties()
    assert table["KeySchema"] == properties["KeySchema"]
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["GSI1"]
    projection = table["GlobalSecondaryIndexes"][0]["Projection"]
    assert projection == {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(CALL_LISTING_ATTRIBUTES)}
    ttl = client.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")


SHORT_FORM_TEMPLATE = """
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${AWS::StackName}-table"
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: PK, AttributeType: S}]
      KeySchema: [{AttributeName: PK, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_IMAGE}
      SSESpecification: {SSEEnabled: true}
      PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: true}
      TimeToLiveSpecification: {AttributeName: ttl, Enabled: true}
      Tags: [{Key: owner, Value: !Ref Owner}]
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Environment: {Variables: {TABLE: !GetAtt Table.Arn, LIST: !Split [",", "a,b"]}}
"""


def test_table_definition_reads_short_form_tags_and_keeps_only_create_table_arguments(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(SHORT_FORM_TEMPLATE)
    monkeypatch.setenv(schema.TEMPLATE_ENV_VAR, str(template))
    definition = schema.table_definition()
    assert definition == {
        "AttributeDefinitions": [{"AttributeName": "PK", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "PK", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
        "SSESpecification": {"Enabled": True},
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    }
    assert schema.ttl_attribute() == "ttl"
    assert schema.table_definition(schema.DEFAULT_TEMPLATE)["KeySchema"][0]["AttributeName"] == "PK"


def test_template_without_a_table_is_a_clear_error(tmp_path: Any) -> None:
    template = tmp_path / "template.yaml"
    template.write_text("Resources: {Fn: {Type: AWS::Serverless::Function}}\n")
    with pytest.raises(ValueError, match="no AWS::DynamoDB::Table"):
        schema.table_definition(template)
    with pytest.raises(FileNotFoundError):
        schema.table_definition(tmp_path / "missing.yaml")
