"""Live call routing: telephony starts a call and reports outcomes; the executor answers with the next action.

Live directory (DESIGN.md §3): a published version pins the scenario graph; the subscribers, schedules and caller
lists it names and the tenant's settings resolve from the current directory when a call starts, so an edit applies to
the next call without republishing. The call records the tenant's directory revision it started with, and its events
run on the same compiled entry (service/version_cache.py says what happens when that entry is gone).

Request budget (DynamoDB requests, warm function):
- start: call_route (one BatchGetItem: the number's route item, which carries the scenario and its published version,
  and one of the tenant's directory revision copies, store/keys.py) + create_call (PutItem) = 2; the scenario draft
  (its reference set, its pointer) is never read by a call;
- event with the decision's state token: advance_call = 1 (vpbx.service.call_snapshots; no read);
- event without it: get_call + save_call = 2.
A directory edit (a new revision) makes the next start resolve what the version names (one BatchGetItem per family,
or a Query for a CRM's every subscriber) and read the tenant; a cold cache adds the read of the immutable version. A
duplicate start or a lost race reads nothing more: the failed write returns the stored call (CallTaken, CallMoved,
from ReturnValuesOnConditionCheckFailure=ALL_OLD); a dialed number in national form adds a read of the tenant when no
call of the tenant was compiled yet.

Numbers: `from` and `to` are read with the tenant's `default_country` (RU: `89161234567` is `+79161234567`), so
caller lists, the CRM and the call record see E.164; a caller that is no phone number (anonymous, a SIP user) is kept
as given.
The save that ends routing, and `completed`, write the call with its history item and statistics counters in one
TransactWriteItems (vpbx.service.call_history), still one request; the tenant's call_history_days comes with its other
settings from the version cache.

Return convention (every service): records, not response bodies. `start`/`handle_event` answer the
StoredDecision kept in the call record, `get` the CallRecord, `list` a page of CallSummary; `decision_out`,
`call_detail` and `call_summary` make the response models of them.

Idempotency: a call is created once (a duplicate start with the same body returns the first decision, another body
is a conflict); an event names the decision it answers (`seq`), and the save is conditional on that seq, so concurrent
deliveries of one event advance the call exactly once and all receive the same decision.
"""

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pydantic import ConfigDict, Field, field_validator, model_validator

from vpbx.domain.base import LazyModel
from vpbx.domain.calls import (
    COMPLETED,
    Action,
    CallInfo,
    CallResult,
    CallState,
    CallStatus,
    Decision,
    EndedBy,
    HangupAction,
    Outcome,
    OutcomeKind,
)
from vpbx.domain.errors import AlreadyExists, Conflict, InvalidField, InvalidInput, NotFound
from vpbx.domain.executor import REASON_LOOP_GUARD, CrmLookup, Executor
from vpbx.domain.phone import InvalidPhoneNumber, normalize_e164
from vpbx.domain.queues import QueueDesk
from vpbx.service.acd import StoredQueueDesk
from vpbx.service.call_history import completed_call, with_routing_facts, with_started_facts
from vpbx.service.call_snapshots import CallSnapshot, open_snapshot, seal_snapshot
from vpbx.service.call_stats import record_call_end, step_tally
from vpbx.service.crm import CrmClient, crm_lookup_for_call
from vpbx.service.state_tokens import MAX_TOKEN_LENGTH, InvalidStateToken, StateTokens
from vpbx.service.version_cache import VersionCache, version_cache_for
from vpbx.store.models import (
    CALL_FILTERS,
    CallAdvance,
    CallFilter,
    CallRecord,
    CallSummary,
    Page,
    StoredDecision,
    StoredEvent,
)
from vpbx.store.ports import (
    MAX_PAGE_LIMIT,
    CallMoved,
    CallStore,
    CallTaken,
    DirectoryReader,
    NumberRouter,
    PublishedVersions,
    QueueStateStore,
    TenantLookup,
)

logger = logging.getLogger(__name__)

CALL_TTL = timedelta(hours=24)  # a call's record lives this long after its last event
REASON_NOT_PUBLISHED = "not_published"
CALL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@+~\-]{0,127}$"
_NATIONAL_NUMBER = re.compile(r"^[0-9][0-9 ()\-.]{4,38}$")  # digits and separators, no '+'

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------------------------ request models


class _Body(LazyModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_max_length=256)


class CallStart(_Body):
    """Body of `POST /v1/calls`: a call arrived at one of the tenant's numbers."""

    call_id: str = Field(pattern=CALL_ID_PATTERN, description="Telephony's id of the call (e.g. SIP Call-ID), ≤ 128")
    from_: str | None = Field(
        default=None, alias="from", max_length=64, description="Caller's number (E.164); null when withheld"
    )
    to: str = Field(
        max_length=40,
        description="The dialed number (one of the tenant's numbers): E.164, or national digits read with the "
        "tenant's default_country",
    )

    @field_validator("to")
    @classmethod
    def _dialed_is_a_number(cls, value: str) -> str:
        """E.164 is checked here; a national form needs the tenant's default country (the service reads it)."""
        text = value.strip()
        try:
            return normalize_e164(text)
        except InvalidPhoneNumber as exc:
            if text.startswith("+") or not _NATIONAL_NUMBER.match(text):
                raise ValueError(str(exc)) from None
            return text

    @field_validator("from_")
    @classmethod
    def _caller_normalized(cls, value: str | None) -> str | None:
        """E.164 is normalized; anything else telephony sends (national digits, anonymous, a SIP user) is kept as
        given here and read with the tenant's default country by the service."""
        if value is None or not value.strip():
            return None
        try:
            return normalize_e164(value.strip())
        except InvalidPhoneNumber:
            return value.strip()


class CallEvent(_Body):
    """Body of `POST /v1/calls/{call_id}/events`: the outcome of the action of decision `seq`."""

    seq: int = Field(ge=1, le=1_000_000, description="The seq of the decision whose action this outcome answers")
    outcome: OutcomeKind
    digits: str | None = Field(default=None, pattern=r"^[0-9*#]{1,32}$", description="Only with outcome `digits`")
    extension: str | None = Field(
        default=None,
        pattern=r"^[0-9]{1,6}$",
        description="With `answered`: which of the ring action's targets picked up (e.g. in a group); optional when "
        "the action rang one extension",
    )
    duration_seconds: int | None = Field(
        default=None, ge=0, le=604_800, description="With `completed` (required): talk time from answer to hang-up"
    )
    ended_by: EndedBy | None = Field(default=None, description="With `completed` (required): who hung up")
    state_token: str | None = Field(
        default=None,
        max_length=MAX_TOKEN_LENGTH,
        pattern=r"^[A-Za-z0-9._\-]+$",
        description="The `state_token` of the decision this event answers, echoed as received: the call advances "
        "with one database write. Optional (without it the call is read first); a token not issued for this call "
        "and seq is 400 `invalid_state_token`",
    )

    @model_validator(mode="after")
    def _fields_with_their_outcome(self) -> "CallEvent":
        if (self.outcome == "digits") != (self.digits is not None):
            raise ValueError("`digits` is required with outcome 'digits' and not allowed with any other outcome")
        if self.extension is not None and self.outcome != "answered":
            raise ValueError("`extension` is only allowed with outcome 'answered'")
        completed = self.outcome == COMPLETED
        if completed != (self.duration_seconds is not None) or completed != (self.ended_by is not None):
            raise ValueError(
                "`duration_seconds` and `ended_by` are required with outcome 'completed' and not allowed with any other"
            )
        return self

    def as_stored(self) -> StoredEvent:
        return StoredEvent(
            seq=self.seq,
            outcome=self.outcome,
            digits=self.digits,
            extension=self.extension,
            duration_seconds=self.duration_seconds,
            ended_by=self.ended_by,
        )


# ------------------------------------------------------------------------------------------------ response models


class CallDecisionOut(LazyModel):
    """What telephony should do next. `action` is null once the call is connected (routing is over)."""

    call_id: str
    seq: int = Field(description="Send this seq back with the outcome of `action`")
    action: Action | None
    status: CallStatus = Field(description="in_progress: report the outcome; connected/ended: routing is over")
    state_token: str | None = Field(
        default=None,
        description="Opaque; send it back as the next event's `state_token` (docs/CALLS.md, State tokens). Null once "
        "the call has ended (nothing more to report) or when this deployment issues none",
    )


class TraceStepOut(LazyModel):
    seq: int
    element_id: str
    element_type: str
    action: Action | None = None
    outcome: str | None = None
    exit: str | None = None
    detail: str | None = None
    at: datetime


class CallSummaryOut(LazyModel):
    call_id: str
    from_: str | None = Field(serialization_alias="from")
    to: str
    scenario_id: str | None
    version: int | None = Field(description="The published version the call is pinned to")
    status: CallStatus
    result: CallResult | None = Field(
        description="Null while routed; connected, completed, missed, voicemail, fax, abandoned, hangup, failed "
        "(docs/CALLS.md, Call results)"
    )
    seq: int
    started_at: datetime
    updated_at: datetime
    expires_at: datetime = Field(description="Until then the call can be read; its history is kept this long")
    answered_extension: str | None = Field(description="Who picked up (connected and completed calls)")
    answered_at: datetime | None
    ended_at: datetime | None
    duration_seconds: int | None = Field(description="Talk time, once `completed` was reported")
    ended_by: EndedBy | None = Field(description="Who hung up a completed call")
    path: list[str] = Field(description="The elements the call went through, in order")

    model_config = ConfigDict(serialize_by_alias=True)


class CallDetailOut(CallSummaryOut):
    action: Action | None = Field(description="The latest decision's action")
    trace: list[TraceStepOut]


def summary_fields(summary: CallSummary) -> dict[str, Any]:
    """The listing's fields; a call's detail shows the same, from the same CallSummary.of, plus its trace."""
    return {
        "call_id": summary.call_id,
        "from_": summary.caller,
        "to": summary.dialed,
        "scenario_id": summary.scenario_id,
        "version": summary.version,
        "status": summary.status,
        "result": summary.result,
        "seq": summary.seq,
        "started_at": summary.started_at,
        "updated_at": summary.updated_at,
        "expires_at": datetime.fromtimestamp(summary.expires_at, UTC),
        "answered_extension": summary.answered_extension,
        "answered_at": summary.answered_at,
        "ended_at": summary.ended_at,
        "duration_seconds": summary.duration_seconds,
        "ended_by": summary.ended_by,
        "path": summary.path,
    }


def call_summary(summary: CallSummary) -> CallSummaryOut:
    return CallSummaryOut(**summary_fields(summary))


def call_detail(record: CallRecord | CallSummary) -> CallDetailOut:
    """A live call with its trace; past its 24 h, its compact history (no action, no trace)."""
    if isinstance(record, CallSummary):
        return CallDetailOut(**summary_fields(record), action=None, trace=[])
    return CallDetailOut(
        **summary_fields(CallSummary.of(record)),
        action=record.last_decision.action,
        trace=[TraceStepOut(**step.model_dump()) for step in record.trace],
    )


@dataclass(frozen=True)
class CallAnswer:
    """A decision with the state token telephony echoes with the next event (None: the call ended, or no tokens)."""

    decision: StoredDecision
    state_token: str | None = None


# ------------------------------------------------------------------------------------------------ metrics


class CallMetrics(Protocol):
    def decision(self, decision: StoredDecision, latency_ms: float) -> None: ...

    def outcome(self, kind: str) -> None: ...


class NoMetrics:
    def decision(self, decision: StoredDecision, latency_ms: float) -> None:
        pass

    def outcome(self, kind: str) -> None:
        pass


class RecordingMetrics:
    """Keeps what was reported; for tests and benches."""

    def __init__(self) -> None:
        self.decisions: list[StoredDecision] = []
        self.outcomes: list[str] = []
        self.latencies_ms: list[float] = []

    def decision(self, decision: StoredDecision, latency_ms: float) -> None:
        self.decisions.append(decision)
        self.latencies_ms.append(latency_ms)

    def outcome(self, kind: str) -> None:
        self.outcomes.append(kind)


def is_loop_guard_end(decision: StoredDecision) -> bool:
    action = decision.action
    return isinstance(action, HangupAction) and action.reason == REASON_LOOP_GUARD


def action_type(decision: StoredDecision) -> str:
    return decision.action.type if decision.action is not None else "none"


# ------------------------------------------------------------------------------------------------ the service


class CallPorts(CallStore, NumberRouter, PublishedVersions, DirectoryReader, TenantLookup, QueueStateStore, Protocol):
    """All the calls service uses of storage: call records, a number's route, published versions, the live directory
    they name, the tenant, the queues' live state (the ACD)."""


class CallsService:
    """One tenant's calls: the tenant id always comes from the authorizer context, never from a body."""

    def __init__(
        self,
        repository: CallPorts,
        *,
        clock: Clock = utc_now,
        crm: CrmClient | None = None,
        crm_lookup: CrmLookup | None = None,
        versions: VersionCache | None = None,
        metrics: CallMetrics | None = None,
        ttl: timedelta = CALL_TTL,
        tokens: StateTokens | None = None,
        queue_desks: Callable[[str], QueueDesk] | None = None,
    ) -> None:
        """`crm_lookup` (tests, simulations) replaces the HTTP client `crm` for every call; without `tokens` decisions
        carry no state token (and an event that brings one is refused); `queue_desks` (tests) replaces the ACD on the
        repository (tenant id -> its desk)."""
        self.repository = repository
        self.clock = clock
        self.crm = crm if crm is not None else CrmClient()
        self.crm_lookup = crm_lookup
        self.versions = versions if versions is not None else version_cache_for(repository)
        self.metrics: CallMetrics = metrics if metrics is not None else NoMetrics()
        self.ttl = ttl
        self.tokens = tokens
        self.queue_desks = queue_desks

    def queue_desk(self, tenant_id: str) -> QueueDesk:
        """The tenant's ACD (service/acd.py): what the queue element asks; cheap to build (no request)."""
        if self.queue_desks is not None:
            return self.queue_desks(tenant_id)
        return StoredQueueDesk(self.repository, tenant_id)

    # -------------------------------------------------------------------------------------------- start
    def start(self, tenant_id: str, request: CallStart) -> StoredDecision:
        return self.start_call(tenant_id, request).decision

    def start_call(self, tenant_id: str, request: CallStart) -> CallAnswer:
        started = time.perf_counter()
        now = self.clock()
        dialed = self._dialed(tenant_id, request.to)
        scenario_id, version, revision = self._route(tenant_id, dialed)
        if version is None:
            known = self.versions.known_settings(tenant_id)
            caller = _caller(request.from_, known.default_country if known else None)
            info = CallInfo(call_id=request.call_id, caller=caller, dialed=dialed, started_at=now)
            state, decision = _not_published(info, scenario_id)
        else:
            compiled = self.versions.compiled(tenant_id, scenario_id, version, revision)
            caller = _caller(request.from_, compiled.default_country)
            info = CallInfo(call_id=request.call_id, caller=caller, dialed=dialed, started_at=now)
            desk = self.queue_desk(tenant_id)
            executor = Executor(compiled, clock=self.clock, crm_lookup=self._crm_for(info), queue_desk=desk)
            state, decision = executor.start(info)
        answer = _stored(decision)
        record = CallRecord(
            tenant_id=tenant_id,
            state=state,
            last_decision=answer,
            first_decision=answer,
            trace=list(decision.steps),
            expires_at=self._expiry(now),
        )
        if state.status != "in_progress":
            record = with_started_facts(record, now, self._history_days(tenant_id))
        try:
            self.repository.create_call(tenant_id, record, record_call_end(None, record))
        except AlreadyExists as taken:
            return self._repeated_start(tenant_id, info, taken.stored if isinstance(taken, CallTaken) else None)
        self.metrics.decision(answer, _ms_since(started))
        logger.info(
            "call started",
            extra={"call_id": info.call_id, "scenario_id": scenario_id, "version": version, "seq": state.seq},
        )
        return self._answer(tenant_id, record)

    def _dialed(self, tenant_id: str, to: str) -> str:
        """`to` in E.164: as given, or a national form read with the tenant's default country."""
        if to.startswith("+"):
            return to
        country = self.versions.tenant_settings(tenant_id).default_country
        try:
            return normalize_e164(to, country)
        except InvalidPhoneNumber as exc:
            message = f"{exc}; national numbers need the tenant's default_country" if country is None else str(exc)
            raise InvalidField(message, [{"loc": ["body", "to"], "msg": message, "type": "value_error"}]) from None

    def _route(self, tenant_id: str, dialed: str) -> tuple[str, int | None, int]:
        """The number's scenario, its published version and the directory revision: one read (store.ports.CallRoute);
        the scenario draft, its reference set and its pointer are not read."""
        route = self.repository.call_route(tenant_id, dialed)
        if route is None:  # another tenant's number is indistinguishable from none
            raise NotFound(f"number {dialed} is not one of this tenant's numbers")
        if route.scenario_id is None:
            raise NotFound(f"number {dialed} is not assigned to a scenario")
        return route.scenario_id, route.published_version, route.directory_revision

    def _crm_for(self, info: CallInfo) -> CrmLookup:
        if self.crm_lookup is not None:
            return self.crm_lookup
        return crm_lookup_for_call(self.crm, called=info.dialed, call_id=info.call_id)

    def _repeated_start(self, tenant_id: str, request: CallInfo, stored: CallRecord | None) -> CallAnswer:
        """The first decision again, from the call the failed create returned (read only when a store returns none);
        with a token only while the call still waits for that decision's outcome."""
        if stored is None:
            stored = self.repository.get_call(tenant_id, request.call_id)
        info = stored.state.call
        if (info.caller, info.dialed) != (request.caller, request.dialed):
            raise Conflict(
                f"call {request.call_id} was already started from {info.caller} to {info.dialed}",
                [{"loc": ["body", "call_id"], "msg": "call id already used by another call", "type": "conflict"}],
            )
        first = stored.first_decision or stored.last_decision
        if first.seq != stored.state.seq:
            return CallAnswer(first)
        return self._answer(tenant_id, stored)

    # -------------------------------------------------------------------------------------------- events
    def handle_event(self, tenant_id: str, call_id: str, event: CallEvent) -> StoredDecision:
        return self.report_event(tenant_id, call_id, event).decision

    def report_event(self, tenant_id: str, call_id: str, event: CallEvent) -> CallAnswer:
        """The next decision: from the event's state token with one conditional write, else read the call first."""
        started = time.perf_counter()
        if event.state_token is not None:
            return self._tokened_event(tenant_id, call_id, event, started)
        record = self.repository.get_call(tenant_id, call_id)
        if _replayed_decision(record, event) is not None:
            return self._answer(tenant_id, record)
        state = record.state
        if event.outcome == COMPLETED:
            return self._complete(tenant_id, record, event, started)
        if state.status != "in_progress":
            raise _conflict(record, f"call {call_id} is already {state.status}; no outcome is expected")
        if state.scenario_id is None or state.version is None:
            raise _conflict(record, f"call {call_id} has no scenario version to advance")
        compiled = self.versions.compiled(tenant_id, state.scenario_id, state.version, state.directory_revision)
        desk = self.queue_desk(tenant_id)
        executor = Executor(compiled, clock=self.clock, crm_lookup=self._crm_for(state.call), queue_desk=desk)
        new_state, decision = executor.advance(
            state, Outcome(kind=event.outcome, digits=event.digits, extension=event.extension)
        )
        answer = _stored(decision)
        updated = record.model_copy(
            update={
                "state": new_state,
                "last_decision": answer,
                "last_event": event.as_stored(),
                "trace": [*record.trace, *decision.steps],
                "expires_at": self._expiry(self.clock()),
            }
        )
        if new_state.status != "in_progress":
            days = self._history_days(tenant_id)
            updated = with_routing_facts(updated, record, event.extension, self.clock(), days)
        return self._save(tenant_id, record, updated, event, started)

    def _complete(self, tenant_id: str, record: CallRecord, event: CallEvent, started: float) -> CallAnswer:
        """`completed` ends a connected call: talk time and who hung up; the same conditional write as any event."""
        if record.state.status != "connected":
            raise _conflict(
                record, f"call {record.state.call.call_id} is {record.state.status}; `completed` needs a connected call"
            )
        now = self.clock()
        updated = completed_call(record, event.as_stored(), now, self._history_days(tenant_id))
        updated = updated.model_copy(update={"expires_at": self._expiry(now)})
        self._end_queue_call(tenant_id, updated, now)
        return self._save(tenant_id, record, updated, event, started)

    def _end_queue_call(self, tenant_id: str, completed: CallRecord, now: datetime) -> None:
        """A call a queue connected frees its agent into wrap-up. Before the save: if this fails, telephony's retry
        of `completed` comes here again (call_ended is idempotent), while after a save it would be a replay."""
        if completed.answered_extension is None or not completed.trace or completed.trace[-1].element_type != "queue":
            return
        call_id = completed.state.call.call_id
        self.queue_desk(tenant_id).call_ended(completed.answered_extension, call_id, now)

    def _save(
        self, tenant_id: str, record: CallRecord, updated: CallRecord, event: CallEvent, started: float
    ) -> CallAnswer:
        """The conditional write of an event (the call, and once routing is over its history and counters)."""
        call_id, answer = record.state.call.call_id, updated.last_decision
        try:
            self.repository.save_call(
                tenant_id, updated, expected_seq=record.state.seq, counters=record_call_end(record, updated)
            )
        except Conflict as moved:
            return self._lost_race(tenant_id, call_id, event, moved.stored if isinstance(moved, CallMoved) else None)
        self._advanced(call_id, event, answer, started)
        return self._answer(tenant_id, updated)

    def _advanced(self, call_id: str, event: CallEvent, answer: StoredDecision, started: float) -> None:
        self.metrics.outcome(event.outcome)
        self.metrics.decision(answer, _ms_since(started))
        logger.info(
            "call advanced",
            extra={"call_id": call_id, "outcome": event.outcome, "seq": answer.seq, "status": answer.status},
        )

    def _lost_race(self, tenant_id: str, call_id: str, event: CallEvent, stored: CallRecord | None) -> CallAnswer:
        """Another delivery saved first: the same event gets the winner's decision, anything else a conflict. The
        stored call comes with the failed write (ALL_OLD); it is read only when a store returns none."""
        if stored is None:
            stored = self.repository.get_call(tenant_id, call_id)
        if _replayed_decision(stored, event) is not None:
            return self._answer(tenant_id, stored)
        raise _conflict(stored, f"call {call_id} moved on while this event was handled")

    # -------------------------------------------------------------------------------------------- state tokens
    def _answer(self, tenant_id: str, record: CallRecord) -> CallAnswer:
        """The call's latest decision, with a token while an event can still follow (in progress, or connected:
        `completed` follows)."""
        if self.tokens is None or record.state.status == "ended" or not self.tokens.issuing:
            return CallAnswer(record.last_decision)
        return CallAnswer(record.last_decision, self._seal(tenant_id, CallSnapshot.of(record)))

    def _seal(self, tenant_id: str, snapshot: CallSnapshot) -> str | None:
        if self.tokens is None or snapshot.state.status == "ended" or not self.tokens.issuing:
            return None
        token = seal_snapshot(self.tokens, tenant_id, snapshot)
        if len(token) > MAX_TOKEN_LENGTH:  # telephony then reports without one: the call is read first
            logger.warning(
                "state token not issued", extra={"call_id": snapshot.state.call.call_id, "length": len(token)}
            )
            return None
        return token

    def _tokened_event(self, tenant_id: str, call_id: str, event: CallEvent, started: float) -> CallAnswer:
        """The event decided from its state token and written with one conditional UpdateItem (a TransactWriteItems
        when routing ends): no read. A lost race or a replay is answered from the stored call the failed write
        returns; a token that was not issued for this tenant, call and seq is refused before any request."""
        if self.tokens is None:
            raise InvalidStateToken("this deployment issues no state tokens; report the event without one")
        snapshot = open_snapshot(self.tokens, tenant_id, call_id, event.seq, event.state_token or "")
        now = self.clock()
        if snapshot.expires_at <= int(now.timestamp()):
            raise NotFound(f"call {call_id} not found")
        previous = snapshot.record(tenant_id)
        if event.outcome == COMPLETED:
            if previous.state.status != "connected":
                raise _conflict(
                    previous, f"call {call_id} is {previous.state.status}; `completed` needs a connected call"
                )
            completed = completed_call(previous, event.as_stored(), now, self._history_days(tenant_id))
            self._end_queue_call(tenant_id, completed, now)
            new_steps = completed.trace[-1:]
            updated = completed.model_copy(update={"trace": new_steps, "expires_at": self._expiry(now)})
        else:
            updated = self._advanced_from_token(tenant_id, previous, event, now)
            new_steps = updated.trace
        after = snapshot.after(updated, new_steps)
        counters = record_call_end(previous, updated, tally=step_tally(new_steps, snapshot.tally), result=after.result)
        advance = CallAdvance(
            call=updated, summary=after.summary(updated), expected_seq=previous.state.seq, counters=counters
        )
        try:
            self.repository.advance_call(tenant_id, advance)
        except CallMoved as moved:
            return self._lost_race(tenant_id, call_id, event, moved.stored)
        self._advanced(call_id, event, updated.last_decision, started)
        return CallAnswer(updated.last_decision, self._seal(tenant_id, after))

    def _advanced_from_token(self, tenant_id: str, previous: CallRecord, event: CallEvent, now: datetime) -> CallRecord:
        """The call after `event`, its trace the new decision's steps only."""
        state, call_id = previous.state, previous.state.call.call_id
        if state.status != "in_progress":
            raise _conflict(previous, f"call {call_id} is already {state.status}; no outcome is expected")
        if state.scenario_id is None or state.version is None:
            raise _conflict(previous, f"call {call_id} has no scenario version to advance")
        compiled = self.versions.compiled(tenant_id, state.scenario_id, state.version, state.directory_revision)
        desk = self.queue_desk(tenant_id)
        executor = Executor(compiled, clock=self.clock, crm_lookup=self._crm_for(state.call), queue_desk=desk)
        outcome = Outcome(kind=event.outcome, digits=event.digits, extension=event.extension)
        new_state, decision = executor.advance(state, outcome)
        updated = previous.model_copy(
            update={
                "state": new_state,
                "last_decision": _stored(decision),
                "last_event": event.as_stored(),
                "trace": list(decision.steps),
                "expires_at": self._expiry(now),
            }
        )
        if new_state.status == "in_progress":
            return updated
        return with_routing_facts(updated, previous, event.extension, now, self._history_days(tenant_id))

    # -------------------------------------------------------------------------------------------- reading
    def get(self, tenant_id: str, call_id: str) -> CallRecord | CallSummary:
        """The live call (24 h), else its compact history (the tenant's call_history_days)."""
        try:
            return self.repository.get_call(tenant_id, call_id)
        except NotFound:
            return self.repository.get_call_history(tenant_id, call_id)

    def list(
        self,
        tenant_id: str,
        *,
        limit: int,
        cursor: str | None = None,
        number: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        result: CallResult | None = None,
        scenario_id: str | None = None,
        extension: str | None = None,
        caller: str | None = None,
    ) -> Page[CallSummary]:
        """Newest first; at most one of result, scenario_id, extension, number, caller (each has its index), with
        since/until on any of them."""
        if number is not None:
            number = _e164_query(number, "number")
        if caller is not None:
            caller = _caller_query(caller)
        given = {
            kind: value
            for kind, value in (
                ("result", result),
                ("scenario_id", scenario_id),
                ("extension", extension),
                ("number", number),
                ("caller", caller),
            )
            if value is not None
        }
        if len(given) > 1:
            message = f"filter by one of {', '.join(CALL_FILTERS)} at a time (with since/until); got {', '.join(given)}"
            raise InvalidInput(
                message, [{"loc": ["query", kind], "msg": message, "type": "one_filter"} for kind in given]
            )
        since, until = _aware(since), _aware(until)
        if since is not None and until is not None and since >= until:
            raise InvalidInput(
                "`since` must be before `until`",
                [{"loc": ["query", "since"], "msg": "must be before until", "type": "range"}],
            )
        where = CallFilter(kind=next(iter(given)), value=next(iter(given.values()))) if given else None
        return self.repository.list_calls(
            tenant_id, min(limit, MAX_PAGE_LIMIT), cursor, since=since, until=until, where=where
        )

    def _expiry(self, now: datetime) -> int:
        return int((now + self.ttl).timestamp())

    def _history_days(self, tenant_id: str) -> int:
        """The tenant's call_history_days with its other settings: as of the latest revision this function resolved
        (a tenant PUT advances the revision), read once when it resolved none."""
        return self.versions.tenant_settings(tenant_id).call_history_days


# ------------------------------------------------------------------------------------------------ helpers


def _not_published(info: CallInfo, scenario_id: str) -> tuple[CallState, Decision]:
    """The number's scenario has no published version: a clear hangup, not an error telephony must interpret."""
    state = CallState(
        call=info, scenario_id=scenario_id, seq=1, status="ended", result=REASON_NOT_PUBLISHED, result_element=None
    )
    hangup = HangupAction(reason=REASON_NOT_PUBLISHED)
    return state, Decision(seq=1, action=hangup, status="ended", steps=[])


def _caller(given: str | None, default_country: str | None) -> str | None:
    """The caller in E.164 when it is a phone number in any form the tenant's country allows, else as given."""
    if given is None or given.startswith("+") or default_country is None:
        return given
    try:
        return normalize_e164(given, default_country)
    except InvalidPhoneNumber:
        return given


def _stored(decision: Decision) -> StoredDecision:
    return StoredDecision(seq=decision.seq, action=decision.action, status=decision.status)


def _replayed_decision(record: CallRecord, event: CallEvent) -> StoredDecision | None:
    """The stored decision when `event` is the one that produced it; None when it is the next event to handle.

    Raises Conflict for an answered seq with another outcome, and for stale or future seqs.
    """
    current = record.state.seq
    if event.seq == current:
        return None
    answered = record.last_event
    if event.seq == current - 1 and answered is not None:
        if answered == event.as_stored():
            return record.last_decision
        raise _conflict(
            record,
            f"decision {event.seq} was already answered with outcome {answered.outcome!r}"
            + (f" (digits {answered.digits})" if answered.digits else ""),
        )
    if event.seq > current:
        raise _conflict(record, f"seq {event.seq} is ahead of the call's latest decision {current}")
    raise _conflict(record, f"seq {event.seq} is stale; the call's latest decision is {current}")


def _conflict(record: CallRecord, message: str) -> Conflict:
    detail = {"loc": ["body", "seq"], "msg": message, "type": "conflict"}
    return Conflict(message, [{**detail, "current_seq": record.state.seq, "status": record.state.status}])


def decision_out(call_id: str, decision: StoredDecision, state_token: str | None = None) -> CallDecisionOut:
    return CallDecisionOut(
        call_id=call_id, seq=decision.seq, action=decision.action, status=decision.status, state_token=state_token
    )


def _e164_query(value: str, name: str) -> str:
    try:
        return normalize_e164(value)
    except InvalidPhoneNumber as exc:
        raise InvalidInput(str(exc), [{"loc": ["query", name], "msg": str(exc), "type": "e164"}]) from None


def _caller_query(value: str) -> str:
    """As a call's start stores the caller: E.164 normalized, anything else (anonymous, a SIP user) as given."""
    try:
        return normalize_e164(value.strip())
    except InvalidPhoneNumber:
        return value.strip()


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
