"""Stored records. Tenant-owned records are read and written through repository methods that take tenant_id first."""

from datetime import date, datetime
from typing import Generic, TypeVar

from pydantic import ConfigDict, Field

from vpbx.domain.base import LazyModel
from vpbx.domain.calls import Action, CallResult, CallState, CallStatus, EndedBy, OutcomeKind, TraceStep, call_result
from vpbx.domain.directory import CallerList, Directory, Schedule, Subscriber
from vpbx.domain.queues import Queue
from vpbx.domain.scenario import References, Scenario
from vpbx.domain.tenancy import Role

DEFAULT_CALL_HISTORY_DAYS = 90


class Record(LazyModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tenant(Record):
    id: str
    name: str
    sip_domain: str | None = None  # the switch rings internal subscribers at sip:<ext>@<sip_domain>
    crm_url: str | None = None  # the CRM an external_routing element without its own url asks
    default_country: str | None = None  # ISO 3166-1 alpha-2 ("RU"): how national numbers (89161234567) are read
    call_history_days: int = DEFAULT_CALL_HISTORY_DAYS  # how long a call's compact history is kept
    created_at: datetime
    version: int = 1  # optimistic locking: the ETag of GET/PUT /v1/tenants/{id}
    usage_key: str | None = None  # API Gateway usage identifier (metering only), None when not provisioned


class ApiKey(Record):
    """An API key as stored: only the SHA-256 of the secret, never the secret itself."""

    id: str
    tenant_id: str
    role: Role
    name: str
    key_hash: str
    prefix: str  # the first characters of the secret, to tell keys apart in listings
    created_at: datetime
    revoked_at: datetime | None = None
    usage_key: str | None = None  # the tenant's usage identifier, copied here so the authorizer needs one read

    @property
    def active(self) -> bool:
        return self.revoked_at is None


T = TypeVar("T")


class Versioned(Record, Generic[T]):
    """A directory object with its optimistic-locking version (the ETag is derived from it)."""

    item: T
    version: int
    created_at: datetime
    updated_at: datetime


class PhoneNumber(Record):
    number: str  # E.164, unique platform-wide
    scenario_id: str | None = None
    label: str | None = None


class ScenarioDraft(Record):
    id: str
    scenario: Scenario
    published_version: int | None = None  # the version calls use now (after publish or rollback)
    latest_version: int = 0  # the highest version number ever published


class DirectorySnapshot(Record):
    """Directory objects a scenario refers to, as resolved at one moment: what a call compiles against (live, by the
    tenant's directory revision, service/version_cache.py), and, stored with a published version, the directory it
    was validated against at publish (for information: calls and simulations use the live directory)."""

    subscribers: list[Subscriber] = Field(default_factory=list)
    schedules: list[Schedule] = Field(default_factory=list)
    caller_lists: list[CallerList] = Field(default_factory=list)
    queues: list[Queue] = Field(default_factory=list)

    def to_directory(self, tenant_crm_url: str | None = None) -> Directory:
        return Directory.of(self.subscribers, self.schedules, self.caller_lists, tenant_crm_url, self.queues)

    def named_by(self, refs: References) -> "DirectorySnapshot":
        """Only the objects `refs` names: what a version stores. A scenario that may ring any extension (a CRM
        lookup, a direct dial) was validated against every subscriber, but keeps only those its elements name."""
        if not refs.any_extension:
            return self
        return self.model_copy(update={"subscribers": [s for s in self.subscribers if s.extension in refs.extensions]})


class ScenarioVersion(Record):
    """An immutable published version of a scenario."""

    scenario_id: str
    number: int
    scenario: Scenario
    directory: DirectorySnapshot = Field(default_factory=DirectorySnapshot)  # what it names (named_by), for information
    published_at: datetime
    published_by: str | None = None  # key id


class StoredDecision(Record):
    """What a call was told to do: the next action (None once routing is over) under its seq."""

    seq: int
    action: Action | None
    status: CallStatus


class StoredEvent(Record):
    """The outcome telephony reported for one decision (to recognise a replayed delivery)."""

    seq: int
    outcome: OutcomeKind
    digits: str | None = None
    extension: str | None = None  # with `answered`
    duration_seconds: int | None = None  # with `completed`
    ended_by: EndedBy | None = None  # with `completed`


class CallRecord(Record):
    """A call's resumable state, its last decision (for idempotent replays) and its trace."""

    tenant_id: str
    state: CallState
    last_decision: StoredDecision
    last_event: StoredEvent | None = None  # the event that produced last_decision, to recognise replays
    first_decision: StoredDecision | None = None  # the start's decision, returned again to a duplicate start
    trace: list[TraceStep] = Field(default_factory=list)
    expires_at: int  # epoch seconds, DynamoDB TTL
    answered_extension: str | None = None  # who picked up (the ring action's target that answered)
    answered_at: datetime | None = None
    ended_at: datetime | None = None  # when the call ended: the route's end, or `completed` reported
    duration_seconds: int | None = None  # talk time, from `completed`
    ended_by: EndedBy | None = None  # from `completed`
    history_expires_at: int | None = None
    """Set once routing is over (connected or ended): the call's compact history (CallSummary) is then written beside
    it and kept until this epoch second (the tenant's call_history_days), while the call item keeps its 24 h."""

    @property
    def rang(self) -> bool:
        return any(step.action is not None and step.action.type == "ring" for step in self.trace)

    @property
    def path(self) -> list[str]:
        """The elements the call went through, in order (an element entered again appears again), capped."""
        entered = [step.element_id for step in self.trace if step.outcome is None]
        return entered[:MAX_PATH_ELEMENTS]

    @property
    def result(self) -> CallResult | None:
        action = self.last_decision.action
        reason = action.reason if action is not None and action.type == "hangup" else None
        return call_result(self.state, rang=self.rang, end_reason=reason)


MAX_PATH_ELEMENTS = 64


class CallSummary(Record):
    """What a call listing shows, and all it reads: stored beside the call so the listing index need not hold the
    whole record (its trace and decisions). Once routing is over it is also the call's compact history, kept for the
    tenant's call_history_days (docs/CALLS.md, "Call history")."""

    call_id: str
    caller: str | None
    dialed: str
    scenario_id: str | None
    version: int | None
    status: CallStatus
    result: CallResult | None
    seq: int
    started_at: datetime
    updated_at: datetime  # of the latest trace step, else the start
    expires_at: int  # epoch seconds
    answered_extension: str | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    duration_seconds: int | None = None
    ended_by: EndedBy | None = None
    path: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, call: CallRecord) -> "CallSummary":
        state, info = call.state, call.state.call
        return cls(
            call_id=info.call_id,
            caller=info.caller,
            dialed=info.dialed,
            scenario_id=state.scenario_id,
            version=state.version,
            status=state.status,
            result=call.result,
            seq=state.seq,
            started_at=info.started_at,
            updated_at=call.trace[-1].at if call.trace else info.started_at,
            expires_at=call.history_expires_at or call.expires_at,
            answered_extension=call.answered_extension,
            answered_at=call.answered_at,
            ended_at=call.ended_at,
            duration_seconds=call.duration_seconds,
            ended_by=call.ended_by,
            path=call.path,
        )


class CallCounters(Record):
    """Statistics counters one call adds to its scenario's day (vpbx.service.call_stats), written with the call."""

    scenario_id: str
    day: date  # the call's start day, UTC
    shard: int  # spreads a busy scenario's day over a few items
    values: dict[str, int]


class CallAdvance(Record):
    """One event's write without reading the call first (a state token carried the call: docs/CALLS.md, "State
    tokens"): the call after the event whose `trace` holds only the new decision's steps (appended to the stored
    trace), its listing summary (the path the token kept), and the counters when routing has just ended."""

    call: CallRecord
    summary: CallSummary
    expected_seq: int
    counters: CallCounters | None = None


class DayCounters(Record):
    """A scenario's counters of one day, summed over its shards."""

    day: date
    values: dict[str, int]


CALL_FILTERS: tuple[str, ...] = ("result", "scenario_id", "extension", "number", "caller")


class CallFilter(Record):
    """One indexed filter of a calls listing: `kind` in CALL_FILTERS, `value` already normalized."""

    kind: str
    value: str


class Page(Record, Generic[T]):
    items: list[T]
    next_cursor: str | None = None
