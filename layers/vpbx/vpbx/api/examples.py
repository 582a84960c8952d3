"""Request and response bodies of the README walk-through, by operationId, for the OpenAPI document (Swagger UI).

Only vpbx.api.openapi imports this module (when it builds the document), so no Lambda function loads it at cold start.

Responses were captured from the API running the walk-through (timestamps and secrets replaced); the lint step
(`make contract`: redocly, spectral) checks every example against its schema, so they cannot drift silently.
"""

from typing import Any

# ------------------------------------------------------------------------------------------------ responses

SUBSCRIBER: dict[str, Any] = {
    "extension": "101",
    "name": "Anna Petrova",
    "kind": "internal",
    "target": None,
    "sip_uri": None,
    "dial_delay_seconds": None,
    "enabled": True,
    "version": 1,
    "created_at": "2026-11-23T09:00:00Z",
    "updated_at": "2026-11-23T09:00:00Z",
    "effective_dial_delay_seconds": 0,
}

SUBSCRIBER_PAGE: dict[str, Any] = {
    "items": [
        {
            "extension": "101",
            "name": "Anna Petrova",
            "kind": "internal",
            "target": None,
            "sip_uri": None,
            "dial_delay_seconds": None,
            "enabled": True,
            "version": 1,
            "created_at": "2026-11-23T09:00:00Z",
            "updated_at": "2026-11-23T09:00:00Z",
            "effective_dial_delay_seconds": 0,
        }
    ],
    "next_cursor": "eyJrIjp7IlBLIjoiVEVOQU5UI2RlbW8iLCJTSyI6IlNVQiMxMDEifSwidCI6ImRlbW8ifQ",
}

SCHEDULE: dict[str, Any] = {
    "id": "office",
    "name": "Office hours",
    "timezone": "Europe/Moscow",
    "weekly": {
        "mon": ["09:00-18:00"],
        "tue": ["09:00-18:00"],
        "wed": ["09:00-18:00"],
        "thu": ["09:00-18:00"],
        "fri": ["09:00-18:00"],
    },
    "holidays": {"country": "RU", "subdivision": None},
    "overrides": [],
    "version": 1,
    "created_at": "2026-11-23T09:02:00Z",
    "updated_at": "2026-11-23T09:02:00Z",
}

NUMBER: dict[str, Any] = {
    "number": "+74951234567",
    "scenario_id": "main",
    "label": None,
    "version": 1,
    "created_at": "2026-11-23T09:07:00Z",
    "updated_at": "2026-11-23T09:07:00Z",
}

CALLER_LIST: dict[str, Any] = {
    "id": "vip",
    "name": "VIP clients",
    "patterns": [{"kind": "exact", "value": "+79161234567"}, {"kind": "prefix", "value": "+7495"}],
    "version": 1,
    "created_at": "2026-11-23T09:08:00Z",
    "updated_at": "2026-11-23T09:08:00Z",
}

QUEUE: dict[str, Any] = {
    "id": "support",
    "name": "Support line",
    "members": [{"extension": "101", "priority": 0}, {"extension": "102", "priority": 1}],
    "strategy": "least_recent",
    "member_ring_seconds": 20,
    "max_wait_seconds": 300,
    "wrapup_seconds": 10,
    "max_waiting": 20,
    "poll_seconds": 10,
    "hold_prompt": {"text": "All our agents are busy; please hold.", "voice": None, "audio_url": None},
    "announcements": {"enabled": True, "every_seconds": 60, "include_estimated_wait": True},
    "version": 1,
    "created_at": "2026-11-23T09:09:00Z",
    "updated_at": "2026-11-23T09:09:00Z",
}

SCENARIO: dict[str, Any] = {
    "name": "Main line",
    "description": None,
    "elements": [
        {"id": "start", "position": None, "label": None, "type": "incoming_call"},
        {
            "id": "mgr",
            "position": None,
            "label": None,
            "limit_wait": True,
            "wait_seconds": 20,
            "type": "internal_subscriber",
            "extension": "101",
        },
        {
            "id": "sales",
            "position": None,
            "label": None,
            "limit_wait": False,
            "wait_seconds": None,
            "type": "internal_subscriber",
            "extension": "102",
        },
    ],
    "connections": [{"from": "start", "to": "mgr", "exit": None}, {"from": "mgr", "to": "sales", "exit": "no_answer"}],
    "version": 1,
    "created_at": "2026-11-23T09:03:00Z",
    "updated_at": "2026-11-23T09:03:00Z",
    "id": "main",
    "published_version": None,
    "latest_version": 0,
    "validation": {"ok": True, "error_count": 0, "warning_count": 0, "problems": []},
}

SCENARIO_PAGE: dict[str, Any] = {
    "items": [
        {
            "version": 2,
            "created_at": "2026-11-23T09:03:00Z",
            "updated_at": "2026-11-23T09:05:00Z",
            "id": "main",
            "name": "Main line",
            "description": None,
            "element_count": 5,
            "published_version": 1,
            "latest_version": 2,
        }
    ],
    "next_cursor": None,
}

VALIDATION: dict[str, Any] = {
    "ok": True,
    "error_count": 0,
    "warning_count": 0,
    "problems": [],
    "scenario_id": "main",
    "version": 1,
}

VERSION: dict[str, Any] = {
    "scenario_id": "main",
    "version": 1,
    "name": "Main line",
    "element_count": 3,
    "published_at": "2026-11-23T09:04:00Z",
    "published_by": "k0123456789abcdef",
    "current": True,
    "scenario": {
        "name": "Main line",
        "description": None,
        "elements": [
            {"id": "start", "position": None, "label": None, "type": "incoming_call"},
            {
                "id": "mgr",
                "position": None,
                "label": None,
                "limit_wait": True,
                "wait_seconds": 20,
                "type": "internal_subscriber",
                "extension": "101",
            },
            {
                "id": "sales",
                "position": None,
                "label": None,
                "limit_wait": False,
                "wait_seconds": None,
                "type": "internal_subscriber",
                "extension": "102",
            },
        ],
        "connections": [
            {"from": "start", "to": "mgr", "exit": None},
            {"from": "mgr", "to": "sales", "exit": "no_answer"},
        ],
    },
    "directory": {
        "subscribers": [
            {
                "extension": "101",
                "name": "Anna Petrova",
                "kind": "internal",
                "target": None,
                "sip_uri": None,
                "dial_delay_seconds": None,
                "enabled": True,
            },
            {
                "extension": "102",
                "name": "Boris Sokolov",
                "kind": "internal",
                "target": None,
                "sip_uri": None,
                "dial_delay_seconds": None,
                "enabled": True,
            },
        ],
        "schedules": [],
        "caller_lists": [],
    },
}

VERSION_PAGE: dict[str, Any] = {
    "items": [
        {
            "scenario_id": "main",
            "version": 2,
            "name": "Main line",
            "element_count": 5,
            "published_at": "2026-11-23T09:06:00Z",
            "published_by": "k0123456789abcdef",
            "current": True,
        },
        {
            "scenario_id": "main",
            "version": 1,
            "name": "Main line",
            "element_count": 3,
            "published_at": "2026-11-23T09:04:00Z",
            "published_by": "k0123456789abcdef",
            "current": False,
        },
    ],
    "next_cursor": None,
}

ROLLED_BACK: dict[str, Any] = {
    "name": "Main line",
    "description": None,
    "elements": [
        {"id": "start", "position": None, "label": None, "type": "incoming_call"},
        {"id": "hours", "position": None, "label": None, "type": "schedule", "schedule_id": "office"},
        {
            "id": "mgr",
            "position": None,
            "label": None,
            "limit_wait": True,
            "wait_seconds": 20,
            "type": "internal_subscriber",
            "extension": "101",
        },
        {
            "id": "sales",
            "position": None,
            "label": None,
            "limit_wait": False,
            "wait_seconds": None,
            "type": "internal_subscriber",
            "extension": "102",
        },
        {"id": "vm", "position": None, "label": None, "type": "voicemail", "mailbox": "101"},
    ],
    "connections": [
        {"from": "start", "to": "hours", "exit": None},
        {"from": "hours", "to": "mgr", "exit": "open"},
        {"from": "hours", "to": "vm", "exit": "closed"},
        {"from": "mgr", "to": "sales", "exit": "no_answer"},
    ],
    "version": 2,
    "created_at": "2026-11-23T09:03:00Z",
    "updated_at": "2026-11-23T09:05:00Z",
    "id": "main",
    "published_version": 1,
    "latest_version": 2,
    "validation": {"ok": True, "error_count": 0, "warning_count": 0, "problems": []},
}

SIMULATION: dict[str, Any] = {
    "scenario_id": "main",
    "version": 2,
    "at": "2026-11-23T10:00:00+03:00",
    "caller": None,
    "steps": [
        {
            "seq": 1,
            "element_id": "start",
            "element_type": "incoming_call",
            "action": None,
            "outcome": None,
            "exit": "next",
        },
        {"seq": 1, "element_id": "hours", "element_type": "schedule", "action": None, "outcome": None, "exit": "open"},
        {
            "seq": 1,
            "element_id": "mgr",
            "element_type": "internal_subscriber",
            "action": {
                "type": "ring",
                "targets": [{"extension": "101", "uri": None, "number": None, "dial_delay_seconds": 0}],
                "strategy": "single",
                "timeout_seconds": 20,
            },
            "outcome": "no_answer",
            "exit": "no_answer",
        },
        {
            "seq": 2,
            "element_id": "sales",
            "element_type": "internal_subscriber",
            "action": {
                "type": "ring",
                "targets": [{"extension": "102", "uri": None, "number": None, "dial_delay_seconds": 0}],
                "strategy": "single",
                "timeout_seconds": None,
            },
            "outcome": "no_answer",
            "exit": None,
        },
    ],
    "result": {"status": "hangup", "element_id": "sales", "reason": "unanswered"},
    "path": ["start", "hours", "mgr", "sales"],
}

DIAGRAM: dict[str, Any] = {
    "scenario_id": "main",
    "version": 2,
    "mermaid": "flowchart TD\n"
    '    n_start(["start<br/>Incoming call"])\n'
    '    n_hours{"hours<br/>Schedule office"}\n'
    '    n_mgr["mgr<br/>Subscriber 101 (20 s)"]\n'
    '    n_sales["sales<br/>Subscriber 102 (no limit)"]\n'
    '    n_vm[["vm<br/>Voicemail 101"]]\n'
    '    n_start -->|"next"| n_hours\n'
    '    n_hours -->|"open"| n_mgr\n'
    '    n_hours -->|"closed"| n_vm\n'
    '    n_mgr -->|"no_answer"| n_sales\n'
    "    classDef visited fill:#fde68a,stroke:#b45309,stroke-width:3px\n"
    "    class n_start,n_hours,n_vm visited\n"
    "    linkStyle 0,2 stroke:#b45309,stroke-width:3px\n",
    "highlight": ["start", "hours", "vm"],
}

FIRST_DECISION: dict[str, Any] = {
    "call_id": "call-1",
    "seq": 1,
    "action": {
        "type": "ring",
        "targets": [{"extension": "101", "uri": None, "number": None, "dial_delay_seconds": 0}],
        "strategy": "single",
        "timeout_seconds": 20,
    },
    "status": "in_progress",
}

NEXT_DECISION: dict[str, Any] = {
    "call_id": "call-1",
    "seq": 2,
    "action": {
        "type": "ring",
        "targets": [{"extension": "102", "uri": None, "number": None, "dial_delay_seconds": 0}],
        "strategy": "single",
        "timeout_seconds": None,
    },
    "status": "in_progress",
}

CONNECTED_DECISION: dict[str, Any] = {"call_id": "call-1", "seq": 3, "action": None, "status": "connected"}

CALL: dict[str, Any] = {
    "call_id": "call-1",
    "from": "+79161234567",
    "to": "+74951234567",
    "scenario_id": "main",
    "version": 1,
    "status": "connected",
    "result": "connected",
    "seq": 3,
    "started_at": "2026-11-23T09:11:00Z",
    "updated_at": "2026-11-23T09:12:00Z",
    "expires_at": "2027-02-21T09:12:00Z",
    "answered_extension": "102",
    "answered_at": "2026-11-23T09:12:00Z",
    "ended_at": None,
    "duration_seconds": None,
    "ended_by": None,
    "path": ["start", "mgr", "sales"],
    "action": None,
    "trace": [
        {
            "seq": 1,
            "element_id": "start",
            "element_type": "incoming_call",
            "action": None,
            "outcome": None,
            "exit": "next",
            "detail": None,
            "at": "2026-11-23T09:14:00Z",
        },
        {
            "seq": 1,
            "element_id": "mgr",
            "element_type": "internal_subscriber",
            "action": {
                "type": "ring",
                "targets": [{"extension": "101", "uri": None, "number": None, "dial_delay_seconds": 0}],
                "strategy": "single",
                "timeout_seconds": 20,
            },
            "outcome": None,
            "exit": None,
            "detail": None,
            "at": "2026-11-23T09:14:00Z",
        },
        {
            "seq": 2,
            "element_id": "mgr",
            "element_type": "internal_subscriber",
            "action": None,
            "outcome": "no_answer",
            "exit": "no_answer",
            "detail": None,
            "at": "2026-11-23T09:15:00Z",
        },
        {
            "seq": 2,
            "element_id": "sales",
            "element_type": "internal_subscriber",
            "action": {
                "type": "ring",
                "targets": [{"extension": "102", "uri": None, "number": None, "dial_delay_seconds": 0}],
                "strategy": "single",
                "timeout_seconds": None,
            },
            "outcome": None,
            "exit": None,
            "detail": None,
            "at": "2026-11-23T09:15:00Z",
        },
        {
            "seq": 3,
            "element_id": "sales",
            "element_type": "internal_subscriber",
            "action": None,
            "outcome": "answered",
            "exit": None,
            "detail": None,
            "at": "2026-11-23T09:12:00Z",
        },
    ],
}

CALL_PAGE: dict[str, Any] = {
    "items": [
        {
            "call_id": "call-2",
            "from": "+79031234567",
            "to": "+74951234567",
            "scenario_id": "main",
            "version": 1,
            "status": "ended",
            "result": "missed",
            "seq": 3,
            "started_at": "2026-11-23T09:20:00Z",
            "updated_at": "2026-11-23T09:20:50Z",
            "expires_at": "2027-02-21T09:20:50Z",
            "answered_extension": None,
            "answered_at": None,
            "ended_at": "2026-11-23T09:20:50Z",
            "duration_seconds": None,
            "ended_by": None,
            "path": ["start", "mgr", "sales"],
        },
        {
            "call_id": "call-1",
            "from": "+79161234567",
            "to": "+74951234567",
            "scenario_id": "main",
            "version": 1,
            "status": "ended",
            "result": "completed",
            "seq": 4,
            "started_at": "2026-11-23T09:11:00Z",
            "updated_at": "2026-11-23T09:14:05Z",
            "expires_at": "2027-02-21T09:14:05Z",
            "answered_extension": "102",
            "answered_at": "2026-11-23T09:12:00Z",
            "ended_at": "2026-11-23T09:14:05Z",
            "duration_seconds": 125,
            "ended_by": "caller",
            "path": ["start", "mgr", "sales"],
        },
    ],
    "next_cursor": None,
}

SCENARIO_STATS: dict[str, Any] = {
    "scenario_id": "main",
    "since": "2026-11-22",
    "until": "2026-11-23",
    "calls": 2,
    "results": {"connected": 1, "completed": 1, "missed": 1},
    "answer_rate": 0.5,
    "average_wait_seconds": 60.0,
    "average_talk_seconds": 125.0,
    "elements": [
        {
            "element_id": "mgr",
            "visits": 2,
            "exits": {"no_answer": 2},
            "ended_here": 0,
            "ring": {"offered": 2, "answered": 0, "answer_rate": 0.0, "average_wait_seconds": None},
        },
        {
            "element_id": "sales",
            "visits": 2,
            "exits": {},
            "ended_here": 2,
            "ring": {"offered": 2, "answered": 1, "answer_rate": 0.5, "average_wait_seconds": 60.0},
        },
        {"element_id": "start", "visits": 2, "exits": {"next": 2}, "ended_here": 0, "ring": None},
    ],
    "days": [
        {"date": "2026-11-22", "calls": 0, "results": {}},
        {"date": "2026-11-23", "calls": 2, "results": {"connected": 1, "completed": 1, "missed": 1}},
    ],
}

TENANT_CREATED: dict[str, Any] = {
    "id": "acme",
    "name": "Acme Ltd",
    "sip_domain": "acme.sip.example.com",
    "crm_url": None,
    "default_country": "RU",
    "call_history_days": 90,
    "created_at": "2026-11-23T09:16:00Z",
    "version": 1,
    "admin_key": {
        "id": "kdc2ff32bcca53116",
        "tenant_id": "acme",
        "role": "admin",
        "name": "first admin key",
        "prefix": "vpbx_exampl",
        "created_at": "2026-11-23T09:16:00Z",
        "revoked_at": None,
        "status": "active",
        "secret": "vpbx_example_secret_shown_only_once_0000000000",
    },
}

TENANT: dict[str, Any] = {
    "id": "demo",
    "name": "Demo Company",
    "sip_domain": "pbx.demo.local",
    "crm_url": None,
    "default_country": "RU",
    "call_history_days": 90,
    "created_at": "2026-11-23T09:10:00Z",
    "version": 1,
}

KEY_CREATED: dict[str, Any] = {
    "id": "kf063c9e31b6ef6ff",
    "tenant_id": "demo",
    "role": "telephony",
    "name": "switch",
    "prefix": "vpbx_exampl",
    "created_at": "2026-11-23T09:09:00Z",
    "revoked_at": None,
    "status": "active",
    "secret": "vpbx_example_secret_shown_only_once_0000000000",
}

KEY_PAGE: dict[str, Any] = {
    "items": [
        {
            "id": "k9a93a55966fde31b",
            "tenant_id": "demo",
            "role": "admin",
            "name": "first admin key",
            "prefix": "vpbx_exampl",
            "created_at": "2026-11-23T09:10:00Z",
            "revoked_at": None,
            "status": "active",
        },
        {
            "id": "kf063c9e31b6ef6ff",
            "tenant_id": "demo",
            "role": "telephony",
            "name": "switch",
            "prefix": "vpbx_exampl",
            "created_at": "2026-11-23T09:09:00Z",
            "revoked_at": None,
            "status": "active",
        },
    ],
    "next_cursor": None,
}
# ------------------------------------------------------------------------------------------------ requests

ANNA = {"extension": "101", "name": "Anna Petrova"}
OFFICE_HOURS: dict[str, Any] = {
    "id": "office",
    "name": "Office hours",
    "timezone": "Europe/Moscow",
    "holidays": {"country": "RU"},
    "weekly": {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
}
SEED_SCENARIO = {
    "id": "main",
    "name": "Main line",
    "elements": [
        {"id": "start", "type": "incoming_call"},
        {"id": "mgr", "type": "internal_subscriber", "extension": "101", "limit_wait": True, "wait_seconds": 20},
        {"id": "sales", "type": "internal_subscriber", "extension": "102"},
    ],
    "connections": [{"from": "start", "to": "mgr"}, {"from": "mgr", "exit": "no_answer", "to": "sales"}],
}
MAIN_LINE = {
    "name": "Main line",
    "elements": [
        {"id": "start", "type": "incoming_call"},
        {"id": "hours", "type": "schedule", "schedule_id": "office"},
        {"id": "mgr", "type": "internal_subscriber", "extension": "101", "limit_wait": True, "wait_seconds": 20},
        {"id": "sales", "type": "internal_subscriber", "extension": "102"},
        {"id": "vm", "type": "voicemail", "mailbox": "101"},
    ],
    "connections": [
        {"from": "start", "to": "hours"},
        {"from": "hours", "exit": "open", "to": "mgr"},
        {"from": "hours", "exit": "closed", "to": "vm"},
        {"from": "mgr", "exit": "no_answer", "to": "sales"},
    ],
}


def example(summary: str, value: Any) -> dict[str, Any]:
    return {"summary": summary, "value": value}


SUBSCRIBER_CREATE = {
    "internal": example("An employee's SIP phone (walk-through step 1)", ANNA),
    "mobile": example(
        "A mobile subscriber: rings wait for the network's dial delay",
        {"extension": "201", "name": "Field engineer", "kind": "mobile", "target": "+79161234567"},
    ),
}
SUBSCRIBER_REPLACE = {"rename": example("Rename, keep the rest", {"name": "Anna Petrova-Smirnova"})}
NUMBER_CREATE = {
    "main": example("Route a DID to scenario main (step 9)", {"number": "+74951234567", "scenario_id": "main"})
}
NUMBER_REPLACE = {"relabel": example("Label the number", {"scenario_id": "main", "label": "Moscow office"})}
SCHEDULE_CREATE = {"office": example("Weekdays 09:00–18:00 Moscow, closed on Russian holidays (step 2)", OFFICE_HOURS)}
SCHEDULE_REPLACE = {
    "office": example(
        "Longer Friday",
        {
            **{k: v for k, v in OFFICE_HOURS.items() if k != "id"},
            "weekly": {**OFFICE_HOURS["weekly"], "fri": ["09:00-20:00"]},
        },
    )
}
CALLER_LIST_CREATE = {
    "vip": example(
        "Known callers by exact number and prefix",
        {"id": "vip", "name": "VIP clients", "patterns": CALLER_LIST["patterns"]},
    )
}
CALLER_LIST_REPLACE = {
    "vip": example("Match by country", {"name": "VIP clients", "patterns": [{"kind": "country", "value": "RU"}]})
}
QUEUE_BODY: dict[str, Any] = {
    "name": QUEUE["name"],
    "members": QUEUE["members"],
    "strategy": QUEUE["strategy"],
    "hold_prompt": {"text": QUEUE["hold_prompt"]["text"]},
    "announcements": {"enabled": True},
}
QUEUE_CREATE = {
    "support": example(
        "101 first, then 102; the longest idle agent gets the next caller", {"id": "support", **QUEUE_BODY}
    )
}
QUEUE_REPLACE = {
    "ring_all": example(
        "Ring every free agent at once; at most 10 callers in line",
        {**QUEUE_BODY, "strategy": "ring_all", "max_waiting": 10},
    )
}
SCENARIO_CREATE = {"seed": example("Ring 101 for 20 s, then 102 (step 3)", SEED_SCENARIO)}
SCENARIO_REPLACE = {"office_hours": example("Check office hours first, voicemail after hours (step 5)", MAIN_LINE)}
PREVIEW: dict[str, Any] = {
    "scenario_id": "main",
    "from_version": 1,
    "to_version": None,
    "changed": True,
    "text": "1 behavioural change(s) (3 situations):\n"
    "  - Mon 2026-11-23 00:00–09:00; Mon–Thu 18:00–09:00 (next day); Fri 2026-11-27 18:00–2026-11-29 "
    "24:00, any caller: was ring 101 (20 s) → ring 102 (until answered) → hang up (unanswered) (or "
    "answered at a ring), now voicemail 101\n"
    "Worst-case waits:\n"
    "  - voicemail 'vm': no route end → at most 0 s\n"
    "Explored 7 days from 2026-11-23: 2 time class(es) × 1 caller class(es) × 1 CRM answer(s), 20 runs",
    "diff": {
        "changed": True,
        "statements": [
            {
                "text": "Mon 2026-11-23 00:00–09:00; Mon–Thu 18:00–09:00 (next day); Fri "
                "2026-11-27 18:00–2026-11-29 24:00, any caller: was ring 101 (20 s) → ring "
                "102 (until answered) → hang up (unanswered) (or answered at a ring), now "
                "voicemail 101",
                "when": "Mon 2026-11-23 00:00–09:00; Mon–Thu 18:00–09:00 (next day); Fri "
                "2026-11-27 18:00–2026-11-29 24:00",
                "callers": ["any caller"],
                "was": "ring 101 (20 s) → ring 102 (until answered) → hang up (unanswered) (or answered at a ring)",
                "now": "voicemail 101",
                "situations": 3,
            }
        ],
        "situations": [
            {
                "when": "Mon 2026-11-23 00:00–09:00; Mon–Thu 18:00–09:00 (next day); Fri "
                "2026-11-27 18:00–2026-11-29 24:00",
                "windows": [
                    {"start": "2026-11-23T00:00:00+03:00", "end": "2026-11-23T09:00:00+03:00"},
                    {"start": "2026-11-23T18:00:00+03:00", "end": "2026-11-24T09:00:00+03:00"},
                    {"start": "2026-11-24T18:00:00+03:00", "end": "2026-11-25T09:00:00+03:00"},
                    {"start": "2026-11-25T18:00:00+03:00", "end": "2026-11-26T09:00:00+03:00"},
                    {"start": "2026-11-26T18:00:00+03:00", "end": "2026-11-27T09:00:00+03:00"},
                    {"start": "2026-11-27T18:00:00+03:00", "end": "2026-11-30T00:00:00+03:00"},
                ],
                "caller": "any caller",
                "caller_number": None,
                "crm": None,
                "outcomes": {"mgr": ["answered"]},
                "was": "ring 101 (20 s) → answered",
                "now": "voicemail 101",
            }
        ],
        "situation_count": 3,
        "wait_changes": [
            {
                "element_id": "vm",
                "exit": None,
                "was_seconds": None,
                "now_seconds": 0.0,
                "was_bounded": False,
                "now_bounded": True,
                "text": "voicemail 'vm': no route end → at most 0 s",
            }
        ],
        "bounds": {
            "days": 7,
            "start": "2026-11-23T00:00:00+03:00",
            "time_classes": 2,
            "caller_classes": 1,
            "crm_classes": 1,
            "runs": 20,
            "truncated": False,
            "unexplored": [],
            "limits": {"max_days": 62, "max_decisions_per_call": 12, "max_outcomes_per_element": 3, "max_runs": 40000},
        },
    },
    "mermaid": "flowchart TD\n"
    '    n_start(["start<br/>Incoming call"])\n'
    '    n_mgr["mgr<br/>Subscriber 101 (20 s)"]\n'
    '    n_sales["sales<br/>Subscriber 102 (no limit)"]\n'
    '    n_hours{"hours<br/>Schedule office"}\n'
    '    n_vm[["vm<br/>Voicemail 101"]]\n'
    '    n_start -->|"next"| n_hours\n'
    '    n_hours -->|"open"| n_mgr\n'
    '    n_hours -->|"closed"| n_vm\n'
    '    n_mgr -->|"no_answer"| n_sales\n'
    '    n_start -->|"next"| n_mgr\n'
    "    classDef added fill:#dcfce7,stroke:#15803d,stroke-width:2px\n"
    "    class n_hours,n_vm added\n"
    "    linkStyle 0,1,2 stroke:#15803d,stroke-width:3px\n"
    "    linkStyle 4 stroke:#b91c1c,stroke-width:2px,stroke-dasharray:4\n",
}

ANALYSIS: dict[str, Any] = {
    "scenario_id": "main",
    "version": 2,
    "analysis": {
        "entry": "start",
        "route_ends": [
            {
                "element_id": "sales",
                "element_type": "internal_subscriber",
                "exit": None,
                "worst_case_seconds": 20.0,
                "path": ["start", "hours", "mgr", "sales"],
                "loop_elements": [],
                "rings_until_answered": True,
                "loop_guard": False,
            },
            {
                "element_id": "vm",
                "element_type": "voicemail",
                "exit": None,
                "worst_case_seconds": 0.0,
                "path": ["start", "hours", "vm"],
                "loop_elements": [],
                "rings_until_answered": False,
                "loop_guard": False,
            },
        ],
        "worst_case_seconds": 20.0,
        "unbounded": False,
        "loops": [],
        "schedules": [
            {"element_id": "hours", "schedule_id": "office", "open_extensions": ["101", "102"], "closed_extensions": []}
        ],
        "reachable_extensions": ["101", "102"],
        "reachable_when_open": ["101", "102"],
        "reachable_when_closed": [],
        "crm_routing": False,
        "direct_dial": False,
        "assumptions": [
            "Nobody answers: every ring lasts its full wait_seconds plus the target's network dial delay.",
            "Sequential and random groups ring every member in turn; simultaneous groups wait for the slowest network.",
            "IVR menus time out on every attempt: timeout_seconds × (max_retries + 1); "
            "prompt playback is not counted. A multi-key attempt also waits "
            "inter_digit_timeout_seconds per further key; a direct dial rings for "
            "direct_dial_wait_seconds plus the directory's slowest dial delay.",
            "A greeting takes a nominal 5 s.",
            "External routing takes its full CRM timeout, then rings the returned "
            "extension with the directory's slowest dial delay.",
            "A limited ring without wait_seconds lasts the executor's default 20 s.",
        ],
    },
    "dial_delay_warnings": [],
    "text": "Worst-case wait before the call is answered or the route ends (nobody answers):\n"
    "  - internal_subscriber 'sales' starts ringing after at most 20 s and rings until answered (no "
    "limit_wait); path start → hours → mgr → sales\n"
    "  - voicemail 'vm' reached after at most 0 s; path start → hours → vm\n"
    "Overall: at most 20 s before answer or route end\n"
    "Schedule 'hours' (office): open → 101, 102; closed → none\n"
    "All schedules open: 101, 102\n"
    "All schedules closed: none\n"
    "Assumptions:\n"
    "  - Nobody answers: every ring lasts its full wait_seconds plus the target's network dial delay.\n"
    "  - Sequential and random groups ring every member in turn; simultaneous groups wait for the "
    "slowest network.\n"
    "  - IVR menus time out on every attempt: timeout_seconds × (max_retries + 1); prompt playback is "
    "not counted. A multi-key attempt also waits inter_digit_timeout_seconds per further key; a direct "
    "dial rings for direct_dial_wait_seconds plus the directory's slowest dial delay.\n"
    "  - A greeting takes a nominal 5 s.\n"
    "  - External routing takes its full CRM timeout, then rings the returned extension with the "
    "directory's slowest dial delay.\n"
    "  - A limited ring without wait_seconds lasts the executor's default 20 s.",
}

PREVIEW_REQUEST = {
    "week": example(
        "The draft against the version calls use now, a week from Monday",
        {"at": "2026-11-23T10:00:00+03:00", "days": 7},
    ),
    "versions": example("Version 1 against version 2", {"from_version": 1, "to_version": 2}),
}
SIMULATE = {
    "busy_manager": example(
        "Monday 10:00 Moscow, 101 does not answer (step 6)",
        {"version": 2, "at": "2026-11-23T10:00:00+03:00", "outcomes": {"mgr": "no_answer"}},
    ),
    "after_hours": example("Monday 20:00 Moscow: voicemail", {"version": 2, "at": "2026-11-23T20:00:00+03:00"}),
}
ROLLBACK = {"to_v1": example("Calls go back to version 1 (step 8)", {"version": 1})}
CALL_START = {
    "call": example(
        "A call to +74951234567 (step 10)", {"call_id": "call-1", "from": "+79161234567", "to": "+74951234567"}
    )
}
CALL_EVENT = {
    "no_answer": example("101 did not answer", {"seq": 1, "outcome": "no_answer"}),
    "answered": example("102 answered", {"seq": 2, "outcome": "answered"}),
    "digits": example("The caller pressed 1 in a menu", {"seq": 3, "outcome": "digits", "digits": "1"}),
    "answered_by": example("102 of the ringing group answered", {"seq": 2, "outcome": "answered", "extension": "102"}),
    "completed": example(
        "The connected call ended: 125 s of talk, the caller hung up",
        {"seq": 3, "outcome": "completed", "duration_seconds": 125, "ended_by": "caller"},
    ),
}
TENANT_CREATE = {
    "acme": example(
        "A tenant with its SIP domain and country",
        {"id": "acme", "name": "Acme Ltd", "sip_domain": "acme.sip.example.com", "default_country": "RU"},
    )
}
TENANT_SETTINGS = {
    "demo": example(
        "The demo company's SIP domain, CRM and country (If-Match from GET)",
        {
            "name": "Demo Company",
            "sip_domain": "pbx.demo.example",
            "crm_url": "https://crm.demo.example/vpbx/route",
            "default_country": "RU",
            "call_history_days": 90,
        },
    )
}
KEY_CREATE = {
    "telephony": example("A key for the switch (step 9)", {"role": "telephony", "name": "switch"}),
    "viewer": example("A read-only key for a dashboard", {"role": "viewer", "name": "wallboard"}),
}


# ------------------------------------------------------------------------------------------------ by operation

WEBHOOK_BODY: dict[str, Any] = {
    "url": "https://crm.example.com/vpbx/events",
    "events": ["call.answered", "call.completed", "call.missed"],
    "enabled": True,
    "description": "CRM call cards",
}
WEBHOOK: dict[str, Any] = {
    "version": 1,
    "created_at": "2026-11-23T09:20:00Z",
    "updated_at": "2026-11-23T09:20:00Z",
    "id": "wh-3f9c2a7b1d04",
    **WEBHOOK_BODY,
}
WEBHOOK_CREATED: dict[str, Any] = {**WEBHOOK, "secret": "whsec_<shown once: store it in your receiver>"}
DELIVERY: dict[str, Any] = {
    "event_id": "evt_5c1f0e8a9b2d4c6e8f0a1b2c3d4e5f60",
    "event_type": "call.answered",
    "state": "retrying",
    "attempts": 2,
    "created_at": "2026-11-23T09:31:05Z",
    "last_attempt_at": "2026-11-23T09:32:06Z",
    "last_status_code": 503,
    "last_error": "HTTP 503",
    "next_attempt_at": "2026-11-23T09:35:06Z",
}

REQUEST_EXAMPLES: dict[str, dict[str, dict[str, Any]]] = {
    "createTenant": TENANT_CREATE,
    "replaceTenant": TENANT_SETTINGS,
    "createKey": KEY_CREATE,
    "createSubscriber": SUBSCRIBER_CREATE,
    "replaceSubscriber": SUBSCRIBER_REPLACE,
    "createNumber": NUMBER_CREATE,
    "replaceNumber": NUMBER_REPLACE,
    "createSchedule": SCHEDULE_CREATE,
    "replaceSchedule": SCHEDULE_REPLACE,
    "createCallerList": CALLER_LIST_CREATE,
    "replaceCallerList": CALLER_LIST_REPLACE,
    "createQueue": QUEUE_CREATE,
    "replaceQueue": QUEUE_REPLACE,
    "createScenario": SCENARIO_CREATE,
    "replaceScenario": SCENARIO_REPLACE,
    "rollbackScenario": ROLLBACK,
    "simulateScenario": SIMULATE,
    "previewScenario": PREVIEW_REQUEST,
    "startCall": CALL_START,
    "reportCallEvent": CALL_EVENT,
    "createWebhook": {"crm": example("Answered, completed and missed calls to the CRM", WEBHOOK_BODY)},
    "replaceWebhook": {"pause": example("Pause deliveries", {**WEBHOOK_BODY, "enabled": False})},
}
"""Request body examples of each operation (Swagger UI fills the body with the first)."""

RESPONSE_EXAMPLES: dict[str, dict[str, Any]] = {
    "createTenant": TENANT_CREATED,
    "getTenant": TENANT,
    "replaceTenant": {
        **TENANT,
        "sip_domain": "pbx.demo.example",
        "crm_url": "https://crm.demo.example/vpbx/route",
        "version": 2,
    },
    "listKeys": KEY_PAGE,
    "createKey": KEY_CREATED,
    "listSubscribers": SUBSCRIBER_PAGE,
    "createSubscriber": SUBSCRIBER,
    "getSubscriber": SUBSCRIBER,
    "replaceSubscriber": {**SUBSCRIBER, "version": 2},
    "createNumber": NUMBER,
    "getNumber": NUMBER,
    "replaceNumber": {**NUMBER, "version": 2},
    "createSchedule": SCHEDULE,
    "getSchedule": SCHEDULE,
    "getScheduleStatus": {
        "open": False,
        "reason": "holiday",
        "detail": "holiday: Unity Day",
        "local_time": "2026-11-04T10:00:00+03:00",
        "schedule_id": "office",
        "at": "2026-11-04T10:00:00+03:00",
    },
    "replaceSchedule": {**SCHEDULE, "version": 2},
    "createCallerList": CALLER_LIST,
    "getCallerList": CALLER_LIST,
    "replaceCallerList": {**CALLER_LIST, "version": 2},
    "listQueues": {"items": [QUEUE], "next_cursor": None},
    "createQueue": QUEUE,
    "getQueue": QUEUE,
    "replaceQueue": {**QUEUE, "strategy": "ring_all", "max_waiting": 10, "version": 2},
    "listScenarios": SCENARIO_PAGE,
    "createScenario": SCENARIO,
    "getScenario": SCENARIO,
    "replaceScenario": {**SCENARIO, "version": 2},
    "validateScenario": VALIDATION,
    "publishScenario": VERSION,
    "listScenarioVersions": VERSION_PAGE,
    "getScenarioVersion": VERSION,
    "rollbackScenario": ROLLED_BACK,
    "simulateScenario": SIMULATION,
    "getScenarioDiagram": DIAGRAM,
    "previewScenario": PREVIEW,
    "getScenarioAnalysis": ANALYSIS,
    "startCall": FIRST_DECISION,
    "reportCallEvent": NEXT_DECISION,
    "listCalls": CALL_PAGE,
    "getCall": CALL,
    "getScenarioStats": SCENARIO_STATS,
    "listWebhooks": {"items": [WEBHOOK], "next_cursor": None},
    "createWebhook": WEBHOOK_CREATED,
    "getWebhook": WEBHOOK,
    "replaceWebhook": {**WEBHOOK, "enabled": False, "version": 2},
    "rotateWebhookSecret": {**WEBHOOK_CREATED, "version": 2},
    "listWebhookDeliveries": {"items": [DELIVERY], "next_cursor": None},
    "testWebhook": {
        **DELIVERY,
        "event_type": "webhook.ping",
        "state": "delivered",
        "attempts": 1,
        "last_status_code": 200,
        "last_error": None,
        "next_attempt_at": None,
    },
}
"""The success body of each operation, as the walk-through got it."""
