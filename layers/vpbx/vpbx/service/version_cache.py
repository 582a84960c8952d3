"""Published versions compiled against the live directory, kept in the function's memory between invocations.

A published version pins the scenario graph and its settings; the subscribers, schedules and caller lists it names,
and the tenant's settings (SIP domain, default country, CRM url), are resolved live. Every write to them advances the
tenant's directory revision (store/ports.py), so a compiled scenario is cached by
(tenant, scenario id, version, directory revision):

- a warm call start reads the published pointer and the revision in one request and finds its entry;
- a miss (a new revision, an evicted entry, a cold function) resolves what the version names and reads the tenant
  (their settings are shared by the tenant's scenarios at one revision), then compiles. The version's content is
  immutable and cached apart, so a directory edit costs no read of the version.

A call's events use the entry of the revision the call started with, so a call keeps its directory while the entry
lives (MAX_REVISIONS_PER_VERSION revisions of one version are kept, MAX_ENTRIES entries in all). When it is gone
(another instance, evicted) the entry is resolved again from the directory as it is then and cached under the
call's revision: the call goes on with the current directory (docs/CALLS.md).

A cache is given its repository once (constructor); `version_cache_for` keeps one per repository object, so tests
that swap repositories never see another test's versions.
"""

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from vpbx.domain.executor import CompiledScenario, compile_scenario
from vpbx.domain.scenario import References, references_of
from vpbx.store.models import DEFAULT_CALL_HISTORY_DAYS, ScenarioVersion
from vpbx.store.ports import DirectoryReader, PublishedVersions, TenantLookup

MAX_ENTRIES = 256  # compiled (version, directory revision) pairs
MAX_VERSIONS = 256  # immutable version contents
MAX_REVISIONS_PER_VERSION = 4  # older revisions of one version serve calls still in flight, then go
MAX_TENANTS = 1024  # tenants whose settings are kept

EntryKey = tuple[str, str, int, int | None]  # (tenant id, scenario id, version, directory revision)
VersionKey = tuple[str, str, int]


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
    compilations: int = 0


@dataclass(frozen=True)
class _Content:
    version: ScenarioVersion
    references: References


class VersionCache:
    """LRU of compiled (version, directory revision) pairs, an LRU of version contents, each tenant's settings."""

    def __init__(
        self, repository: VersionSource, max_entries: int = MAX_ENTRIES, max_versions: int = MAX_VERSIONS
    ) -> None:
        self._repository = repository
        self._max_entries = max_entries
        self._max_versions = max_versions
        self._entries: OrderedDict[EntryKey, CompiledScenario] = OrderedDict()
        self._contents: OrderedDict[VersionKey, _Content] = OrderedDict()
        self._settings: OrderedDict[str, tuple[int | None, TenantSettings]] = OrderedDict()  # tenant -> (rev, …)
        self._lock = threading.Lock()
        self.stats = CacheStats()

    def compiled(self, tenant_id: str, scenario_id: str, version: int, revision: int | None) -> CompiledScenario:
        """The version compiled against the directory at `revision` (None: a call older than revisions in calls)."""
        key = (tenant_id, scenario_id, version, revision)
        with self._lock:
            compiled = self._entries.get(key)
            if compiled is not None:
                self._entries.move_to_end(key)
                self.stats.hits += 1
                return compiled
        content = self._content(tenant_id, scenario_id, version)
        snapshot = self._repository.resolve_directory(tenant_id, content.references)
        settings = self._tenant_settings(tenant_id, revision)
        compiled = compile_scenario(
            content.version.scenario,
            snapshot.to_directory(tenant_crm_url=settings.crm_url),
            scenario_id=scenario_id,
            version=version,
            sip_domain=settings.sip_domain,
            default_country=settings.default_country,
            directory_revision=revision,
        )
        with self._lock:
            self.stats.directory_reads += 1
            self.stats.compilations += 1
            self._entries[key] = compiled
            self._forget_old_revisions(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
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
        key = (tenant_id, scenario_id, version)
        with self._lock:
            content = self._contents.get(key)
            if content is not None:
                self._contents.move_to_end(key)
                return content
        published = self._repository.get_scenario_version(tenant_id, scenario_id, version)
        content = _Content(published, references_of(published.scenario))
        with self._lock:
            self.stats.version_reads += 1
            self._contents[key] = content
            while len(self._contents) > self._max_versions:
                self._contents.popitem(last=False)
        return content

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

    def _forget_old_revisions(self, key: EntryKey) -> None:
        """Keep the newest MAX_REVISIONS_PER_VERSION revisions of one version (under the lock)."""
        others = [k for k in self._entries if k[:3] == key[:3] and k != key]
        excess = len(others) + 1 - MAX_REVISIONS_PER_VERSION
        for old in sorted(others, key=lambda k: -1 if k[3] is None else k[3])[: max(excess, 0)]:
            del self._entries[old]

    def __len__(self) -> int:
        """How many compiled (version, revision) entries are kept."""
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._contents.clear()
            self._settings.clear()


_caches: "weakref.WeakKeyDictionary[VersionSource, VersionCache]" = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def version_cache_for(repository: VersionSource) -> VersionCache:
    with _caches_lock:
        cache = _caches.get(repository)
        if cache is None:
            # the cache reaches its repository through a weak proxy: a strong reference would keep the key alive
            cache = _caches[repository] = VersionCache(weakref.proxy(repository))
        return cache
