"""The end of a call and its history: who answered and when, `completed` (talk time, who hung up), the retention.

The call record's lifecycle (docs/CALLS.md, "Call results" and "Call history"):

1. while routing (`status` in_progress) the record changes with every event; `result` is null;
2. `answered` → status `connected`, result `connected`: `answered_extension` (the event's `extension`, else the ring
   action's only target), `answered_at`; routing is over;
3. `completed` (only after `connected`) → status `ended`, result `completed`: `ended_at`, `duration_seconds`,
   `ended_by`;
4. any other end of the route (voicemail, fax, hangup, the caller hanging up, the loop guard) → status `ended` with
   `ended_at` and the result of vpbx.domain.calls.call_result.

From step 2 or 4 on, `history_expires_at` is set: every save then also writes the call's compact history (its
CallSummary, with the path) kept for the tenant's `call_history_days`, and adds the call to the scenario's statistics
counters exactly once (vpbx.service.call_stats, in the same conditional write). The webhooks dispatcher can derive its
events from these records: started (a call item created), answered (result connected, answered_extension), completed
(result completed, duration_seconds, ended_by), missed / voicemail / abandoned (result of an ended call).
"""

from datetime import datetime, timedelta

from vpbx.domain.calls import COMPLETED, Action, RingAction, TraceStep
from vpbx.domain.errors import Conflict
from vpbx.store.models import CallRecord, StoredEvent


def answered_extension(action: Action | None, claimed: str | None) -> str | None:
    """Who picked up: `claimed` (the event's `extension`) when it is one of the ring action's targets, else the only
    target's extension; None for an external number or a group when telephony does not say. Conflict (409) when
    `claimed` was not rung."""
    targets = [t.extension for t in action.targets if t.extension] if isinstance(action, RingAction) else []
    if claimed is None:
        return targets[0] if len(targets) == 1 else None
    if claimed not in targets:
        message = f"extension {claimed} was not rung by decision's ring action (targets: {', '.join(targets) or '-'})"
        raise Conflict(message, [{"loc": ["body", "extension"], "msg": message, "type": "conflict"}])
    return claimed


def with_routing_facts(
    updated: CallRecord, previous: CallRecord, claimed_extension: str | None, now: datetime, history_days: int
) -> CallRecord:
    """`updated` (the call after an event or its start) with who answered, when routing ended, and its history TTL."""
    state = updated.state
    if state.status == "in_progress":
        return updated
    facts: dict[str, object] = {"history_expires_at": _history_expiry(now, history_days)}
    if state.status == "connected" and previous.state.status == "in_progress":
        facts["answered_extension"] = answered_extension(previous.last_decision.action, claimed_extension)
        facts["answered_at"] = now
    if state.status == "ended":
        facts["ended_at"] = now
    return updated.model_copy(update=facts)


def with_started_facts(record: CallRecord, now: datetime, history_days: int) -> CallRecord:
    """A call that ended at its start (no published version, a greeting and hangup, straight to voicemail)."""
    if record.state.status == "in_progress":
        return record
    return record.model_copy(update={"history_expires_at": _history_expiry(now, history_days), "ended_at": now})


def completed_call(record: CallRecord, event: StoredEvent, now: datetime, history_days: int) -> CallRecord:
    """The connected `record` after `completed`: ended, talk time and who hung up, one trace step, seq + 1."""
    state = record.state
    seq = state.seq + 1
    element = state.result_element or (record.trace[-1].element_id if record.trace else "")
    element_type = next((s.element_type for s in reversed(record.trace) if s.element_id == element), "")
    step = TraceStep(
        seq=seq,
        element_id=element,
        element_type=element_type,
        outcome=COMPLETED,
        at=now,
        detail=f"talked {event.duration_seconds} s, the {event.ended_by} hung up",
    )
    decision = record.last_decision.model_copy(update={"seq": seq, "action": None, "status": "ended"})
    return record.model_copy(
        update={
            "state": state.model_copy(update={"seq": seq, "status": "ended", "result": COMPLETED}),
            "last_decision": decision,
            "last_event": event,
            "trace": [*record.trace, step],
            "ended_at": now,
            "duration_seconds": event.duration_seconds,
            "ended_by": event.ended_by,
            "history_expires_at": _history_expiry(now, history_days),
        }
    )


def _history_expiry(now: datetime, days: int) -> int:
    return int((now + timedelta(days=days)).timestamp())
