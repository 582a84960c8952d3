"""Builders and helpers the store contract modules share (each module is one port's contract)."""

import base64
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from vpbx.domain.calls import CallInfo, CallState, TraceStep
from vpbx.domain.directory import CallerList, CallerPattern, Schedule, Subscriber
from vpbx.domain.queues import Queue, QueueMember
from vpbx.domain.scenario import Scenario
from vpbx.store.models import (
    ApiKey,
    CallRecord,
    PhoneNumber,
    StoredDecision,
)
from vpbx.store.ports import Repository

A, B = "acme", "globex"
T0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)


# ------------------------------------------------------------------------------------------------------ builders
def scenario(name: str = "main", extension: str = "101", schedule: str | None = None) -> Scenario:
    elements: list[dict[str, Any]] = [
        {"id": "in", "type": "incoming_call"},
        {"id": "ring", "type": "internal_subscriber", "extension": extension, "limit_wait": True, "wait_seconds": 20},
        {"id": "bye", "type": "hangup"},
    ]
    connections = [{"from": "in", "to": "ring"}, {"from": "ring", "to": "bye", "exit": "no_answer"}]
    if schedule:
        elements.append({"id": "hours", "type": "schedule", "schedule_id": schedule})
        connections = [{"from": "in", "to": "hours"}, {"from": "hours", "to": "ring", "exit": "open"}, *connections[1:]]
    return Scenario.model_validate({"name": name, "elements": elements, "connections": connections})


def call_record(call_id: str, started: datetime, dialed: str = "+74951234567", seq: int = 1) -> CallRecord:
    state = CallState(
        call=CallInfo(call_id=call_id, caller="+79161234567", dialed=dialed, started_at=started),
        scenario_id="main",
        version=1,
        seq=seq,
        status="in_progress",
        element_id="ring",
    )
    expires = int((started + timedelta(days=30)).timestamp())
    return CallRecord(
        tenant_id=A,
        state=state,
        last_decision=StoredDecision(seq=seq, action=None, status="in_progress"),
        expires_at=expires,
    )


def with_seq(call: CallRecord, seq: int, steps: int = 0) -> CallRecord:
    trace = [
        TraceStep(seq=seq, element_id=f"e{i}", element_type="greeting", at=call.state.call.started_at)
        for i in range(steps)
    ]
    return call.model_copy(update={"state": call.state.model_copy(update={"seq": seq}), "trace": trace})


def api_key(key_id: str, tenant_id: str = A, key_hash: str | None = None) -> ApiKey:
    return ApiKey(
        id=key_id,
        tenant_id=tenant_id,
        role="admin",
        name=f"key {key_id}",
        key_hash=key_hash or f"hash-{tenant_id}-{key_id}",
        prefix="vpbx_abc",
        created_at=T0,
    )


@dataclass(frozen=True)
class Family:
    """One versioned directory family, seen through the repository's methods for it (create_<one>, list_<many>…)."""

    one: str
    many: str
    make: Callable[[int], Any]
    ident: Callable[[Any], str]
    edit: Callable[[Any], Any]

    def create(self, repository: Repository, tenant_id: str, obj: Any) -> Any:
        return getattr(repository, f"create_{self.one}")(tenant_id, obj)

    def get(self, repository: Repository, tenant_id: str, ident: str) -> Any:
        return getattr(repository, f"get_{self.one}")(tenant_id, ident)

    def list(self, repository: Repository, tenant_id: str, limit: int, cursor: str | None) -> Any:
        return getattr(repository, f"list_{self.many}")(tenant_id, limit, cursor)

    def update(self, repository: Repository, tenant_id: str, obj: Any, expected_version: int) -> Any:
        return getattr(repository, f"update_{self.one}")(tenant_id, obj, expected_version)

    def delete(self, repository: Repository, tenant_id: str, ident: str, expected_version: int) -> None:
        getattr(repository, f"delete_{self.one}")(tenant_id, ident, expected_version)


def renamed(obj: Any) -> Any:
    return obj.model_copy(update={"name": "Renamed"})


FAMILIES = [
    Family(
        "subscriber",
        "subscribers",
        lambda i: Subscriber(extension=str(100 + i), name=f"Employee {i}"),
        lambda s: s.extension,
        renamed,
    ),
    Family(
        "schedule",
        "schedules",
        lambda i: Schedule(
            id=f"sched-{i:02d}", name="Office", timezone="Europe/Moscow", weekly={"mon": ["09:00-18:00"]}
        ),
        lambda s: s.id,
        renamed,
    ),
    Family(
        "caller_list",
        "caller_lists",
        lambda i: CallerList(id=f"list-{i:02d}", name="VIP", patterns=[CallerPattern(kind="prefix", value="+7916")]),
        lambda c: c.id,
        renamed,
    ),
    Family(
        "queue",
        "queues",
        lambda i: Queue(id=f"queue-{i:02d}", name="Support", members=[QueueMember(extension="101")]),
        lambda q: q.id,
        renamed,
    ),
    Family(
        "number",
        "numbers",
        lambda i: PhoneNumber(number=f"+7495123450{i}", label=f"line {i}"),
        lambda n: n.number,
        lambda n: n.model_copy(update={"label": "Renamed", "scenario_id": "main"}),
    ),
]


def all_pages(fetch: Callable[[str | None], Any]) -> tuple[list[Any], int]:
    items: list[Any] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = fetch(cursor)
        pages += 1
        items.extend(page.items)
        cursor = page.next_cursor
        if cursor is None or pages > 20:
            return items, pages


def run_concurrently(attempts: list[Callable[[], object]]) -> list[BaseException | None]:
    """Start every attempt at the same moment; return what each raised (None for success)."""
    barrier = threading.Barrier(len(attempts))
    outcomes: list[BaseException | None] = [None] * len(attempts)

    def run(index: int) -> None:
        barrier.wait()
        try:
            attempts[index]()
        except BaseException as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def b64(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()
