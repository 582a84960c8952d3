"""Behaviour both repositories share: what a published scenario refers to, and the bounded call trace."""

from vpbx.domain.errors import InvalidInput
from vpbx.domain.scenario import references_of
from vpbx.store.models import CallRecord, ScenarioVersion

REF_KINDS: tuple[str, ...] = ("extension", "schedule", "caller_list", "queue")
# A token names a kind in one letter: a draft keeps one token per object its version names, in its item (400 KB), and
# the largest draft names ~22,000 extensions (8 bytes each as "e#100000").
_KIND_CODES = {"extension": "e", "schedule": "s", "caller_list": "l", "queue": "q"}

MAX_TRACE_STEPS = 300
TRACE_HEAD_STEPS = 50
"""A looping call may take up to the executor's step cap (1,000); the item must stay far below DynamoDB's 400 KB, so
a stored trace keeps its first TRACE_HEAD_STEPS steps (how the call began) and the most recent ones (where it is)."""


def ref_token(kind: str, ref: str) -> str:
    if kind not in REF_KINDS:
        raise InvalidInput(f"unknown reference kind {kind!r}; expected one of {', '.join(REF_KINDS)}")
    return f"{_KIND_CODES[kind]}#{ref}"


def named_refs(version: ScenarioVersion) -> frozenset[str]:
    """Directory objects a published version's elements name: what may not be deleted while it is current (a CRM
    element's snapshot of every subscriber pins none of them)."""
    named = references_of(version.scenario)
    tokens = {ref_token("extension", extension) for extension in named.extensions}
    tokens.update(ref_token("schedule", schedule_id) for schedule_id in named.schedules)
    tokens.update(ref_token("caller_list", list_id) for list_id in named.caller_lists)
    tokens.update(ref_token("queue", queue_id) for queue_id in named.queues)
    return frozenset(tokens)


def snapshot_only_refs(version: ScenarioVersion) -> frozenset[str]:
    """Directory objects frozen in a version's snapshot that its elements do not name (a CRM element's everyone)."""
    return published_refs(version) - named_refs(version)


def published_refs(version: ScenarioVersion) -> frozenset[str]:
    """Directory objects a published version uses: those its elements name and those frozen in its snapshot."""
    tokens = set(named_refs(version))
    snapshot = version.directory
    tokens.update(ref_token("extension", s.extension) for s in snapshot.subscribers)
    tokens.update(ref_token("schedule", s.id) for s in snapshot.schedules)
    tokens.update(ref_token("caller_list", c.id) for c in snapshot.caller_lists)
    tokens.update(ref_token("queue", q.id) for q in snapshot.queues)
    return frozenset(tokens)


def bounded_call(call: CallRecord) -> CallRecord:
    """The call as it will be stored: its trace cut to MAX_TRACE_STEPS (head and tail kept)."""
    if len(call.trace) <= MAX_TRACE_STEPS:
        return call
    tail = MAX_TRACE_STEPS - TRACE_HEAD_STEPS
    return call.model_copy(update={"trace": call.trace[:TRACE_HEAD_STEPS] + call.trace[-tail:]})
