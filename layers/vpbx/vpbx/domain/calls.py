"""Call-time vocabulary shared by the executor, the store and the calls API (DESIGN.md §3, public contract)."""

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, cast, get_args

from pydantic import Field

from vpbx.domain.base import StrictModel
from vpbx.domain.elements.base import Prompt

# ------------------------------------------------------------------------------------------------------ CRM


class CrmRefused(Exception):
    """The CRM lookup's network rules refused the URL before connecting (scheme, credentials, a non-public address):
    a configuration problem, which the call's trace names as refused rather than as a caller the CRM did not know."""


# ------------------------------------------------------------------------------------------------------ actions


class RingTarget(StrictModel):
    """Whom to ring: an extension with the SIP `uri` of its device, or an external `number` (E.164) / SIP `uri`."""

    extension: str | None = None
    uri: str | None = None
    number: str | None = None
    dial_delay_seconds: int = 0


class RingAction(StrictModel):
    type: Literal["ring"] = "ring"
    targets: list[RingTarget]
    strategy: Literal["simultaneous", "sequential", "random", "single"] = "single"
    timeout_seconds: int | None  # None: ring until answered (no limit; the element ends the route)


class PlayAction(StrictModel):
    type: Literal["play"] = "play"
    prompt: Prompt


class CollectAction(StrictModel):
    """Play `preamble` (if any), then `prompt`, and collect keys; a key pressed during either stops the playback.

    The first key must come within `timeout_seconds` after the prompt ends, or the outcome is `timeout`. With
    `max_digits` 1 the first key ends the input. With more, input ends at `max_digits` keys, at the `terminator`
    (not part of the reported digits; pressed as the first key it is reported as itself), or when
    `inter_digit_timeout_seconds` pass without a key; `digits` then carries every key pressed, e.g. "101".
    """

    type: Literal["collect"] = "collect"
    prompt: Prompt = Field(description="The menu: what to play while collecting")
    max_digits: int = Field(default=1, description="Keys to collect at most; 1: the first key ends the input")
    timeout_seconds: int = Field(description="Seconds to wait for the first key after the prompt ends")
    preamble: Prompt | None = Field(
        default=None, description="Played before `prompt` on a retry after a wrong entry (the menu's invalid_prompt)"
    )
    terminator: Literal["#", "*"] | None = Field(
        default=None, description="The key that ends a multi-key input early; null when max_digits is 1 or none"
    )
    inter_digit_timeout_seconds: int | None = Field(
        default=None, description="Seconds after a key with no further key that end the input (max_digits > 1)"
    )


class VoicemailAction(StrictModel):
    type: Literal["voicemail"] = "voicemail"
    mailbox: str


class FaxAction(StrictModel):
    type: Literal["fax"] = "fax"
    extension: str


class HangupAction(StrictModel):
    type: Literal["hangup"] = "hangup"
    reason: str


class EnqueueAction(StrictModel):
    """Keep the caller on hold in a queue: play `hold_prompt` (ringback when null) and report outcome `waiting`
    every `poll_seconds`; each report is answered with the next `enqueue` (the new position) or a `ring` of the agent
    chosen for this caller (docs/CALLS.md, Queues)."""

    type: Literal["enqueue"] = "enqueue"
    queue_id: str
    position: int = Field(description="The caller's place in line; 1 is next")
    estimated_wait_seconds: int | None = Field(description="About how long until an agent; null when unknown")
    hold_prompt: Prompt | None = Field(description="What to play while waiting; null: ringback")
    poll_seconds: int = Field(description="Report `waiting` after this many seconds (or sooner)")
    announce: Prompt | None = Field(
        default=None, description="Play this once before resuming hold (position announcement), when present"
    )


Action = Annotated[
    RingAction | PlayAction | CollectAction | VoicemailAction | FaxAction | HangupAction | EnqueueAction,
    Field(discriminator="type"),
]

# ------------------------------------------------------------------------------------------------------ outcomes

OutcomeKind = Literal[
    "answered",
    "no_answer",
    "busy",
    "unavailable",
    "failed",
    "digits",
    "timeout",
    "caller_hangup",
    "played",
    "completed",
    "waiting",
]
OUTCOME_KINDS: tuple[str, ...] = get_args(OutcomeKind)
COMPLETED = "completed"  # a connected call ended: answered to the service, never to the executor (routing is over)


RING_OUTCOMES = frozenset({"answered", "no_answer", "busy", "unavailable", "failed"})
# `failed` fits every action: a prompt that cannot be played is skipped, a failed collect counts as a timeout.
ACCEPTED_OUTCOMES: Mapping[str, frozenset[str]] = {
    "ring": RING_OUTCOMES,
    "play": frozenset({"played", "failed"}),
    "collect": frozenset({"digits", "timeout", "failed"}),
    "enqueue": frozenset({"waiting", "failed"}),
}


class Outcome(StrictModel):
    kind: OutcomeKind
    digits: str | None = Field(default=None, pattern=r"^[0-9*#]{1,32}$")
    extension: str | None = Field(default=None, pattern=r"^[0-9]{1,6}$")  # with `answered`: who picked up


# ------------------------------------------------------------------------------------------------------ state

CallStatus = Literal["in_progress", "connected", "ended"]
"""`connected`: answered, routing is over. `ended`: the route ended (hangup, voicemail, fax, loop guard…)."""


class CallInfo(StrictModel):
    call_id: str = Field(min_length=1, max_length=128)
    caller: str | None = Field(default=None, max_length=64)  # E.164 or None when withheld
    dialed: str = Field(max_length=64)
    started_at: datetime


class TraceStep(StrictModel):
    """One step of a call: an element visited, what was asked of telephony, what came back, which arrow was taken."""

    seq: int  # the decision this step belongs to
    element_id: str
    element_type: str
    action: Action | None = None
    outcome: str | None = None
    exit: str | None = None
    at: datetime
    detail: str | None = None  # why, in words: "schedule office: holiday", "CRM lookup failed: TimeoutError"…


class CallState(StrictModel):
    """Everything the executor needs to resume a call; serializable, stored between events."""

    call: CallInfo
    scenario_id: str | None = None
    version: int | None = None  # the published version this call is pinned to
    directory_revision: int | None = None  # the tenant's directory revision the call started with
    seq: int  # the number of the latest decision
    status: CallStatus
    element_id: str | None = None  # the element waiting for telephony's outcome
    element_state: dict[str, Any] = Field(default_factory=dict)  # per-element progress: retries, member index…
    steps_total: int = 0
    consecutive_element: str | None = None
    consecutive_visits: int = 0
    crm_lookups: int = 0  # CRM lookups so far (capped per call, see vpbx.domain.executor)
    # the executor's end: connected | completed | voicemail | fax | hangup | loop_guard | caller_hangup | not_published
    result: str | None = None
    result_element: str | None = None


# ------------------------------------------------------------------------------------------------------ results

EndedBy = Literal["caller", "callee"]
CallResult = Literal["connected", "completed", "missed", "voicemail", "fax", "abandoned", "hangup", "failed"]
CALL_RESULTS: tuple[str, ...] = get_args(CallResult)
"""What happened to a call, once routing is over (null while it is routed):

- `connected`: answered, the parties are talking (no `completed` reported yet);
- `completed`: answered, then ended (`completed` reported: duration, who hung up);
- `missed`: somebody was rung, nobody answered, the route ended (no voicemail);
- `voicemail` / `fax`: the route ended in a mailbox or a fax;
- `abandoned`: the caller hung up while being routed (ringing, a menu, a prompt);
- `hangup`: the scenario ended the call without ringing anybody (a hangup element, a route end after a prompt);
- `failed`: the call could not be routed (no published version, the loop guard).
"""
_FAILED_RESULTS = frozenset({"loop_guard", "not_published"})
_FAILED_REASONS = frozenset({"no_entry"})


def call_result(state: CallState, *, rang: bool, end_reason: str | None = None) -> CallResult | None:
    """The public result of a call from the executor's own (`state.result`); `rang`: somebody was rung;
    `end_reason`: the final hangup action's reason."""
    if state.status == "in_progress":
        return None
    internal = state.result
    if internal == "connected":
        return "connected"
    if internal in ("completed", "voicemail", "fax"):
        return cast(CallResult, internal)
    if internal == "caller_hangup":
        return "abandoned"
    if internal in _FAILED_RESULTS or end_reason in _FAILED_REASONS:
        return "failed"
    return "missed" if rang else "hangup"


class Decision(StrictModel):
    """The executor's answer: the next action (None once routing is over) and the steps it took to get there."""

    seq: int
    action: Action | None
    status: CallStatus
    steps: list[TraceStep]
