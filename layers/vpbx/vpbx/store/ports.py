"""Storage ports, one per aggregate: what the services need from storage. Tenant id is always the first argument.

- TenantStore: tenants and their API keys (the operator, tenant admins, the authorizer);
- DirectoryStore: subscribers, schedules, caller lists, queues, and resolving the ones a scenario names in O(1)
  requests;
- NumberStore: phone numbers (unique platform-wide) and the call-time route of a number;
- ScenarioStore: drafts, immutable published versions, the published pointer;
- CallStore: live call records and their listing;
- QueueStateStore: the ACD's live state of each queue and the agents' cross-queue holds.

Each has a DynamoDB and an in-memory implementation (store/dynamodb/, store/memory/) over shared plumbing;
`Repository` is the composite both packages offer for wiring (api/deps.py). Services declare the narrow port they use.

Versioned writes take `expected_version` (from If-Match) and raise VersionMismatch when it is stale; creates raise
AlreadyExists on a uniqueness clash; reads of another tenant's object raise NotFound. Lists are cursor-paginated with
`limit` capped at MAX_PAGE_LIMIT; cursors are opaque and bound to the tenant that got them.

References are atomic: every write that adds or removes a reference between aggregates (publish, rollback, deleting a
directory object or a scenario, pointing a number at a scenario) checks what it refers to and commits on one per-tenant
directory revision, which it advances; so a check and a competing write can never both succeed (DirectoryChanged).
Creating or changing a subscriber, schedule, caller list or queue advances the same revision (unconditionally, in the
same transaction): calls resolve the directory live and cache it by that revision, so an edit reaches the next call.
"""

# Annotations stay strings: evaluating `Versioned[Subscriber]` and friends would build ~20 generic pydantic models
# in every function's cold start, for a class nobody instantiates.
from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from vpbx.domain.errors import AlreadyExists, Conflict

if TYPE_CHECKING:
    from datetime import date, datetime

    from vpbx.domain.acd import AgentClaim, AgentHold, QueueState
    from vpbx.domain.directory import CallerList, Schedule, Subscriber
    from vpbx.domain.queues import Queue
    from vpbx.domain.scenario import References, Scenario
    from vpbx.domain.webhooks import Delivery, SigningSecrets, Webhook, WebhookEvent
    from vpbx.store.models import (
        ApiKey,
        CallAdvance,
        CallCounters,
        CallFilter,
        CallRecord,
        CallSummary,
        DayCounters,
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


class DirectoryChanged(Conflict):
    """A reference-changing write lost to a concurrent one (the tenant's directory revision moved): check again."""


# ---------------------------------------------------------------------------------------------- tenants and keys
class TenantLookup(Protocol):
    @abstractmethod
    def get_tenant(self, tenant_id: str) -> Tenant: ...


class ApiKeyLookup(Protocol):
    @abstractmethod
    def find_api_key(self, key_hash: str) -> ApiKey | None:
        """The authorizer's lookup by SHA-256 hash (the only call not scoped by tenant: the tenant is what it finds)."""


class TenantStore(TenantLookup, ApiKeyLookup, Protocol):
    @abstractmethod
    def create_tenant(self, tenant: Tenant) -> Tenant: ...

    @abstractmethod
    def update_tenant(self, tenant: Tenant, expected_version: int) -> Tenant:
        """Replace the tenant's settings if it is still at `expected_version` (NotFound, VersionMismatch); the stored
        tenant has version `expected_version + 1`. The same write advances the tenant's directory revision, so
        caches keyed by that revision see the new settings on the next call."""

    @abstractmethod
    def put_api_key(self, key: ApiKey) -> ApiKey: ...

    @abstractmethod
    def list_api_keys(self, tenant_id: str, limit: int, cursor: str | None) -> Page[ApiKey]: ...

    @abstractmethod
    def revoke_api_key(self, tenant_id: str, key_id: str, at: datetime) -> ApiKey: ...


# ---------------------------------------------------------------------------------------------- directory
class DirectoryReader(Protocol):
    @abstractmethod
    def directory_revision(self, tenant_id: str) -> int:
        """The tenant's directory revision: read it before checking references, pass it to the write that relies
        on the check (publish, rollback); that write fails with DirectoryChanged when the revision moved."""

    @abstractmethod
    def resolve_directory(self, tenant_id: str, refs: References) -> DirectorySnapshot:
        """The existing subscribers, schedules, caller lists and queues `refs` names (every subscriber when
        refs.any_extension), and the subscribers that are members of those queues; missing ones are left out.
        O(1) requests in the number of names (store/dynamodb/directory.py says how many)."""

    @abstractmethod
    def lookup_subscriber(self, tenant_id: str, extension: str) -> Subscriber | None:
        """One subscriber by extension, None when there is none: one GetItem. What a call of a scenario that may
        ring any extension (a CRM answer, a direct dial) reads instead of resolving every subscriber."""


class DirectoryStore(DirectoryReader, Protocol):
    """Deleting a subscriber, schedule, caller list or queue that the published version of a scenario names is
    refused (InUse), atomically; one only an older version names may go (rolling back to that version then refuses).
    A queue's members are not names: a subscriber that is a member may be deleted (the queue skips it)."""

    @abstractmethod
    def create_subscriber(self, tenant_id: str, subscriber: Subscriber) -> Versioned[Subscriber]: ...

    @abstractmethod
    def get_subscriber(self, tenant_id: str, extension: str) -> Versioned[Subscriber]: ...

    @abstractmethod
    def list_subscribers(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Versioned[Subscriber]]: ...

    @abstractmethod
    def update_subscriber(
        self, tenant_id: str, subscriber: Subscriber, expected_version: int
    ) -> Versioned[Subscriber]: ...

    @abstractmethod
    def delete_subscriber(self, tenant_id: str, extension: str, expected_version: int) -> None: ...

    @abstractmethod
    def create_schedule(self, tenant_id: str, schedule: Schedule) -> Versioned[Schedule]: ...

    @abstractmethod
    def get_schedule(self, tenant_id: str, schedule_id: str) -> Versioned[Schedule]: ...

    @abstractmethod
    def list_schedules(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Versioned[Schedule]]: ...

    @abstractmethod
    def update_schedule(self, tenant_id: str, schedule: Schedule, expected_version: int) -> Versioned[Schedule]: ...

    @abstractmethod
    def delete_schedule(self, tenant_id: str, schedule_id: str, expected_version: int) -> None: ...

    @abstractmethod
    def create_caller_list(self, tenant_id: str, caller_list: CallerList) -> Versioned[CallerList]: ...

    @abstractmethod
    def get_caller_list(self, tenant_id: str, list_id: str) -> Versioned[CallerList]: ...

    @abstractmethod
    def list_caller_lists(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Versioned[CallerList]]: ...

    @abstractmethod
    def update_caller_list(
        self, tenant_id: str, caller_list: CallerList, expected_version: int
    ) -> Versioned[CallerList]: ...

    @abstractmethod
    def delete_caller_list(self, tenant_id: str, list_id: str, expected_version: int) -> None: ...

    @abstractmethod
    def create_queue(self, tenant_id: str, queue: Queue) -> Versioned[Queue]: ...

    @abstractmethod
    def get_queue(self, tenant_id: str, queue_id: str) -> Versioned[Queue]: ...

    @abstractmethod
    def list_queues(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Versioned[Queue]]: ...

    @abstractmethod
    def update_queue(self, tenant_id: str, queue: Queue, expected_version: int) -> Versioned[Queue]: ...

    @abstractmethod
    def delete_queue(self, tenant_id: str, queue_id: str, expected_version: int) -> None: ...


# ---------------------------------------------------------------------------------------------- phone numbers
@dataclass(frozen=True)
class CallRoute:
    """What a call start reads of a number, exact at the moment it is read: the scenario the number points at (None:
    unassigned), that scenario's published version (None: unpublished), and the tenant's directory revision the call's
    compiled scenario is cached by."""

    scenario_id: str | None
    published_version: int | None
    directory_revision: int


class NumberRouter(Protocol):
    @abstractmethod
    def route_number(self, number: str) -> tuple[str, PhoneNumber] | None:
        """Call-time lookup: the owning tenant id and the number's record, or None when nobody owns it."""

    @abstractmethod
    def call_route(self, tenant_id: str, number: str) -> CallRoute | None:
        """A call start's one read (one BatchGetItem): the number's route and a copy of the tenant's directory
        revision. None when the number is not the tenant's (another tenant's number is indistinguishable from none).

        The route's published version is kept exact by the writes that change it (publish, rollback, number writes),
        in their own transactions: a start after a publish returned sees the new version. The revision is a counter
        of its own, comparable only with revisions from call_route (not with `directory_revision`, which reference
        checks condition on); any directory or tenant-settings write advances it."""


class NumberStore(NumberRouter, Protocol):
    """A number's scenario must exist when it is written (NotFound), atomically with deleting that scenario; at most
    keys.MAX_NUMBERS_PER_SCENARIO numbers point at one scenario (TooManyNumbers, 409 `limit_exceeded`), so a publish
    re-routes them all in its one transaction (call_route)."""

    @abstractmethod
    def create_number(self, tenant_id: str, number: PhoneNumber) -> Versioned[PhoneNumber]: ...

    @abstractmethod
    def get_number(self, tenant_id: str, number: str) -> Versioned[PhoneNumber]: ...

    @abstractmethod
    def list_numbers(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Versioned[PhoneNumber]]: ...

    @abstractmethod
    def update_number(self, tenant_id: str, number: PhoneNumber, expected_version: int) -> Versioned[PhoneNumber]: ...

    @abstractmethod
    def delete_number(self, tenant_id: str, number: str, expected_version: int) -> None: ...


# ---------------------------------------------------------------------------------------------- scenarios
class PublishedVersions(Protocol):
    """What a call needs of scenarios: the published pointer and the immutable versions."""

    @abstractmethod
    def published_version_of(self, tenant_id: str, scenario_id: str) -> int | None:
        """Cheap call-time read of the published pointer (versions are immutable, so callers cache their content).

        None when the scenario was never published; NotFound when the scenario does not exist.
        """

    @abstractmethod
    def published_version_and_revision(self, tenant_id: str, scenario_id: str) -> tuple[int | None, int]:
        """The published pointer (as published_version_of) and the tenant's directory revision (as
        DirectoryReader.directory_revision), together in one request (BatchGetItem). No longer a call start's read
        (NumberRouter.call_route is). NotFound when the scenario does not exist."""

    @abstractmethod
    def get_scenario_version(self, tenant_id: str, scenario_id: str, version: int) -> ScenarioVersion: ...


class ScenarioStore(PublishedVersions, Protocol):
    @abstractmethod
    def create_scenario(self, tenant_id: str, scenario_id: str, scenario: Scenario) -> Versioned[ScenarioDraft]: ...

    @abstractmethod
    def get_scenario(self, tenant_id: str, scenario_id: str) -> Versioned[ScenarioDraft]: ...

    @abstractmethod
    def list_scenarios(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Versioned[ScenarioDraft]]: ...

    @abstractmethod
    def update_scenario(
        self, tenant_id: str, scenario_id: str, scenario: Scenario, expected_version: int
    ) -> Versioned[ScenarioDraft]: ...

    @abstractmethod
    def delete_scenario(self, tenant_id: str, scenario_id: str, expected_version: int) -> None:
        """Delete the draft and its versions; refused (InUse) while phone numbers point at it. Its latest_version is
        kept, so a scenario re-created under the same id numbers its versions after it (a tenant's (scenario id,
        version) never names two contents)."""

    @abstractmethod
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
        """Atomically write version latest+1 (immutable, conditional on not existing) and point the draft at it.

        `expected_version` is the draft's version the caller validated; a concurrent edit makes it VersionMismatch, and
        so does losing the race for the next number to an overlapping publish. Publishing does not change the draft's
        `version` (it versions the editable content), only its published_version/latest_version. With
        `directory_revision` (read before the snapshot was resolved) the write is also conditional on the directory
        being unchanged since (DirectoryChanged otherwise).
        """

    @abstractmethod
    def rollback_scenario(
        self,
        tenant_id: str,
        scenario_id: str,
        version: int,
        expected_version: int,
        directory_revision: int | None = None,
    ) -> Versioned[ScenarioDraft]:
        """Point the published pointer at an existing version; calls in flight keep the version they pinned.

        NotFound when the version does not exist; the draft's `version` does not change. `directory_revision`: as for
        publish (the caller checked the version's references against the directory at that revision).
        """

    @abstractmethod
    def list_scenario_versions(
        self, tenant_id: str, scenario_id: str, limit: int, cursor: str | None
    ) -> Page[ScenarioVersion]:
        """Newest first; NotFound when the scenario does not exist."""

    @abstractmethod
    def scenarios_using(self, tenant_id: str, kind: str, ref: str) -> list[str]:
        """Ids of scenarios whose published version refers to `ref` (kind: extension | schedule | caller_list |
        queue)."""


# ---------------------------------------------------------------------------------------------- calls
class CallTaken(AlreadyExists):
    """create_call found the call id taken; `stored` is the call as it is (the failed write's ALL_OLD), so a
    duplicate start is answered without reading it again."""

    def __init__(self, message: str, stored: CallRecord | None) -> None:
        super().__init__(message)
        self.stored = stored


class CallMoved(Conflict):
    """A conditional write of a call found another seq; `stored` is the call as it is (the failed write's ALL_OLD), so
    a lost race or a replay is answered without reading it again."""

    def __init__(self, message: str, stored: CallRecord) -> None:
        super().__init__(message)
        self.stored = stored


class CallStore(Protocol):
    @abstractmethod
    def create_call(self, tenant_id: str, call: CallRecord, counters: CallCounters | None = None) -> CallRecord:
        """Insert a call; AlreadyExists when the call id is taken (duplicate start).

        A call whose `history_expires_at` is set (routing over) is written with its history, and `counters` are added
        to its scenario's statistics, in the same atomic write (see save_call)."""

    @abstractmethod
    def get_call(self, tenant_id: str, call_id: str) -> CallRecord: ...

    @abstractmethod
    def save_call(
        self, tenant_id: str, call: CallRecord, expected_seq: int, counters: CallCounters | None = None
    ) -> CallRecord:
        """Conditional write: succeeds only when the stored call's seq is still `expected_seq` (else Conflict).

        The stored trace is bounded (store.codec.MAX_TRACE_STEPS: first and latest steps kept); the stored record is
        returned. NotFound when the call does not exist or has expired; InvalidInput when call.tenant_id differs.
        When `call.history_expires_at` is set, the call's compact history (its CallSummary) is written too, and
        `counters` added, atomically with the call: all or nothing, so a call is counted once.
        """

    @abstractmethod
    def advance_call(self, tenant_id: str, advance: CallAdvance) -> None:
        """One conditional write, no read: succeeds only when the stored call's seq is `advance.expected_seq` and it
        is live. Replaces its state, decisions, summary and expiry with `advance.call`'s, appends `advance.call.trace`
        (the new decision's steps) to the stored trace (bounded), keeps its first decision; once routing is over
        writes its history (`advance.summary`) and adds `advance.counters` atomically with it, and the call leaves the
        listing indexes. CallMoved (carrying the stored call) when the seq differs; NotFound when it is gone."""

    @abstractmethod
    def get_call_history(self, tenant_id: str, call_id: str) -> CallSummary:
        """The compact history of a call whose routing is over (kept after the call item expires); else NotFound."""

    @abstractmethod
    def list_calls(
        self,
        tenant_id: str,
        limit: int,
        cursor: str | None,
        number: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        where: CallFilter | None = None,
    ) -> Page[CallSummary]:
        """Newest first; since <= started_at < until; expired calls hidden. At most one filter, each served by its
        index: `number` (the dialed number, same as where=CallFilter("number", …)), or `where` (CALL_FILTERS).

        Summaries only (no trace, no decisions): the listing reads an index that does not hold whole calls. A call
        is listed once: by its live item while it is routed, by its history item once routing is over.
        """

    @abstractmethod
    def read_call_counters(self, tenant_id: str, scenario_id: str, first: date, last: date) -> list[DayCounters]:
        """The scenario's statistics counters of the days first..last (inclusive), summed over shards, by day."""


# ---------------------------------------------------------------------------------------------- queues (the ACD)
class QueueStateMoved(Conflict):
    """The queue's state changed since it was read (its version moved): read it again and redo the step."""


class AgentHeld(Conflict):
    """An agent claim lost: another queue holds the agent (`hold`, None when it could not be read)."""

    def __init__(self, extension: str, hold: AgentHold | None) -> None:
        super().__init__(f"agent {extension} is held by another queue")
        self.extension = extension
        self.hold = hold


class QueueStateStore(Protocol):
    """The ACD's live state (domain/acd.py): one item per queue (its line and members, optimistic by version) and
    one hold per agent shared by every queue of the tenant, so an agent is offered to one call at a time."""

    @abstractmethod
    def read_queue_state(self, tenant_id: str, queue_id: str) -> tuple[QueueState, int]:
        """The queue's state and version (an empty state and 0 when none was written); one consistent read."""

    @abstractmethod
    def write_queue_state(
        self,
        tenant_id: str,
        queue_id: str,
        state: QueueState,
        expected_version: int,
        claims: list[AgentClaim],
        now: float,
    ) -> int:
        """Write the state if it is still at `expected_version` together with the agents' holds, all or nothing;
        the new version. A claim (at most one per agent) needs the agent free (no hold, a lapsed one, `free`) or
        held by this queue. QueueStateMoved when the version moved, AgentHeld when a claim lost."""

    @abstractmethod
    def read_agent_hold(self, tenant_id: str, extension: str) -> AgentHold | None:
        """The agent's hold as stored (None: never held)."""

    @abstractmethod
    def write_agent_hold(self, tenant_id: str, queue_id: str, claim: AgentClaim, now: float) -> bool:
        """One claim alone (the queue's state unchanged); False when it lost (held by another queue)."""


# ---------------------------------------------------------------------------------------------- webhooks
class WebhookStore(Protocol):
    """Webhooks (versioned, at most MAX_WEBHOOKS_PER_TENANT per tenant: LimitExceeded, atomically) with their
    signing secrets kept apart from what the API returns, and their deliveries (one per webhook and event, kept for
    DELIVERY_RETENTION by TTL)."""

    @abstractmethod
    def create_webhook(self, tenant_id: str, webhook: Webhook, secrets: SigningSecrets) -> Versioned[Webhook]: ...

    @abstractmethod
    def get_webhook(self, tenant_id: str, webhook_id: str) -> Versioned[Webhook]: ...

    @abstractmethod
    def list_webhooks(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Versioned[Webhook]]: ...

    @abstractmethod
    def update_webhook(self, tenant_id: str, webhook: Webhook, expected_version: int) -> Versioned[Webhook]: ...

    @abstractmethod
    def rotate_webhook_secret(
        self, tenant_id: str, webhook_id: str, secrets: SigningSecrets, expected_version: int
    ) -> Versioned[Webhook]: ...

    @abstractmethod
    def delete_webhook(self, tenant_id: str, webhook_id: str, expected_version: int) -> None: ...

    @abstractmethod
    def webhook_targets(self, tenant_id: str) -> list[tuple[Webhook, SigningSecrets]]:
        """Every webhook of the tenant with its secrets (the dispatcher's one Query per event)."""

    @abstractmethod
    def create_delivery(self, tenant_id: str, delivery: Delivery, event: WebhookEvent) -> bool:
        """Record a new delivery with its event; False (and nothing written) when it exists already."""

    @abstractmethod
    def get_delivery(
        self, tenant_id: str, webhook_id: str, created: datetime, event_id: str
    ) -> tuple[Delivery, WebhookEvent] | None: ...

    @abstractmethod
    def save_delivery(self, tenant_id: str, delivery: Delivery) -> None:
        """Overwrite the delivery's attempt fields (its event stays)."""

    @abstractmethod
    def list_deliveries(self, tenant_id: str, webhook_id: str, limit: int, cursor: str | None) -> Page[Delivery]:
        """Newest first."""


# ---------------------------------------------------------------------------------------------- wiring
class Repository(
    TenantStore, DirectoryStore, NumberStore, ScenarioStore, CallStore, WebhookStore, QueueStateStore, Protocol
):
    """Every port at once, over one table: what api/deps.py builds and hands to each service as its narrow port."""
