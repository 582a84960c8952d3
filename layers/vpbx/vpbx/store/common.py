"""What both implementations of the ports do the same way, written once: the versioned directory families and their
port methods, version checks, the records a write produces, and the rules of calls (ownership, expiry, time range).

A directory implementation inherits DirectoryFamilies and supplies five storage primitives (create, read, list,
update, delete of one versioned item of a family); the per-family port methods are defined here and delegate to them.
"""

from __future__ import annotations  # `Versioned[X]` in signatures would build generic models at import

import abc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel

from vpbx.domain.directory import CallerList, Schedule, Subscriber
from vpbx.domain.errors import InUse, InvalidInput, NotFound, VersionMismatch
from vpbx.domain.queues import Queue
from vpbx.store import keys
from vpbx.store.codec import ref_token
from vpbx.store.models import (
    CallFilter,
    CallRecord,
    DirectorySnapshot,
    Page,
    PhoneNumber,
    ScenarioDraft,
    ScenarioVersion,
    Versioned,
)
from vpbx.store.ports import DirectoryChanged


@dataclass(frozen=True)
class Family:
    """A versioned family of tenant-owned items: its sort-key prefix, its model, the field that is its id, and how
    error messages name it."""

    prefix: str
    model: type[BaseModel]
    label: str
    key_field: str = "id"
    ref_kind: str | None = None  # how a published scenario refers to it (codec.REF_KINDS); None: never referred to

    def what(self, ident: str) -> str:
        return f"{self.label} {ident}"

    def ident_of(self, obj: BaseModel) -> str:
        return str(getattr(obj, self.key_field))


SUBSCRIBERS = Family(keys.SUBSCRIBER_PREFIX, Subscriber, "subscriber", "extension", "extension")
SCHEDULES = Family(keys.SCHEDULE_PREFIX, Schedule, "schedule", ref_kind="schedule")
CALLER_LISTS = Family(keys.CALLER_LIST_PREFIX, CallerList, "caller list", ref_kind="caller_list")
QUEUES = Family(keys.QUEUE_PREFIX, Queue, "queue", ref_kind="queue")
NUMBERS = Family(keys.NUMBER_PREFIX, PhoneNumber, "number", "number")
SCENARIOS = Family(keys.SCENARIO_PREFIX, ScenarioDraft, "scenario")


def snapshot_of(
    subscribers: list[Subscriber],
    schedules: list[Schedule],
    caller_lists: list[CallerList],
    queues: list[Queue] | None = None,
) -> DirectorySnapshot:
    """A resolved directory in a stable order (by id), whatever order the storage returned it in."""
    return DirectorySnapshot(
        subscribers=sorted(subscribers, key=lambda s: s.extension),
        schedules=sorted(schedules, key=lambda s: s.id),
        caller_lists=sorted(caller_lists, key=lambda c: c.id),
        queues=sorted(queues or [], key=lambda q: q.id),
    )


def members_to_resolve(queues: list[Queue], requested: frozenset[str] | None) -> frozenset[str]:
    """The members' extensions of resolved queues that the subscribers read did not ask for already (None: it read
    every subscriber). A member that is not a subscriber simply stays unresolved: the queue skips it at call time."""
    if requested is None:
        return frozenset()
    return frozenset(extension for queue in queues for extension in queue.extensions) - requested


# ---------------------------------------------------------------------------------------------- versions
def stale_version(what: str, current: int | None, expected: int) -> VersionMismatch:
    return VersionMismatch(f"{what} is at version {current}, not {expected}")


def check_version(what: str, current: int, expected: int) -> None:
    if current != expected:
        raise stale_version(what, current, expected)


def first_version(item: Any, at: datetime) -> Versioned[Any]:
    return Versioned[Any](item=item, version=1, created_at=at, updated_at=at)


def next_version(stored: Versioned[Any], item: Any, at: datetime) -> Versioned[Any]:
    return Versioned[Any](item=item, version=stored.version + 1, created_at=stored.created_at, updated_at=at)


def new_scenario_version(
    draft: ScenarioDraft, snapshot: DirectorySnapshot, at: datetime, by: str | None
) -> ScenarioVersion:
    """The version a publish writes: the draft's scenario as number latest+1, with the frozen directory."""
    return ScenarioVersion(
        scenario_id=draft.id,
        number=draft.latest_version + 1,
        scenario=draft.scenario,
        directory=snapshot,
        published_at=at,
        published_by=by,
    )


# ---------------------------------------------------------------------------------------------- calls
def check_call_owner(tenant_id: str, call: CallRecord) -> None:
    if call.tenant_id != tenant_id:
        raise InvalidInput(f"call {call.state.call.call_id} belongs to another tenant than {tenant_id}")


def call_is_live(expires_at: int, now: datetime) -> bool:
    """DynamoDB deletes expired items lazily; both repositories hide them from the moment they expire."""
    return expires_at > now.timestamp()


def calls_filter(number: str | None, where: CallFilter | None) -> CallFilter | None:
    """The one filter of a calls listing (`number` is the older spelling of where=CallFilter("number", …))."""
    if number is not None and where is not None:
        raise InvalidInput("a calls listing takes one filter besides since/until")
    if number is not None:
        return CallFilter(kind="number", value=number)
    if where is not None and where.kind not in keys.CALL_INDEXES:
        raise InvalidInput(f"calls cannot be filtered by {where.kind!r}")
    return where


def calls_time_range(since: datetime | None, until: datetime | None) -> tuple[str | None, str | None]:
    """GSI1SK bounds of a calls listing: since <= started_at < until."""
    return (keys.sortable_time(since) if since else None, keys.sortable_time(until) if until else None)


# ---------------------------------------------------------------------------------------------- references
REFERENCE_ATTEMPTS = 3  # a reference-changing write that loses to a concurrent one checks again, this many times


def directory_changed(what: str) -> DirectoryChanged:
    return DirectoryChanged(f"the directory changed while {what} was being checked; retry")


_PATH_KEYS = {
    "schedule": "schedule_id",
    "caller_list": "list_id",
    "queue": "queue_id",
}  # the path parameter naming each kind's key


def in_use(what: str, ref_kind: str, scenario_ids: list[str]) -> InUse:
    loc = ["path", _PATH_KEYS.get(ref_kind, ref_kind)]
    return InUse(
        f"{what} is used by published scenarios: {', '.join(sorted(scenario_ids))}",
        details=[
            {"loc": loc, "msg": f"used by {scenario_id}", "type": "in_use", "scenario_id": scenario_id}
            for scenario_id in sorted(scenario_ids)
        ],
    )


def numbers_in_use(scenario_id: str, numbers: list[str]) -> InUse:
    return InUse(
        f"scenario {scenario_id!r} answers phone numbers {', '.join(sorted(numbers))}; point them elsewhere first",
        details=[
            {"loc": ["path", "scenario_id"], "msg": f"{number} points at it", "type": "in_use", "number": number}
            for number in sorted(numbers)
        ],
    )


def missing_scenario(scenario_id: str) -> NotFound:
    message = f"scenario {scenario_id!r} does not exist; create it before pointing a number at it"
    return NotFound(message, details=[{"loc": ["body", "scenario_id"], "msg": message, "type": "not_found"}])


class ReferenceGuard(abc.ABC):
    """Atomic references (ports.py): a write that adds or removes a reference between aggregates reads the tenant's
    directory revision before its checks and commits only if the revision is unchanged, advancing it.

    Two test seams, off in production: `before_reference_write` runs between the checks and the commit (tests force
    each interleaving with it); `guard_references = False` drops the revision condition, so a test can show that it
    catches the race the condition closes.
    """

    guard_references: ClassVar[bool] = True
    before_reference_write: Callable[[str], None] | None = None

    def _about_to_write(self, operation: str) -> None:
        hook = self.before_reference_write
        if hook is not None:
            hook(operation)

    @abc.abstractmethod
    def _revision(self, tenant_id: str) -> int:
        """The tenant's directory revision (0 before the first reference-changing write)."""

    @abc.abstractmethod
    def _named_users(self, tenant_id: str, token: str) -> list[str]:
        """Scenarios whose published version's elements name `token` (codec.ref_token), sorted."""

    @abc.abstractmethod
    def _read_in(self, tenant_id: str, family: Family, ident: str) -> Versioned[Any]: ...

    @abc.abstractmethod
    def _delete_at_revision(self, tenant_id: str, family: Family, ident: str, expected_version: int, seen: int) -> None:
        """Delete the item at `expected_version` if the revision is still `seen` (DirectoryChanged), advancing it."""

    def _delete_referenced(self, tenant_id: str, family: Family, ident: str, expected_version: int) -> None:
        """Delete a directory object no published version names: the check and the delete commit as one."""
        assert family.ref_kind is not None
        for _ in range(REFERENCE_ATTEMPTS):
            self._read_in(tenant_id, family, ident)
            seen = self._revision(tenant_id)
            users = self._named_users(tenant_id, ref_token(family.ref_kind, ident))
            if users:
                raise in_use(family.what(ident), family.ref_kind, users)
            self._about_to_write(f"delete_{family.ref_kind}")
            try:
                self._delete_at_revision(tenant_id, family, ident, expected_version, seen)
            except DirectoryChanged:
                continue
            return
        raise directory_changed(f"the delete of {family.what(ident)}")


# ---------------------------------------------------------------------------------------------- families
class VersionedPrimitives(abc.ABC):
    """Five storage primitives on one versioned item of a family; each implementation's table supplies them."""

    @abc.abstractmethod
    def _create_in(self, tenant_id: str, family: Family, ident: str, item: BaseModel) -> Versioned[Any]:
        """Version 1 of a new item; AlreadyExists when the id is taken."""

    @abc.abstractmethod
    def _read_in(self, tenant_id: str, family: Family, ident: str) -> Versioned[Any]:
        """The stored item; NotFound when it does not exist."""

    @abc.abstractmethod
    def _list_in(self, tenant_id: str, family: Family, limit: int, cursor: str | None) -> Page[Any]: ...

    @abc.abstractmethod
    def _update_in(
        self, tenant_id: str, family: Family, ident: str, item: BaseModel, expected_version: int
    ) -> Versioned[Any]:
        """Replace the item and bump its version; NotFound or VersionMismatch."""

    @abc.abstractmethod
    def _delete_in(self, tenant_id: str, family: Family, ident: str, expected_version: int) -> None:
        """Delete the item at `expected_version`; NotFound or VersionMismatch."""


class DirectoryFamilies(VersionedPrimitives, ReferenceGuard, abc.ABC):
    """The directory families' port methods (DirectoryStore), once, over the primitives."""

    def create_subscriber(self, tenant_id: str, subscriber: Subscriber) -> Versioned[Subscriber]:
        return self._create_in(tenant_id, SUBSCRIBERS, subscriber.extension, subscriber)

    def get_subscriber(self, tenant_id: str, extension: str) -> Versioned[Subscriber]:
        return self._read_in(tenant_id, SUBSCRIBERS, extension)

    def list_subscribers(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Versioned[Subscriber]]:
        return self._list_in(tenant_id, SUBSCRIBERS, limit, cursor)

    def update_subscriber(self, tenant_id: str, subscriber: Subscriber, expected_version: int) -> Versioned[Subscriber]:
        return self._update_in(tenant_id, SUBSCRIBERS, subscriber.extension, subscriber, expected_version)

    def delete_subscriber(self, tenant_id: str, extension: str, expected_version: int) -> None:
        self._delete_referenced(tenant_id, SUBSCRIBERS, extension, expected_version)

    def create_schedule(self, tenant_id: str, schedule: Schedule) -> Versioned[Schedule]:
        return self._create_in(tenant_id, SCHEDULES, schedule.id, schedule)

    def get_schedule(self, tenant_id: str, schedule_id: str) -> Versioned[Schedule]:
        return self._read_in(tenant_id, SCHEDULES, schedule_id)

    def list_schedules(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Versioned[Schedule]]:
        return self._list_in(tenant_id, SCHEDULES, limit, cursor)

    def update_schedule(self, tenant_id: str, schedule: Schedule, expected_version: int) -> Versioned[Schedule]:
        return self._update_in(tenant_id, SCHEDULES, schedule.id, schedule, expected_version)

    def delete_schedule(self, tenant_id: str, schedule_id: str, expected_version: int) -> None:
        self._delete_referenced(tenant_id, SCHEDULES, schedule_id, expected_version)

    def create_caller_list(self, tenant_id: str, caller_list: CallerList) -> Versioned[CallerList]:
        return self._create_in(tenant_id, CALLER_LISTS, caller_list.id, caller_list)

    def get_caller_list(self, tenant_id: str, list_id: str) -> Versioned[CallerList]:
        return self._read_in(tenant_id, CALLER_LISTS, list_id)

    def list_caller_lists(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Versioned[CallerList]]:
        return self._list_in(tenant_id, CALLER_LISTS, limit, cursor)

    def update_caller_list(
        self, tenant_id: str, caller_list: CallerList, expected_version: int
    ) -> Versioned[CallerList]:
        return self._update_in(tenant_id, CALLER_LISTS, caller_list.id, caller_list, expected_version)

    def delete_caller_list(self, tenant_id: str, list_id: str, expected_version: int) -> None:
        self._delete_referenced(tenant_id, CALLER_LISTS, list_id, expected_version)

    def create_queue(self, tenant_id: str, queue: Queue) -> Versioned[Queue]:
        return self._create_in(tenant_id, QUEUES, queue.id, queue)

    def get_queue(self, tenant_id: str, queue_id: str) -> Versioned[Queue]:
        return self._read_in(tenant_id, QUEUES, queue_id)

    def list_queues(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Versioned[Queue]]:
        return self._list_in(tenant_id, QUEUES, limit, cursor)

    def update_queue(self, tenant_id: str, queue: Queue, expected_version: int) -> Versioned[Queue]:
        return self._update_in(tenant_id, QUEUES, queue.id, queue, expected_version)

    def delete_queue(self, tenant_id: str, queue_id: str, expected_version: int) -> None:
        self._delete_referenced(tenant_id, QUEUES, queue_id, expected_version)
