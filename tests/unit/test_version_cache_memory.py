"""The compiled-version cache is bounded by the memory its entries weigh, not by how many there are, and a scenario
that may ring any extension compiles without the whole directory (service/version_cache.py)."""

import gc
import sys
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from pydantic import ValidationError
from vpbx.api.settings import Settings
from vpbx.domain.directory import Subscriber
from vpbx.domain.executor import compile_scenario
from vpbx.domain.scenario import Scenario, references_of
from vpbx.service.calls import CallsService, CallStart
from vpbx.service.version_cache import SizedLru, VersionCache, _Content
from vpbx.store.memory import InMemoryRepository
from vpbx.store.models import DirectorySnapshot, PhoneNumber, Tenant
from vpbx.store.ports import Repository

from tests.helpers.scenarios import seed_scenario

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench.executor_bench: the 1,000-element cycle

TENANT = "acme"
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
MB = 1024 * 1024
CRM_URL = "https://crm.example.com/route"


def groups_naming(extensions: int) -> dict[str, Any]:
    """A chain of groups of 50 members (the most a group takes), naming `extensions` extensions in all."""
    elements: list[dict[str, Any]] = [{"id": "start", "type": "incoming_call"}]
    connections: list[dict[str, Any]] = []
    previous, exit_name = "start", None
    for group in range(extensions // 50):
        members = [str(10_000 + group * 50 + n) for n in range(50)]
        elements.append({"id": f"g{group}", "type": "group", "members": members, "wait_seconds": 15})
        connections.append({"from": previous, "to": f"g{group}", **({"exit": exit_name} if exit_name else {})})
        previous, exit_name = f"g{group}", "no_answer"
    return {"name": f"{extensions} references", "elements": elements, "connections": connections}


def crm_scenario() -> dict[str, Any]:
    return {
        "name": "CRM routing",
        "elements": [
            {"id": "start", "type": "incoming_call"},
            {"id": "crm", "type": "external_routing", "url": CRM_URL, "wait_seconds": 15},
            {"id": "vm", "type": "voicemail", "mailbox": "101"},
        ],
        "connections": [{"from": "start", "to": "crm"}, {"from": "crm", "exit": "not_found", "to": "vm"}],
    }


class Counting:
    """Forwards to a repository and records the methods called (each is one DynamoDB request or more)."""

    def __init__(self, inner: InMemoryRepository) -> None:
        self.inner = inner
        self.calls: list[tuple[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args[1] if len(args) > 1 else None))
            return attribute(*args, **kwargs)

        return counted

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def tenant_with(subscribers: int) -> InMemoryRepository:
    repository = InMemoryRepository(clock=lambda: T0)
    repository.create_tenant(Tenant(id=TENANT, name="Acme", sip_domain="acme.sip", created_at=T0))
    for n in range(subscribers):
        repository.create_subscriber(TENANT, Subscriber(extension=str(10_000 + n), name=f"Employee {n}"))
    return repository


def publish(repository: InMemoryRepository, scenario_id: str, body: dict[str, Any]) -> None:
    scenario = Scenario.model_validate(body)
    draft = repository.create_scenario(TENANT, scenario_id, scenario)
    named = repository.resolve_directory(TENANT, references_of(scenario))
    repository.publish_scenario(TENANT, scenario_id, draft.version, named, T0, None)


def retained_bytes(build: Any) -> tuple[Any, int]:
    """What `build()` allocates and keeps alive, by tracemalloc."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        built = build()
        gc.collect()
        return built, tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


# ------------------------------------------------------------------------------------------------ the estimates


def _cycle() -> dict[str, Any]:
    from bench.executor_bench import build_scenario

    return cast(dict[str, Any], build_scenario(998).dump())


@pytest.mark.parametrize(
    ("body", "subscribers"),
    [(seed_scenario("10000", "10001"), 2), (None, 51), (groups_naming(10_000), 10_000)],
    ids=["seed", "1000-elements", "10000-references"],
)
def test_an_entrys_estimate_is_within_a_factor_of_what_it_weighs(body: dict[str, Any] | None, subscribers: int) -> None:
    """Parsed scenario + resolved directory + compiled nodes, measured by tracemalloc, against the cache's estimate
    for the version's content and its entry: an estimate far below the truth would let the cache outgrow its
    budget, far above would evict for nothing."""
    text = Scenario.model_validate(body if body is not None else _cycle()).model_dump_json()
    named = [Subscriber(extension=str(10_000 + n), name=f"Employee {n}") for n in range(subscribers)]
    snapshot_json = DirectorySnapshot(subscribers=named).model_dump_json()

    def build() -> tuple[_Content, DirectorySnapshot, Any]:
        scenario = Scenario.model_validate_json(text)
        snapshot = DirectorySnapshot.model_validate_json(snapshot_json)
        return _Content.of(scenario), snapshot, compile_scenario(scenario, snapshot.to_directory(), sip_domain="x")

    build()  # warm: validators, serializers and lookup caches are built on first use, once per process
    (content, snapshot, _), measured = retained_bytes(build)
    estimated = content.entry_bytes(snapshot)  # the entry also counts the parsed elements it keeps alive
    assert 0.75 * measured <= estimated <= 2 * measured, (estimated, measured)  # measured: 0.93–1.13


def test_lru_by_bytes_evicts_the_least_recently_used_until_the_total_fits() -> None:
    lru = SizedLru(budget_bytes=100)
    lru.put("a", 1, 40)
    lru.put("b", 2, 40)
    lru.get("a")  # b is now the least recently used
    lru.put("c", 3, 40)
    assert lru.ordered_keys() == ["a", "c"]
    assert (lru.total_bytes, lru.evictions) == (80, 1)
    lru.put("huge", 4, 101)  # more than the whole budget: not kept, nothing else evicted for it
    assert lru.ordered_keys() == ["a", "c"]


# ------------------------------------------------------------------------------------------------ the budget


def test_the_budget_is_a_share_of_the_functions_memory() -> None:
    assert Settings.from_env({}).version_cache_bytes == 128 * MB  # 25% of the template's 512 MB
    lambda_env = {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024", "VPBX_VERSION_CACHE_SHARE": "0.4"}
    assert Settings.from_env(lambda_env).version_cache_bytes == int(1024 * MB * 0.4)
    with pytest.raises(ValidationError):
        Settings.from_env({"VPBX_VERSION_CACHE_SHARE": "0.9"})  # the function needs the rest


def test_a_thousand_published_scenarios_of_one_tenant_stay_compiled() -> None:
    """The count-bounded cache held 256 entries: calls spread over 1,000 scenarios missed three times in four."""
    repository = tenant_with(2)
    for n in range(1_000):
        publish(repository, f"s{n}", seed_scenario("10000", "10001", name=f"Line {n}"))
    cache = VersionCache(repository)  # the default budget
    revision = repository.directory_revision(TENANT)
    for _ in range(2):
        for n in range(1_000):
            cache.compiled(TENANT, f"s{n}", 1, revision)
    assert (cache.stats.compilations, cache.stats.hits, cache.stats.evictions) == (1_000, 1_000, 0)
    assert len(cache) == 1_000
    assert cache.estimated_bytes < 0.2 * cache.budget_bytes  # ~20 KB per small scenario


def test_a_10000_reference_entry_counts_for_what_it_weighs() -> None:
    repository = tenant_with(10_000)
    publish(repository, "big", groups_naming(10_000))
    for n in range(50):
        publish(repository, f"s{n}", seed_scenario("10000", "10001", name=f"Line {n}"))
    revision = repository.directory_revision(TENANT)
    cache = VersionCache(repository, budget_bytes=24 * MB)
    for n in range(50):
        cache.compiled(TENANT, f"s{n}", 1, revision)
    small = cache.estimated_bytes
    cache.compiled(TENANT, "big", 1, revision)
    big = cache.estimated_bytes - small
    assert big > 10 * MB  # 10,000 resolved subscribers and their ring targets (tracemalloc: ~17 MB)
    assert big > 200 * small / 50  # one big entry weighs as much as hundreds of small ones
    cache.compiled(TENANT, "big", 1, revision)
    assert cache.stats.hits == 1

    tight = VersionCache(repository, budget_bytes=big + small // 2)
    for n in range(50):
        tight.compiled(TENANT, f"s{n}", 1, revision)
    tight.compiled(TENANT, "big", 1, revision)
    assert tight.stats.evictions > 0  # the small ones made room for it
    assert tight.estimated_bytes <= tight.budget_bytes


# ------------------------------------------------------------------------------------------------ compact CRM


def crm_tenant(subscribers: int) -> tuple[InMemoryRepository, Counting, VersionCache]:
    repository = tenant_with(subscribers)
    publish(repository, "crm", crm_scenario())
    repository.create_number(TENANT, PhoneNumber(number="+74951234567", scenario_id="crm"))
    counting = Counting(repository)
    return repository, counting, VersionCache(cast(Repository, counting))


def test_a_crm_scenario_compiles_with_no_subscriber_and_reads_the_one_the_crm_names() -> None:
    repository, counting, cache = crm_tenant(1_000)
    answers = iter(["10007", "10007", "99999", "99999"])
    calls = CallsService(
        cast(Repository, counting), clock=lambda: T0, versions=cache, crm_lookup=lambda *_: next(answers)
    )

    def call(call_id: str) -> Any:
        body = {"call_id": call_id, "from": "+79035550000", "to": "+74951234567"}
        return calls.start(TENANT, CallStart.model_validate(body)).action

    first = call("c1")
    assert first is not None
    assert first.type == "ring"
    assert first.targets[0].extension == "10007"
    assert counting.calls.count(("lookup_subscriber", "10007")) == 1
    entry = cache.compiled(TENANT, "crm", 1, repository.directory_revision(TENANT))
    assert dict(entry.directory.subscribers) == {}  # not 1,000 subscribers copied at compile time
    assert cache.estimated_bytes < 64 * 1024

    counting.calls.clear()
    assert call("c2").targets[0].extension == "10007"
    assert "lookup_subscriber" not in counting.names()  # cached for this revision
    assert call("c3").type == "voicemail"  # unknown: not_found
    assert call("c4").type == "voicemail"
    assert counting.calls.count(("lookup_subscriber", "99999")) == 1  # a miss is cached too
    resolved = [args for name, args in counting.calls if name == "resolve_directory"]
    assert resolved == []  # warm: the directory was resolved once, at the first call's compile


def test_an_edited_subscriber_is_read_again_at_the_new_revision() -> None:
    repository, counting, cache = crm_tenant(10)
    revision = repository.directory_revision(TENANT)
    found = cache.compiled(TENANT, "crm", 1, revision).directory.subscriber("10003")
    assert found is not None
    assert found.enabled
    stored = repository.get_subscriber(TENANT, "10003")
    disabled = stored.item.model_copy(update={"enabled": False})
    repository.update_subscriber(TENANT, disabled, stored.version)
    again = cache.compiled(TENANT, "crm", 1, repository.directory_revision(TENANT)).directory.subscriber("10003")
    assert again is not None
    assert not again.enabled
    assert counting.names().count("lookup_subscriber") == 2
