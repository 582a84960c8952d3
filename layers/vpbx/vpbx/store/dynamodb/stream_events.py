"""Which table changes are webhook events: one table per rule, read from DynamoDB stream records (Lambda's shape).

It lives with the DynamoDB store because it reads that store's keys and attribute-value images.

| change (stream record of the item)                             | event                                   |
|----------------------------------------------------------------|-----------------------------------------|
| a call item is inserted (`CALL#…`)                             | `call.started`                          |
| the call's `status` becomes `connected` (STATUS_EVENTS)        | `call.answered`                         |
| the call's `result` becomes a final result (RESULT_EVENTS)     | `call.completed`, `call.missed`, …      |
| a scenario draft's `published_version` changes (`SCENARIO#…`)  | `scenario.published`                    |

Calls are read from the `summary` attribute the call store writes beside each call (a JSON CallSummary), so the
mapping needs neither the compressed body nor the call store's code. Fields are read defensively: a summary without
`answered_extension` or `duration_seconds` (written before those existed) still maps, and a result this table does not
know maps to no event (and is counted by the caller), never to an error. Align names here and only here.

Event ids are derived from the call (tenant, call id, start time) or the scenario version and the stream sequence
number, so a stream batch Lambda retries, or a call write repeated with the same outcome, gives the same id again.
"""

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from vpbx.domain.webhooks import EventType, WebhookEvent, event_id

Image = Mapping[str, Any]  # a DynamoDB item in attribute-value form: {"PK": {"S": "…"}, …}

CALL_PREFIX = "CALL#"
SCENARIO_PREFIX = "SCENARIO#"
TENANT_PREFIX = "TENANT#"

STATUS_EVENTS: Mapping[str, EventType] = {"connected": "call.answered"}
"""A call whose status becomes the key: the event. (`in_progress` is the start; `ended` comes with a result.)"""

RESULT_EVENTS: Mapping[str, EventType | None] = {
    "completed": "call.completed",  # a connected call ended (telephony's `completed` outcome)
    "missed": "call.missed",  # somebody was rung, nobody answered
    "failed": "call.missed",  # no published version, or the loop guard: nobody could answer
    "voicemail": "call.voicemail",
    "abandoned": "call.abandoned",  # the caller hung up before anyone answered
    "connected": None,  # answered is STATUS_EVENTS' call.answered; its end comes as `completed`
    "hangup": None,  # the scenario ended the call on purpose (a hangup element, e.g. after hours)
    "fax": None,  # a fax machine took it: not a missed call, no event of its own (yet)
}
"""A call whose `result` becomes the key: the event (None: a known result without an event)."""

CALL_DATA_FIELDS = (
    "call_id",
    "caller",
    "dialed",
    "scenario_id",
    "version",
    "status",
    "result",
    "started_at",
    "answered_extension",
    "answered_at",
    "ended_at",
    "duration_seconds",
    "ended_by",
)
"""What an event's `data` carries of the call summary (each only when the summary has it)."""


def events_of(record: Mapping[str, Any]) -> list[WebhookEvent]:
    """The webhook events one stream record stands for (often none: most call writes are mid-route steps)."""
    change = record.get("dynamodb") or {}
    keys = change.get("Keys") or {}
    pk, sk = _text(keys, "PK") or "", _text(keys, "SK") or ""
    if not pk.startswith(TENANT_PREFIX):
        return []
    tenant_id = pk.removeprefix(TENANT_PREFIX).split("#", 1)[0]  # a call's own partition: TENANT#<t>#CALL#<id>
    for prefix, mapper in _ITEM_MAPPERS.items():
        if sk.startswith(prefix):
            return mapper(tenant_id, record, change.get("OldImage") or {}, change.get("NewImage") or {})
    return []


def unknown_result(record: Mapping[str, Any]) -> str | None:
    """The final result of a call record that RESULT_EVENTS does not know (to be logged and counted), else None."""
    new = _summary((record.get("dynamodb") or {}).get("NewImage") or {})
    result = new.get("result")
    return result if isinstance(result, str) and result not in RESULT_EVENTS else None


# ---------------------------------------------------------------------------------------------------- calls


def _call_events(tenant_id: str, record: Mapping[str, Any], old_image: Image, new_image: Image) -> list[WebhookEvent]:
    old, new = _summary(old_image), _summary(new_image)
    if not new or not isinstance(new.get("call_id"), str):
        return []  # a removed call (TTL) or an item without a summary: nothing happened to report
    changed: list[EventType] = []
    if not old:
        changed.append("call.started")
    status, result = new.get("status"), new.get("result")
    if isinstance(status, str) and status != old.get("status") and status in STATUS_EVENTS:
        changed.append(STATUS_EVENTS[status])
    if isinstance(result, str) and result != old.get("result"):
        final = RESULT_EVENTS.get(result)
        if final is not None:
            changed.append(final)
    return [_call_event(tenant_id, event_type, new) for event_type in changed]


def _call_event(tenant_id: str, event_type: EventType, summary: Mapping[str, Any]) -> WebhookEvent:
    call_id, started = str(summary["call_id"]), str(summary.get("started_at", ""))
    when = summary.get("started_at") if event_type == "call.started" else summary.get("updated_at")
    return WebhookEvent(
        id=event_id(tenant_id, event_type, call_id, started),
        type=event_type,
        created=_instant(when),
        tenant_id=tenant_id,
        data={name: summary[name] for name in CALL_DATA_FIELDS if name in summary},
    )


def _summary(image: Image) -> dict[str, Any]:
    text = _text(image, "summary")
    if text is None:
        return {}
    try:
        parsed = json.loads(text)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


# ---------------------------------------------------------------------------------------------------- scenarios


def _scenario_events(
    tenant_id: str, record: Mapping[str, Any], old_image: Image, new_image: Image
) -> list[WebhookEvent]:
    new_version, old_version = _number(new_image, "published_version"), _number(old_image, "published_version")
    if new_version is None or new_version == old_version:
        return []
    scenario_id = (_text(new_image, "SK") or "").removeprefix(SCENARIO_PREFIX)
    latest = _number(new_image, "latest_version")
    sequence = str((record.get("dynamodb") or {}).get("SequenceNumber", ""))
    return [
        WebhookEvent(
            id=event_id(tenant_id, "scenario.published", scenario_id, str(new_version), sequence),
            type="scenario.published",
            created=_instant((record.get("dynamodb") or {}).get("ApproximateCreationDateTime")),
            tenant_id=tenant_id,
            data={
                "scenario_id": scenario_id,
                "version": new_version,
                "previous_version": old_version,
                "rollback": latest is not None and new_version < latest,
            },
        )
    ]


Mapper = Callable[[str, Mapping[str, Any], Image, Image], list[WebhookEvent]]
_ITEM_MAPPERS: Mapping[str, Mapper] = {CALL_PREFIX: _call_events, SCENARIO_PREFIX: _scenario_events}


# ---------------------------------------------------------------------------------------------------- attributes


def _text(image: Image, name: str) -> str | None:
    value = image.get(name)
    return value.get("S") if isinstance(value, Mapping) and isinstance(value.get("S"), str) else None


def _number(image: Image, name: str) -> int | None:
    value = image.get(name)
    text = value.get("N") if isinstance(value, Mapping) else None
    try:
        return int(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _instant(value: Any) -> datetime:
    """A summary's ISO time, a stream record's epoch seconds (Lambda) or datetime (boto3); now when absent."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return datetime.now(UTC)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.now(UTC)
