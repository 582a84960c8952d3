"""The abstract repository: what the API and the executor need from storage. Tenant id is always the first argument.

Versioned writes take `expected_version` (from If-Match) and raise VersionMismatch when it is stale; creates raise
AlreadyExists on a uniqueness clash; reads of another tenant's object raise NotFound. Lists are cursor-paginated with
`limit` capped at MAX_PAGE_LIMIT; cursors are opaque and bound to the tenant that got them.
"""

# Annotations stay strings: evaluating `Versioned[Subscriber]` and friends would build ~20 generic pydantic models
# in every function's cold start, for a class nobody instantiates.
from __future__ import annotations

import abc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from vpbx.domain.directory import CallerList, Schedule, Subscriber
    from vpbx.domain.scenario import Scenario
    from vpbx.store.models import (
        ApiKey,
        CallRecord,
        CallSummary,
        DirectorySnapshot,
        Page,
        PhoneNumber,
        ScenarioDraft,
        ScenarioVersion,
        Tenant,
        Versioned,
    )

DEFAULT_PAGE_LIMIT = 50
MAX_PAGE_LIMIT = 100


class Repository(abc.ABC):
    # ---------------------------------------------------------------- tenants and keys (operator / tenant admin)
    @abc.abstractmethod
    def create_tenant(self, tenant: Tenant) -> Tenant: ...

    @abc.abstractmethod
    def get_tenant(self, tenant_id: str) -> Tenant: ...

    @abc.abstractmethod
    def put_api_key(self, key: ApiKey) -> ApiKey: ...

    @abc.abstractmethod
    def find_api_key(self, key_hash: str) -> ApiKey | None:
        """The authorizer's lookup by SHA-256 hash (the only call not scoped by tenant: the tenant is what it finds)."""

    @abc.abstractmethod
    def list_api_keys(self, tenant_id: str, limit: int, cursor: str | None) -> Page[ApiKey]: ...

    @abc.abstractmethod
    def revoke_api_key(self, tenant_id: str, key_id: str, at: datetime) -> ApiKey: ...

    # ---------------------------------------------------------------- directory
    @abc.abstractmethod
    def create_subscriber(self, tenant_id: str, subscriber: Subscriber) -> Versioned[Subscriber]: ...

    @abc.abstractmethod
    def get_subscriber(self, tenant_id: str, extension: str) -> Versioned[Subscriber]: ...

    @abc.abstractmethod
    def list_subscribers(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Versioned[Subscriber]]: ...

    @abc.abstractmethod
    def update_subscriber(
        self, tenant_id: str, subscriber: Subscriber, expected_version: int
    ) -> Versioned[Subscriber]: ...

    @abc.abstractmethod
    def delete_subscriber(self, tenant_id: str, extension: str, expected_version: int) -> None: ...

    @abc.abstractmethod
    def create_schedule(self, tenant_id: str, schedule: Schedule) -> Versioned[Schedule]: ...

    @abc.abstractmethod
    def get_schedule(self, tenant_id: str, schedule_id: str) -> Versioned[Schedule]: ...

    @abc.abstractmethod
    def list_schedules(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Versioned[Schedule]]: ...

    @abc.abstractmethod
    def update_schedule(self, tenant_id: str, schedule: Schedule, expected_version: int) -> Versioned[Schedule]: ...

    @abc.abstractmethod
    def delete_schedule(self, tenant_id: str, schedule_id: str, expected_version: int) -> None: ...

    @abc.abstractmethod
    def create_caller_list(self, tenant_id: str, caller_list: CallerList) -> Versioned[CallerList]: ...

    @abc.abstractmethod
    def get_caller_list(self, tenant_id: str, list_id: str) -> Versioned[CallerList]: ...

    @abc.abstractmethod
    def list_caller_lists(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Versioned[CallerList]]: ...

    @abc.abstractmethod
    def update_caller_list(
        self, tenant_id: str, caller_list: CallerList, expected_version: int
    ) -> Versioned[CallerList]: ...

    @abc.abstractmethod
    def delete_caller_list(self, tenant_id: str, list_id: str, expected_version: int) -> None: ...

    # ---------------------------------------------------------------- phone numbers (unique platform-wide)
    @abc.abstractmethod
    def create_number(self, tenant_id: str, number: PhoneNumber) -> Versioned[PhoneNumber]: ...

    @abc.abstractmethod
    def get_number(self, tenant_id: str, number: str) -> Versioned[PhoneNumber]: ...

    @abc.abstractmethod
    def list_numbers(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Versioned[PhoneNumber]]: ...

    @abc.abstractmethod
    def update_number(self, tenant_id: str, number: PhoneNumber, expected_version: int) -> Versioned[PhoneNumber]: ...

    @abc.abstractmethod
    def delete_number(self, tenant_id: str, number: str, expected_version: int) -> None: ...

    @abc.abstractmethod
    def route_number(self, number: str) -> tuple[str, PhoneNumber] | None:
        """Call-time lookup: the owning tenant id and the number's record, or None when nobody owns it."""

    # ---------------------------------------------------------------- scenarios
    @abc.abstractmethod
    def create_scenario(self, tenant_id: str, scenario_id: str, scenario: Scenario) -> Versioned[ScenarioDraft]: ...

    @abc.abstractmethod
    def get_scenario(self, tenant_id: str, scenario_id: str) -> Versioned[ScenarioDraft]: ...

    @abc.abstractmethod
    def list_scenarios(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Versioned[ScenarioDraft]]: ...

    @abc.abstractmethod
    def update_scenario(
        self, tenant_id: str, scenario_id: str, scenario: Scenario, expected_version: int
    ) -> Versioned[ScenarioDraft]: ...

    @abc.abstractmethod
    def delete_scenario(self, tenant_id: str, scenario_id: str, expected_version: int) -> None:
        """Delete the draft and its versions; its latest_version is kept, so a scenario re-created under the same id
        numbers its versions after it (a tenant's (scenario id, version) never names two contents)."""

    @abc.abstractmethod
    def publish_scenario(
        self,
        tenant_id: str,
        scenario_id: str,
        expected_version: int,
        snapshot: DirectorySnapshot,
        at: datetime,
        by: str | None,
    ) -> ScenarioVersion:
        """Atomically write version latest+1 (immutable, conditional on not existing) and point the draft at it.

        `expected_version` is the draft's version the caller validated; a concurrent edit makes it VersionMismatch, and
        so does losing the race for the next number to an overlapping publish. Publishing does not change the draft's
        `version` (it versions the editable content), only its published_version/latest_version.
        """

    @abc.abstractmethod
    def published_version_of(self, tenant_id: str, scenario_id: str) -> int | None:
        """Cheap call-time read of the published pointer (versions are immutable, so callers cache their content).

        None when the scenario was never published; NotFound when the scenario does not exist.
        """

    @abc.abstractmethod
    def rollback_scenario(
        self, tenant_id: str, scenario_id: str, version: int, expected_version: int
    ) -> Versioned[ScenarioDraft]:
        """Point the published pointer at an existing version; calls in flight keep the version they pinned.

        NotFound when the version does not exist; the draft's `version` does not change.
        """

    @abc.abstractmethod
    def get_scenario_version(self, tenant_id: str, scenario_id: str, version: int) -> ScenarioVersion: ...

    @abc.abstractmethod
    def list_scenario_versions(
        self, tenant_id: str, scenario_id: str, limit: int, cursor: str | None
    ) -> Page[ScenarioVersion]:
        """Newest first; NotFound when the scenario does not exist."""

    @abc.abstractmethod
    def scenarios_using(self, tenant_id: str, kind: str, ref: str) -> list[str]:
        """Ids of scenarios whose published version refers to `ref` (kind: extension | schedule | caller_list)."""

    # ---------------------------------------------------------------- calls
    @abc.abstractmethod
    def create_call(self, tenant_id: str, call: CallRecord) -> CallRecord:
        """Insert a call; AlreadyExists when the call id is taken (duplicate start)."""

    @abc.abstractmethod
    def get_call(self, tenant_id: str, call_id: str) -> CallRecord: ...

    @abc.abstractmethod
    def save_call(self, tenant_id: str, call: CallRecord, expected_seq: int) -> CallRecord:
        """Conditional write: succeeds only when the stored call's seq is still `expected_seq` (else Conflict).

        The stored trace is bounded (store.codec.MAX_TRACE_STEPS: first and latest steps kept); the stored record is
        returned. NotFound when the call does not exist or has expired; InvalidInput when call.tenant_id differs.
        """

    @abc.abstractmethod
    def list_calls(
        self,
        tenant_id: str,
        limit: int,
        cursor: str | None,
        number: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Page[CallSummary]:
        """Newest first; `number` filters on the dialed number; since <= started_at < until; expired calls hidden.

        Summaries only (no trace, no decisions): the listing reads an index that does not hold whole calls.
        """
