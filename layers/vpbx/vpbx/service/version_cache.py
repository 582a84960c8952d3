"""Compiled published versions, kept in the function's memory between invocations.

A published version is immutable, so its content and its compiled executor can be cached by
(tenant, scenario id, version): a warm call start or event then costs no read of the scenario and no parsing.
The tenant's SIP domain (which the compiled ring targets embed) is a mutable tenant setting: it is cached
for a short time and, when it changes, the version is recompiled from the cached content without a read.

A cache is given its repository once (constructor); `version_cache_for` keeps one per repository object, so tests
that swap repositories never see another test's versions.
"""

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from vpbx.domain.executor import CompiledScenario, compile_scenario
from vpbx.store.models import ScenarioVersion
from vpbx.store.ports import PublishedVersions, TenantLookup

MAX_VERSIONS = 256
SIP_DOMAIN_TTL_SECONDS = 300.0

VersionKey = tuple[str, str, int]  # (tenant id, scenario id, version)


class VersionSource(PublishedVersions, TenantLookup, Protocol):
    """Where a cache reads a version it misses and the tenant's SIP domain."""


@dataclass
class _Entry:
    version: ScenarioVersion
    compiled: dict[str | None, CompiledScenario] = field(default_factory=dict)  # by SIP domain


@dataclass
class CacheStats:
    hits: int = 0
    version_reads: int = 0
    tenant_reads: int = 0
    compilations: int = 0


class VersionCache:
    """LRU of compiled versions plus a short-lived cache of each tenant's SIP domain."""

    def __init__(
        self,
        repository: VersionSource,
        max_versions: int = MAX_VERSIONS,
        sip_domain_ttl: float = SIP_DOMAIN_TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._repository = repository
        self._max_versions = max_versions
        self._sip_domain_ttl = sip_domain_ttl
        self._monotonic = monotonic
        self._versions: OrderedDict[VersionKey, _Entry] = OrderedDict()
        self._sip_domains: dict[str, tuple[str | None, float]] = {}
        self._lock = threading.Lock()
        self.stats = CacheStats()

    def compiled(self, tenant_id: str, scenario_id: str, version: int) -> CompiledScenario:
        """The compiled version; reads it (one GetItem) only on a miss, and the tenant only when its domain expired."""
        sip_domain = self._sip_domain(tenant_id)
        key = (tenant_id, scenario_id, version)
        with self._lock:
            entry = self._versions.get(key)
            if entry is not None:
                self._versions.move_to_end(key)
                compiled = entry.compiled.get(sip_domain)
                if compiled is not None:
                    self.stats.hits += 1
                    return compiled
        if entry is None:
            entry = _Entry(self._repository.get_scenario_version(tenant_id, scenario_id, version))
            self.stats.version_reads += 1
        compiled = compile_scenario(
            entry.version.scenario,
            entry.version.directory.to_directory(),
            scenario_id=scenario_id,
            version=version,
            sip_domain=sip_domain,
        )
        with self._lock:
            self.stats.compilations += 1
            entry.compiled = {sip_domain: compiled}  # an old domain's compilation is of no further use
            self._versions[key] = entry
            self._versions.move_to_end(key)
            while len(self._versions) > self._max_versions:
                self._versions.popitem(last=False)
        return compiled

    def _sip_domain(self, tenant_id: str) -> str | None:
        now = self._monotonic()
        with self._lock:
            cached = self._sip_domains.get(tenant_id)
        if cached is not None and now - cached[1] < self._sip_domain_ttl:
            return cached[0]
        sip_domain = self._repository.get_tenant(tenant_id).sip_domain
        with self._lock:
            self.stats.tenant_reads += 1
            self._sip_domains[tenant_id] = (sip_domain, now)
        return sip_domain

    def clear(self) -> None:
        with self._lock:
            self._versions.clear()
            self._sip_domains.clear()


_caches: "weakref.WeakKeyDictionary[VersionSource, VersionCache]" = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def version_cache_for(repository: VersionSource) -> VersionCache:
    with _caches_lock:
        cache = _caches.get(repository)
        if cache is None:
            # the cache reaches its repository through a weak proxy: a strong reference would keep the key alive
            cache = _caches[repository] = VersionCache(weakref.proxy(repository))
        return cache
