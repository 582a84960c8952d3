"""Queues in tests: request bodies, and a seam that lets a scenario name a queue before any element does.

The `queue` element is built apart from the queue directory object; until it is in the catalogue, a test makes a
scenario name a queue through `naming_queues`: a greeting labelled `queue:<id>` then names queue <id> (its
`references()`), which is all the store's in-use guard, the live resolution and the rollback check read.
"""

from typing import Any

import pytest
from vpbx.domain.elements.base import References
from vpbx.domain.elements.prompts import Greeting

QUEUE_LABEL = "queue:"


def queue_body(queue_id: str | None = "support", members: tuple[str, ...] = ("101", "102"), **fields: Any) -> dict:
    body: dict[str, Any] = {"name": "Support", "members": [{"extension": e} for e in members], **fields}
    if queue_id is not None:
        body["id"] = queue_id
    return body


def naming_queues(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on (for this test), a greeting labelled `queue:<id>` names queue <id>."""
    original = Greeting.references

    def references(self: Greeting) -> References:
        named = original(self)
        if self.label and self.label.startswith(QUEUE_LABEL):
            return named | References(queues=frozenset({self.label.removeprefix(QUEUE_LABEL)}))
        return named

    monkeypatch.setattr(Greeting, "references", references)


def queue_greeting(element_id: str, queue_id: str) -> dict[str, Any]:
    """A greeting element that names `queue_id` under `naming_queues`."""
    return {"id": element_id, "type": "greeting", "label": f"{QUEUE_LABEL}{queue_id}", "prompt": {"text": "Hold on"}}


def queue_scenario(queue_id: str, scenario_id: str | None = "main") -> dict[str, Any]:
    """start → a greeting naming `queue_id` → hang up."""
    body: dict[str, Any] = {
        "name": "Support line",
        "elements": [
            {"id": "start", "type": "incoming_call"},
            queue_greeting("line", queue_id),
            {"id": "bye", "type": "hangup"},
        ],
        "connections": [{"from": "start", "to": "line"}, {"from": "line", "to": "bye"}],
    }
    if scenario_id is not None:
        body["id"] = scenario_id
    return body
