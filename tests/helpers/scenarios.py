"""Scenario and directory bodies the suites share, as the API takes them (plain dicts; no pytest needed)."""

from typing import Any

OFFICE_HOURS: dict[str, Any] = {
    "id": "office",
    "name": "Office",
    "timezone": "Europe/Moscow",
    "weekly": {"mon": ["09:00-18:00"]},
}


def seed_scenario(first: str = "101", second: str = "102", name: str = "Seed") -> dict[str, Any]:
    """The seed's element: ring `first` with the wait limited to 20 s; no answer goes to the next element, which
    rings `second` until answered."""
    return {
        "name": name,
        "elements": [
            {"id": "start", "type": "incoming_call"},
            {"id": "mgr", "type": "internal_subscriber", "extension": first, "limit_wait": True, "wait_seconds": 20},
            {"id": "next", "type": "internal_subscriber", "extension": second},
        ],
        "connections": [{"from": "start", "to": "mgr"}, {"from": "mgr", "exit": "no_answer", "to": "next"}],
    }


def main_line(name: str = "Main line") -> dict[str, Any]:
    """Office hours (schedule "office") ring 101 for 20 s, then voicemail 101; outside them, straight to voicemail."""
    return {
        "name": name,
        "elements": [
            {"id": "start", "type": "incoming_call"},
            {"id": "hours", "type": "schedule", "schedule_id": "office"},
            {"id": "mgr", "type": "internal_subscriber", "extension": "101", "limit_wait": True, "wait_seconds": 20},
            {"id": "vm", "type": "voicemail", "mailbox": "101"},
        ],
        "connections": [
            {"from": "start", "to": "hours"},
            {"from": "hours", "exit": "open", "to": "mgr"},
            {"from": "hours", "exit": "closed", "to": "vm"},
            {"from": "mgr", "exit": "no_answer", "to": "vm"},
        ],
    }
