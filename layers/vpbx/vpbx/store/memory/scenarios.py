"""ScenarioStore in memory: drafts, immutable versions, the published pointer and the version counter."""

from __future__ import annotations  # `Versioned[X]` in signatures would build generic models at import

from datetime import datetime

from vpbx.domain.errors import Conflict, NotFound, VersionMismatch
from vpbx.domain.scenario import Scenario
from vpbx.store import keys
from vpbx.store.codec import named_refs, published_refs, ref_token
from vpbx.store.common import (
    REFERENCE_ATTEMPTS,
    SCENARIOS,
    new_scenario_version,
    numbers_in_use,
    too_many_numbers,
)
from vpbx.store.memory.table import MemoryTable
from vpbx.store.models import (
    DirectorySnapshot,
    Page,
    ScenarioDraft,
    ScenarioVersion,
    Versioned,
)
from vpbx.store.paging import ListScope
from vpbx.store.ports import DirectoryChanged, ScenarioStore


class MemoryScenarioStore(MemoryTable, ScenarioStore):
    def create_scenario(self, tenant_id: str, scenario_id: str, scenario: Scenario) -> Versioned[ScenarioDraft]:
        with self._lock:
            latest = self._get(keys.tenant_pk(tenant_id), keys.scenario_counter_sk(scenario_id)) or 0
            draft = ScenarioDraft(id=scenario_id, scenario=scenario, latest_version=latest)
            return self._create_in(tenant_id, SCENARIOS, scenario_id, draft)

    def get_scenario(self, tenant_id: str, scenario_id: str) -> Versioned[ScenarioDraft]:
        return self._read_in(tenant_id, SCENARIOS, scenario_id)

    def list_scenarios(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Versioned[ScenarioDraft]]:
        return self._list_in(tenant_id, SCENARIOS, limit, cursor)

    def update_scenario(
        self, tenant_id: str, scenario_id: str, scenario: Scenario, expected_version: int
    ) -> Versioned[ScenarioDraft]:
        with self._lock:
            draft = self.get_scenario(tenant_id, scenario_id).item.model_copy(update={"scenario": scenario})
            return self._update_in(tenant_id, SCENARIOS, scenario_id, draft, expected_version)

    def delete_scenario(self, tenant_id: str, scenario_id: str, expected_version: int) -> None:
        """Refused while numbers point at it; that check and the delete commit on one directory revision."""
        pk = keys.tenant_pk(tenant_id)
        for _ in range(REFERENCE_ATTEMPTS):
            self._read_in(tenant_id, SCENARIOS, scenario_id)
            seen = self._revision(tenant_id)
            numbers = self._numbers_pointing_at(tenant_id, scenario_id)
            if numbers:
                raise numbers_in_use(scenario_id, numbers)
            self._about_to_write("delete_scenario")
            try:
                with self._at_revision(tenant_id, seen, SCENARIOS.what(scenario_id)):
                    latest = self._read_at(tenant_id, SCENARIOS, scenario_id, expected_version).item.latest_version
                    self._delete_in(tenant_id, SCENARIOS, scenario_id, expected_version)
                    if latest:
                        self._put(pk, keys.scenario_counter_sk(scenario_id), latest)
                    for row_key, _ in list(self._rows(pk, keys.scenario_versions_prefix(scenario_id))):
                        self._delete(pk, row_key["SK"])
                    self._refs.pop((tenant_id, scenario_id), None)
                    self._named_refs.pop((tenant_id, scenario_id), None)
            except DirectoryChanged:
                continue
            return
        raise Conflict(f"{SCENARIOS.what(scenario_id)} was pointed at while being deleted; retry")

    def _point_draft(
        self, tenant_id: str, stored: Versioned[ScenarioDraft], target: ScenarioVersion, **update: int
    ) -> Versioned[ScenarioDraft]:
        """Re-point the published pointer without touching the draft's version (publish and rollback)."""
        pointed = stored.model_copy(update={"item": stored.item.model_copy(update=update)})
        self._put(keys.tenant_pk(tenant_id), keys.SCENARIO_PREFIX + stored.item.id, pointed)
        self._refs[(tenant_id, stored.item.id)] = published_refs(target)
        self._named_refs[(tenant_id, stored.item.id)] = named_refs(target)
        return pointed

    def publish_scenario(
        self,
        tenant_id: str,
        scenario_id: str,
        expected_version: int,
        snapshot: DirectorySnapshot,
        at: datetime,
        by: str | None,
        directory_revision: int | None = None,
    ) -> ScenarioVersion:
        self._read_at(tenant_id, SCENARIOS, scenario_id, expected_version)
        self._check_routes(tenant_id, scenario_id)
        self._about_to_write("publish")
        with self._at_revision(tenant_id, directory_revision, f"scenario {scenario_id}"):
            stored = self._read_at(tenant_id, SCENARIOS, scenario_id, expected_version)
            version = new_scenario_version(stored.item, snapshot, at, by)
            version_sk = keys.scenario_version_sk(scenario_id, version.number)
            if self._get(keys.tenant_pk(tenant_id), version_sk) is not None:
                raise VersionMismatch(f"scenario {scenario_id} version {version.number} was published concurrently")
            self._put(keys.tenant_pk(tenant_id), version_sk, version)
            self._point_draft(
                tenant_id, stored, version, published_version=version.number, latest_version=version.number
            )
            return version

    def _check_routes(self, tenant_id: str, scenario_id: str) -> None:
        """As on DynamoDB, whose publish re-routes every number of the scenario in its one transaction."""
        numbers = self._numbers_pointing_at(tenant_id, scenario_id)
        if len(numbers) > keys.MAX_NUMBERS_PER_SCENARIO:
            raise too_many_numbers(scenario_id, len(numbers), ("path", "scenario_id"))

    def published_version_of(self, tenant_id: str, scenario_id: str) -> int | None:
        return self.get_scenario(tenant_id, scenario_id).item.published_version

    def published_version_and_revision(self, tenant_id: str, scenario_id: str) -> tuple[int | None, int]:
        with self._lock:
            return self.published_version_of(tenant_id, scenario_id), self._revision(tenant_id)

    def rollback_scenario(
        self,
        tenant_id: str,
        scenario_id: str,
        version: int,
        expected_version: int,
        directory_revision: int | None = None,
    ) -> Versioned[ScenarioDraft]:
        target = self.get_scenario_version(tenant_id, scenario_id, version)
        self._check_routes(tenant_id, scenario_id)
        self._about_to_write("rollback")
        with self._at_revision(tenant_id, directory_revision, f"the rollback of scenario {scenario_id}"):
            stored = self._read_at(tenant_id, SCENARIOS, scenario_id, expected_version)
            return self._point_draft(tenant_id, stored, target, published_version=version)

    def get_scenario_version(self, tenant_id: str, scenario_id: str, version: int) -> ScenarioVersion:
        with self._lock:
            found = self._get(keys.tenant_pk(tenant_id), keys.scenario_version_sk(scenario_id, version))
            if found is None:
                raise NotFound(f"scenario {scenario_id} has no version {version}")
            return found

    def list_scenario_versions(
        self, tenant_id: str, scenario_id: str, limit: int, cursor: str | None
    ) -> Page[ScenarioVersion]:
        """Newest first. NotFound when the scenario does not exist."""
        pk = keys.tenant_pk(tenant_id)
        scope = ListScope(pk, keys.scenario_versions_prefix(scenario_id))
        with self._lock:
            page = self._page(tenant_id, scope, self._rows(pk, scope.sort_prefix), limit, cursor, descending=True)
            if not page.items and cursor is None:
                self.get_scenario(tenant_id, scenario_id)
            return page

    def scenarios_using(self, tenant_id: str, kind: str, ref: str) -> list[str]:
        token = ref_token(kind, ref)
        with self._lock:
            return sorted(sid for (tid, sid), refs in self._refs.items() if tid == tenant_id and token in refs)
