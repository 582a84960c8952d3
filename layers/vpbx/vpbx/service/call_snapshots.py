"""What a state token carries: a call as its next event needs it, without the trace (docs/CALLS.md, "State tokens").

An event that comes with a token is decided from the snapshot and written with one conditional UpdateItem (no read):
the executor resumes `state`; the end of routing finds who answered in `action` (the ring targets), the listing's path
and result in `path` and `rang`, the statistics in `tally`; `completed` finds the answering element in `last_step`.
"""

from datetime import datetime

from pydantic import ConfigDict, Field, ValidationError

from vpbx.domain.base import LazyModel
from vpbx.domain.calls import Action, CallState, HangupAction, TraceStep, call_result
from vpbx.service.call_stats import step_tally
from vpbx.service.state_tokens import InvalidStateToken, StateTokens
from vpbx.store.models import MAX_PATH_ELEMENTS, CallRecord, CallSummary, StoredDecision


class CallSnapshot(LazyModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    state: CallState
    action: Action | None = None  # the pending decision's action
    expires_at: int  # the call's expiry when the token was issued: the token is refused after it
    answered_extension: str | None = None
    answered_at: datetime | None = None
    last_step: TraceStep | None = None
    path: list[str] = Field(default_factory=list)
    rang: bool = False
    tally: dict[str, int] = Field(default_factory=dict)  # step_tally of the trace, while the call is routed

    @classmethod
    def of(cls, record: CallRecord) -> "CallSnapshot":
        """From a whole call (a start, an event read first, a stored call a failed write returned)."""
        routed = record.state.status == "in_progress"
        return cls(
            state=record.state,
            action=record.last_decision.action,
            expires_at=record.expires_at,
            answered_extension=record.answered_extension,
            answered_at=record.answered_at,
            last_step=record.trace[-1] if record.trace else None,
            path=record.path,
            rang=record.rang,
            tally=step_tally(record.trace) if routed else {},
        )

    def record(self, tenant_id: str) -> CallRecord:
        """The call as the event handler reads it: its trace is the latest step only (see `after` for the rest)."""
        return CallRecord(
            tenant_id=tenant_id,
            state=self.state,
            last_decision=StoredDecision(seq=self.state.seq, action=self.action, status=self.state.status),
            trace=[self.last_step] if self.last_step is not None else [],
            expires_at=self.expires_at,
            answered_extension=self.answered_extension,
            answered_at=self.answered_at,
        )

    def after(self, updated: CallRecord, new_steps: list[TraceStep]) -> "CallSnapshot":
        """The snapshot of `updated`, the call after an event whose decision took `new_steps`."""
        entered = [step.element_id for step in new_steps if step.outcome is None]
        routed = updated.state.status == "in_progress"
        return CallSnapshot(
            state=updated.state,
            action=updated.last_decision.action,
            expires_at=updated.expires_at,
            answered_extension=updated.answered_extension,
            answered_at=updated.answered_at,
            last_step=new_steps[-1] if new_steps else self.last_step,
            path=[*self.path, *entered][:MAX_PATH_ELEMENTS],
            rang=self.rang or any(step.action is not None and step.action.type == "ring" for step in new_steps),
            tally=step_tally(new_steps, self.tally) if routed else {},
        )

    @property
    def result(self) -> str | None:
        action = self.action
        reason = action.reason if isinstance(action, HangupAction) else None
        return call_result(self.state, rang=self.rang, end_reason=reason)

    def summary(self, updated: CallRecord) -> CallSummary:
        """`updated`'s listing summary with what only the whole trace knows (path, result) from the snapshot."""
        return CallSummary.of(updated).model_copy(update={"path": self.path, "result": self.result})


def seal_snapshot(tokens: StateTokens, tenant_id: str, snapshot: CallSnapshot) -> str:
    payload = snapshot.model_dump_json().encode()  # defaults too: an action's `type` is its discriminator
    return tokens.seal(tenant_id, snapshot.state.call.call_id, snapshot.state.seq, payload)


def open_snapshot(tokens: StateTokens, tenant_id: str, call_id: str, seq: int, token: str) -> CallSnapshot:
    payload = tokens.open(tenant_id, call_id, seq, token)
    try:
        snapshot = CallSnapshot.model_validate_json(payload)
    except ValidationError:  # signed by us, so only an older format: report without the token
        raise InvalidStateToken("the state token's format is not understood by this version") from None
    if snapshot.state.seq != seq or snapshot.state.call.call_id != call_id:
        raise InvalidStateToken("the state token does not describe this call and decision")
    return snapshot
