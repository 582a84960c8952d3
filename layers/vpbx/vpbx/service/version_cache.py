"""Published versions compiled against the live directory, kept in the function's memory between invocations.

A published version pins the scenario graph and its settings; the subscribers, schedules and caller lists it names,
and the tenant's settings (SIP domain, default country, CRM url), are resolved live. Every write to them advances the
tenant's directory revision (store/ports.py), so a compiled scenario is cached by
(tenant, scenario id, version, directory revision):

- a warm call start reads the published pointer and the revision in one request and finds its entry;
- a miss (a new revision, an evicted entry, a cold function) resolves what the version names and reads the tenant
  (their settings are shared by the tenant's scenarios at one revision), then compiles. The version's content is
  immutable and cached apart, so a directory edit costs no read of the version.

Compact: a scenario that may ring any extension (a CRM lookup, a direct-dial menu) is compiled with the subscribers it
names only; the one a CRM answer or a caller's digits pick is read when a call needs it (one GetItem, cached by
(tenant, revision, extension), a miss included), so a miss never reads the whole directory.

Bounded by memory, not by count: every cached object carries an estimate of what it weighs (the `*_BYTES` rates
below, measured with tracemalloc: tests/unit/test_version_cache_memory.py checks them), and the least recently used
go when the total passes the budget: a share of the function's memory (api/settings.py, VPBX_VERSION_CACHE_SHARE of
AWS_LAMBDA_FUNCTION_MEMORY_SIZE; 25% of 512 MB = 128 MB), so a tenant with thousands of small scenarios stays cached
and a 10,000-subscriber entry counts for what it weighs.

A call's events use the entry of the revision the call started with, so a call keeps its directory while the entry
lives (MAX_REVISIONS_PER_VERSION revisions of one version are kept). When it is gone (another instance, evicted) the
entry is resolved again from the directory as it is then and cached under the call's revision: the call goes on with
the current directory (docs/CALLS.md).

A cache is given its repository once (constructor); `version_cache_for` keeps one per repository object, so tests
that swap repositories never see another test's versions.
"""

import dataclasses
import threading
import weakref
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from vpbx.domain.directory import Subscriber
from vpbx.domain.executor import CompiledScenario, compile_scenario
from vpbx.domain.scenario import References, Scenario, references_of
from vpbx.store.models import DEFAULT_CALL_HISTORY_DAYS, DirectorySnapshot
from vpbx.store.ports import DirectoryReader, PublishedVersions, TenantLookup

DEFAULT_BUDGET_BYTES = 128 * 1024 * 1024  # 25% of the template's 512 MB (version_cache_for reads the settings)
MAX_REVISIONS_PER_VERSION = 4  # older revisions of one version serve calls still in flight, then go
MAX_TENANTS = 1024  # tenants whose settings are kept (a few hundred bytes each)

# What cached objects weigh, per byte of the scenario's JSON or per object (CPython 3.11/3.12, pydantic 2; measured
# with tracemalloc on the seed scenario, a 1,000-element cycle and 200 groups naming 10,000 extensions).
PARSED_PER_JSON_BYTE = 10  # a parsed scenario: ~9–10 × its JSON
COMPILED_PER_JSON_BYTE = 3  # nodes and transitions, beside the elements they share with the parsed scenario
RING_TARGET_BYTES = 600  # one compiled ring target (an extension an element names)
SUBSCRIBER_BYTES = 1_200  # one resolved subscriber (~8.5 × its JSON)
OTHER_DIRECTORY_PER_JSON_BYTE = 9  # schedules, caller lists, queues
OVERHEAD_BYTES = 2_000  # the entry's own objects and its key

EntryKey = tuple[str, str, int, int | None]  # (tenant id, scenario id, version, directory revision)
VersionKey = tuple[str, str, int]
_ABSENT = object()


class VersionSource(PublishedVersions, DirectoryReader, TenantLookup, Protocol):
    """Where a cache reads what it misses: a version, the directory it names, the tenant's settings."""


@dataclass(frozen=True)
class TenantSettings:
    """What a call needs of its tenant: ring URIs of internal phones, national number formats, the default CRM, and how
    long its history is kept."""

    sip_domain: str | None = None
    default_country: str | None = None
    crm_url: str | None = None
    call_history_days: int = DEFAULT_CALL_HISTORY_DAYS


@dataclass
class CacheStats:
    hits: int = 0
    version_reads: int = 0
    directory_reads: int = 0
    tenant_reads: int = 0
    subscriber_reads: int = 0  # call-time lookups of a subscriber a scenario may ring without naming it
    compilations: int = 0
    evictions: int = 0


@dataclass(frozen=True)
class _Content:
    """What a version's entries are compiled from, and what its parts weigh."""

    scenario: Scenario
    references: References
    json_bytes: int  # the scenario's JSON
    ring_targets: int  # extensions named, counted per element (each compiles its own ring target)

    @classmethod
    def of(cls, scenario: Scenario) -> "_Content":
        json_bytes = len(scenario.__pydantic_serializer__.to_json(scenario))
        ring_targets = sum(len(element.references().extensions) for element in scenario.elements)
        return cls(scenario, references_of(scenario), json_bytes, ring_targets)

    @property
    def estimated_bytes(self) -> int:
        return OVERHEAD_BYTES + PARSED_PER_JSON_BYTE * self.json_bytes

    def entry_bytes(self, snapshot: DirectorySnapshot) -> int:
        """An entry holds the parsed elements (counted here too: they outlive an evicted content), its nodes, and the
        directory objects it resolved."""
        compiled = (PARSED_PER_JSON_BYTE + COMPILED_PER_JSON_BYTE) * self.json_bytes
        compiled += RING_TARGET_BYTES * self.ring_targets
        return OVERHEAD_BYTES + compiled + directory_bytes(snapshot)


def directory_bytes(snapshot: DirectorySnapshot) -> int:
    others = snapshot.__pydantic_serializer__.to_json(snapshot, exclude={"subscribers"})
    return SUBSCRIBER_BYTES * len(snapshot.subscribers) + OTHER_DIRECTORY_PER_JSON_BYTE * len(others)


class SizedLru:
    """Least recently used first out, bounded by the estimated bytes of what it holds (not by how many). An object
    larger than the whole budget is not kept. Not thread-safe: the cache holds its lock around every call."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self.total_bytes = 0
        self.evictions = 0
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()

    def get(self, key: Hashable) -> Any:
        """The value under `key` (now the most recent), or _ABSENT."""
        found = self._items.get(key)
        if found is None:
            return _ABSENT
        self._items.move_to_end(key)
        return found[0]

    def put(self, key: Hashable, value: Any, size: int) -> None:
        self.discard(key)
        if size > self.budget_bytes:
            return
        self._items[key] = (value, size)
        self.total_bytes += size
        while self.total_bytes > self.budget_bytes:
            _, (_, evicted) = self._items.popitem(last=False)
            self.total_bytes -= evicted
            self.evictions += 1

    def discard(self, key: Hashable) -> None:
        found = self._items.pop(key, None)
        if found is not None:
            self.total_bytes -= found[1]

    def ordered_keys(self) -> list[Hashable]:
        return list(self._items)

    def clear(self) -> None:
        self._items.clear()
        self.total_bytes = 0


class VersionCache:
    """Compiled (version, directory revision) pairs, version contents and subscribers looked up at call time, in one
    LRU bounded by bytes; each tenant's settings apart (bounded by tenants)."""

    def __init__(
        self, repository: VersionSource, budget_bytes: int = DEFAULT_BUDGET_BYTES, max_entries: int | None = None
    ) -> None:
        """`max_entries`: also keep at most that many compiled entries (tests of eviction); None: bytes alone."""
        self._repository = repository
        self._max_entries = max_entries
        self._lru = SizedLru(budget_bytes)
        self._settings: OrderedDict[str, tuple[int | None, TenantSettings]] = OrderedDict()  # tenant -> (rev, …)
        self._lock = threading.Lock()
        self.stats = CacheStats()

    @property
    def budget_bytes(self) -> int:
        return self._lru.budget_bytes

    @property
    def estimated_bytes(self) -> int:
        """What everything cached is estimated to weigh now (at most budget_bytes)."""
        with self._lock:
            return self._lru.total_bytes

    def compiled(self, tenant_id: str, scenario_id: str, version: int, revision: int | None) -> CompiledScenario:
        """The version compiled against the directory at `revision` (None: a call older than revisions in calls)."""
        key = ("entry", tenant_id, scenario_id, version, revision)
        with self._lock:
            compiled = self._lru.get(key)
            if compiled is not _ABSENT:
                self.stats.hits += 1
                return compiled
        content = self._content(tenant_id, scenario_id, version)
        named = dataclasses.replace(content.references, any_extension=False)  # anyone else: looked up at call time
        snapshot = self._repository.resolve_directory(tenant_id, named)
        settings = self._tenant_settings(tenant_id, revision)
        directory = snapshot.to_directory(tenant_crm_url=settings.crm_url)
        if content.references.any_extension:
            directory = dataclasses.replace(directory, find_subscriber=partial(self._subscriber, tenant_id, revision))
        compiled = compile_scenario(
            content.scenario,
            directory,
            scenario_id=scenario_id,
            version=version,
            sip_domain=settings.sip_domain,
            default_country=settings.default_country,
            directory_revision=revision,
        )
        size = content.entry_bytes(snapshot)
        with self._lock:
            self.stats.directory_reads += 1
            self.stats.compilations += 1
            self._forget_old_revisions(key)
            self._lru.put(key, compiled, size)
            self._keep_max_entries()
            self.stats.evictions = self._lru.evictions
        return compiled

    def known_settings(self, tenant_id: str) -> TenantSettings | None:
        """The tenant's settings as of the latest revision this cache resolved; None when it has none."""
        with self._lock:
            known = self._settings.get(tenant_id)
        return known[1] if known is not None else None

    def tenant_settings(self, tenant_id: str) -> TenantSettings:
        """The latest settings this cache knows, else read (a cold function's first call that needs them)."""
        return self.known_settings(tenant_id) or self._tenant_settings(tenant_id, None)

    def _content(self, tenant_id: str, scenario_id: str, version: int) -> _Content:
        key = ("version", tenant_id, scenario_id, version)
        with self._lock:
            content = self._lru.get(key)
            if content is not _ABSENT:
                return content
        published = self._repository.get_scenario_version(tenant_id, scenario_id, version)
        content = _Content.of(published.scenario)  # the version's publish-time directory is not kept
        with self._lock:
            self.stats.version_reads += 1
            self._lru.put(key, content, content.estimated_bytes)
            self.stats.evictions = self._lru.evictions
        return content

    def _subscriber(self, tenant_id: str, revision: int | None, extension: str) -> Subscriber | None:
        """A subscriber the scenario does not name (a CRM answer, a dialled extension), at the call's revision."""
        key = ("subscriber", tenant_id, revision, extension)
        with self._lock:
            found = self._lru.get(key)
            if found is not _ABSENT:
                return found
        subscriber = self._repository.lookup_subscriber(tenant_id, extension)
        with self._lock:
            self.stats.subscriber_reads += 1
            self._lru.put(key, subscriber, OVERHEAD_BYTES // 4 + (SUBSCRIBER_BYTES if subscriber else 0))
            self.stats.evictions = self._lru.evictions
        return subscriber

    def _tenant_settings(self, tenant_id: str, revision: int | None) -> TenantSettings:
        """Read with the directory: a tenant settings change advances the revision too, so this is exact."""
        with self._lock:
            known = self._settings.get(tenant_id)
        if known is not None and revision is not None and known[0] == revision:
            return known[1]
        tenant = self._repository.get_tenant(tenant_id)
        settings = TenantSettings(tenant.sip_domain, tenant.default_country, tenant.crm_url, tenant.call_history_days)
        with self._lock:
            self.stats.tenant_reads += 1
            latest = self._settings.get(tenant_id)
            if revision is not None and (latest is None or latest[0] is None or latest[0] <= revision):
                self._settings[tenant_id] = (revision, settings)
            elif latest is None:
                self._settings[tenant_id] = (None, settings)
            if tenant_id in self._settings:
                self._settings.move_to_end(tenant_id)
            while len(self._settings) > MAX_TENANTS:
                self._settings.popitem(last=False)
        return settings

    def _entry_keys(self) -> list[tuple[Any, ...]]:
        return [key for key in self._lru.ordered_keys() if isinstance(key, tuple) and key[0] == "entry"]

    def _forget_old_revisions(self, key: tuple[Any, ...]) -> None:
        """Keep the newest MAX_REVISIONS_PER_VERSION revisions of one version, `key`'s included (under the lock)."""
        others = [k for k in self._entry_keys() if k[:4] == key[:4] and k != key]
        excess = len(others) + 1 - MAX_REVISIONS_PER_VERSION
        for old in sorted(others, key=lambda k: -1 if k[4] is None else k[4])[: max(excess, 0)]:
            self._lru.discard(old)

    def _keep_max_entries(self) -> None:
        if self._max_entries is None:
            return
        entries = self._entry_keys()
        for old in entries[: max(len(entries) - self._max_entries, 0)]:
            self._lru.discard(old)

    def __len__(self) -> int:
        """How many compiled (version, revision) entries are kept."""
        with self._lock:
            return len(self._entry_keys())

    def clear(self) -> None:
        with self._lock:
            self._lru.clear()
            self._settings.clear()


_caches: "weakref.WeakKeyDictionary[VersionSource, VersionCache]" = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def version_cache_for(repository: VersionSource) -> VersionCache:
    with _caches_lock:
        cache = _caches.get(repository)
        if cache is None:
            from vpbx.api.settings import get_settings

            # the cache reaches its repository through a weak proxy: a strong reference would keep the key alive
            budget = get_settings().version_cache_bytes
            cache = _caches[repository] = VersionCache(weakref.proxy(repository), budget_bytes=budget)
        return cache
