"""The tenant's directory: subscribers, phone numbers, schedules, caller lists and queues.

Request bodies are separate input models (unknown fields rejected, so `id`, `tenant_id`, `version`, `created_at` or
`role` in a body is a 422, never a silent write); the service turns them into domain objects, enforces the rules that
span objects (a number points at an existing scenario, a referenced object cannot be deleted) and leaves tenancy,
uniqueness and optimistic locking to the repository.
"""

# String annotations: the dataclasses' `Page[Versioned[D]]` fields would otherwise build generic models at import.
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar
from urllib.parse import unquote

from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from vpbx.domain.base import Extension, Name, ResourceId, StrictModel
from vpbx.domain.directory import (
    CallerList,
    CallerPattern,
    DateOverride,
    HolidayCalendar,
    Interval,
    Schedule,
    ScheduleStatus,
    Subscriber,
    SubscriberKind,
    Weekday,
)
from vpbx.domain.elements.base import Prompt
from vpbx.domain.errors import InvalidInput
from vpbx.domain.phone import InvalidPhoneNumber, normalize_e164
from vpbx.domain.queues import (
    MAX_POLL_SECONDS,
    MAX_QUEUE_MEMBERS,
    MAX_QUEUE_WAITING,
    MIN_POLL_SECONDS,
    PositionAnnouncements,
    Queue,
    QueueMember,
    QueueStrategy,
)
from vpbx.service.versioned import VersionMeta, new_id
from vpbx.store.models import Page, PhoneNumber, Versioned
from vpbx.store.ports import DirectoryStore, NumberStore

M = TypeVar("M", bound=BaseModel)
C = TypeVar("C", bound="DomainBody")
R = TypeVar("R", bound="DomainBody")
D = TypeVar("D", bound=BaseModel)  # a domain object of the directory

# ------------------------------------------------------------------------------------------------ input models


class DomainBody(StrictModel):
    """A request body that becomes a domain object once its key (from the path, the body or generated) is known."""

    key_field: ClassVar[str]
    domain_model: ClassVar[type[BaseModel] | None] = None  # when set, its own rules run on the body at parse time
    placeholder_key: ClassVar[str] = "x"  # a valid key for that parse-time check

    @model_validator(mode="after")
    def _valid_as_domain_object(self) -> Self:
        if self.domain_model is not None:
            check_against(self.domain_model, self.domain_data(self.placeholder_key))
        return self

    def domain_data(self, key: str) -> dict[str, Any]:
        """The fields of the domain object: the body's, with the key in place of any key the body carried."""
        return {**self.model_dump(exclude={self.key_field}), self.key_field: key}


SIP_URI_PATTERN = "^[sS][iI][pP][sS]?:.*@"


class SubscriberReplace(DomainBody):
    """Body of `PUT /v1/subscribers/{extension}`: the whole subscriber except its extension (taken from the path)."""

    key_field = "extension"
    domain_model = Subscriber
    placeholder_key = "0"

    name: Name
    kind: SubscriberKind = "internal"
    target: str | None = Field(default=None, max_length=256, description="E.164 number or sip: URI (external/mobile)")
    sip_uri: str | None = Field(
        default=None,
        max_length=256,
        description="SIP device of an internal subscriber (sip: or sips: URI with a user@host part)",
        json_schema_extra={"pattern": SIP_URI_PATTERN},  # the spec states is_sip_uri's rule; the model checks it
    )
    dial_delay_seconds: int | None = Field(
        default=None, ge=0, le=120, description="Network dial delay override; derived from the target when absent"
    )
    enabled: bool = True


class SubscriberCreate(SubscriberReplace):
    """Body of `POST /v1/subscribers`."""

    extension: Extension


class NumberReplace(DomainBody):
    """Body of `PUT /v1/numbers/{number}`: which scenario answers the number, and a label for people."""

    key_field = "number"

    scenario_id: ResourceId | None = Field(default=None, description="Scenario that answers calls to this number")
    label: str | None = Field(default=None, max_length=200)


class NumberCreate(NumberReplace):
    """Body of `POST /v1/numbers`."""

    number: str = Field(max_length=32, description="E.164, e.g. +74951234567; unique across the platform")


class ScheduleReplace(DomainBody):
    """Body of `PUT /v1/schedules/{id}`."""

    key_field = "id"
    domain_model = Schedule

    name: Name
    timezone: str = Field(max_length=64, description="IANA time zone, e.g. Europe/Moscow")
    weekly: dict[Weekday, list[Interval]] = Field(default_factory=dict, description="Open hours per day, HH:MM-HH:MM")
    holidays: HolidayCalendar | None = None
    overrides: list[DateOverride] = Field(default_factory=list, max_length=366)


class ScheduleCreate(ScheduleReplace):
    """Body of `POST /v1/schedules`; the server generates `id` when it is absent."""

    id: ResourceId | None = None


class CallerListReplace(DomainBody):
    """Body of `PUT /v1/caller-lists/{id}`."""

    key_field = "id"

    name: Name
    patterns: list[CallerPattern] = Field(default_factory=list, max_length=10_000)


class CallerListCreate(CallerListReplace):
    """Body of `POST /v1/caller-lists`; the server generates `id` when it is absent."""

    id: ResourceId | None = None


class QueueReplace(DomainBody):
    """Body of `PUT /v1/queues/{queue_id}`: the whole queue except its id (taken from the path)."""

    key_field = "id"
    domain_model = Queue  # each extension a member once

    name: Name
    members: list[QueueMember] = Field(
        default_factory=list,
        max_length=MAX_QUEUE_MEMBERS,
        description="The agents: subscribers' extensions, each once; a lower `priority` is offered calls first. "
        "An extension that is no subscriber (or a disabled one) is skipped at call time.",
    )
    strategy: QueueStrategy = Field(
        default="ring_all",
        description="Which free agent is offered the next caller: `ring_all` (every free agent of the best "
        "priority at once), `round_robin`, `least_recent` (longest idle), `fewest_calls`, `random`",
    )
    member_ring_seconds: int = Field(default=20, ge=5, le=120, description="How long one offer rings an agent")
    max_wait_seconds: int = Field(default=300, ge=10, le=3600, description="Then the caller takes the timeout exit")
    wrapup_seconds: int = Field(default=10, ge=0, le=600, description="An agent's rest after each queue call")
    max_waiting: int = Field(
        default=20, ge=1, le=MAX_QUEUE_WAITING, description="Callers in line at most; one more takes the full exit"
    )
    poll_seconds: int = Field(
        default=10,
        ge=MIN_POLL_SECONDS,
        le=MAX_POLL_SECONDS,
        description="How often telephony reports a waiting caller (`waiting` outcome)",
    )
    hold_prompt: Prompt | None = Field(default=None, description="What the caller hears while waiting")
    announcements: PositionAnnouncements = Field(
        default_factory=PositionAnnouncements, description="Tell a waiting caller its place in line"
    )


class QueueCreate(QueueReplace):
    """Body of `POST /v1/queues`; the server generates `id` when it is absent."""

    id: ResourceId | None = None


# ------------------------------------------------------------------------------------------------ helpers


class DirectoryPorts(DirectoryStore, NumberStore, Protocol):
    """The directory service's storage. The rules that span aggregates (a number points at an existing scenario, a
    referenced object cannot be deleted) are the stores', where each check commits with its write (ports.py)."""


def build(model: type[M], data: dict[str, Any]) -> M:
    """Construct a domain object; rules that span fields become a located InvalidInput instead of a traceback."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(f"invalid {model.__name__.lower()}", details=validation_details(exc)) from None


def check_against(model: type[BaseModel], data: dict[str, Any]) -> None:
    """Run a domain model's own rules on a request body, so that a broken body is a 422 at parse time."""
    try:
        model.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(map(str, d['loc'][1:]))}: {d['msg']}".removeprefix(": ") for d in validation_details(exc)
        ]
        raise PydanticCustomError("value_error", "{problems}", {"problems": "; ".join(problems)}) from None


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {
            "loc": ["body", *error["loc"]],
            "msg": error["msg"].removeprefix("Value error, "),
            "type": error["type"],
        }
        for error in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def body_number(text: str) -> str:
    """The E.164 number of a request body's `number` field; not E.164 is a located InvalidInput."""
    try:
        return normalize_e164(text)
    except InvalidPhoneNumber as exc:
        raise InvalidInput(str(exc), details=[{"loc": ["body", "number"], "msg": str(exc), "type": "e164"}]) from None


def path_number(raw: str) -> str:
    """The E.164 number from a URL path segment: `%2B7…` or `+7…`, a `+` turned into a space, or bare digits."""
    text = unquote(raw).strip()
    if text.isdigit():
        text = "+" + text
    return body_number(text)


# ------------------------------------------------------------------------------------------------ service


@dataclass(frozen=True)
class FamilyStore(Generic[D]):
    """The repository's operations on one family, bound to nothing but the family (the tenant is passed in)."""

    list: Callable[[str, int, str | None], Page[Versioned[D]]]
    create: Callable[[str, D], Versioned[D]]
    get: Callable[[str, str], Versioned[D]]
    update: Callable[[str, D, int], Versioned[D]]
    delete: Callable[[str, str, int], None]


def _as_is(key: str) -> str:
    return key


@dataclass(frozen=True)
class VersionedCrud(Generic[D, C, R]):
    """List, create, get, replace and delete one family of a tenant's directory, with optimistic locking.

    The hooks carry what differs between families; the stores check the rules about other objects in the same order
    for all: an unknown key is 404 before a missing scenario (404) or a published version using the object (409).
    """

    tenant_id: str
    store: FamilyStore[D]
    domain: type[D]
    new_key: Callable[[C], str]  # the key of a created object: from the body, normalized, or generated
    parse_key: Callable[[str], str] = _as_is  # the key from a URL path segment

    def list(self, limit: int, cursor: str | None) -> Page[Versioned[D]]:
        return self.store.list(self.tenant_id, limit, cursor)

    def create(self, body: C) -> Versioned[D]:
        item = build(self.domain, body.domain_data(self.new_key(body)))
        return self.store.create(self.tenant_id, item)

    def get(self, raw_key: str) -> Versioned[D]:
        return self.store.get(self.tenant_id, self.parse_key(raw_key))

    def replace(self, raw_key: str, body: R, expected_version: int) -> Versioned[D]:
        key = self.parse_key(raw_key)
        item = build(self.domain, body.domain_data(key))
        return self.store.update(self.tenant_id, item, expected_version)

    def delete(self, raw_key: str, expected_version: int) -> None:
        self.store.delete(self.tenant_id, self.parse_key(raw_key), expected_version)


class DirectoryService:
    """Directory operations for one tenant (the tenant comes from the authorizer, never from the request body)."""

    def __init__(self, repository: DirectoryPorts, tenant_id: str) -> None:
        self.repository = repository
        self.tenant_id = tenant_id
        r = repository
        self.subscribers = VersionedCrud[Subscriber, SubscriberCreate, SubscriberReplace](
            tenant_id,
            FamilyStore(
                r.list_subscribers, r.create_subscriber, r.get_subscriber, r.update_subscriber, r.delete_subscriber
            ),
            Subscriber,
            new_key=lambda body: body.extension,
        )
        self.numbers = VersionedCrud[PhoneNumber, NumberCreate, NumberReplace](
            tenant_id,
            FamilyStore(r.list_numbers, r.create_number, r.get_number, r.update_number, r.delete_number),
            PhoneNumber,
            new_key=lambda body: body_number(body.number),
            parse_key=path_number,
        )
        self.schedules = VersionedCrud[Schedule, ScheduleCreate, ScheduleReplace](
            tenant_id,
            FamilyStore(r.list_schedules, r.create_schedule, r.get_schedule, r.update_schedule, r.delete_schedule),
            Schedule,
            new_key=lambda body: body.id or new_id("sch"),
        )
        self.caller_lists = VersionedCrud[CallerList, CallerListCreate, CallerListReplace](
            tenant_id,
            FamilyStore(
                r.list_caller_lists, r.create_caller_list, r.get_caller_list, r.update_caller_list, r.delete_caller_list
            ),
            CallerList,
            new_key=lambda body: body.id or new_id("lst"),
        )
        self.queues = VersionedCrud[Queue, QueueCreate, QueueReplace](
            tenant_id,
            FamilyStore(r.list_queues, r.create_queue, r.get_queue, r.update_queue, r.delete_queue),
            Queue,
            new_key=lambda body: body.id or new_id("que"),
        )

    # The named operations other modules and tests call; each family's rules live in its VersionedCrud above.
    def list_subscribers(self, limit: int, cursor: str | None) -> Page[Versioned[Subscriber]]:
        return self.subscribers.list(limit, cursor)

    def create_subscriber(self, body: SubscriberCreate) -> Versioned[Subscriber]:
        return self.subscribers.create(body)

    def get_subscriber(self, extension: str) -> Versioned[Subscriber]:
        return self.subscribers.get(extension)

    def replace_subscriber(self, extension: str, body: SubscriberReplace, version: int) -> Versioned[Subscriber]:
        return self.subscribers.replace(extension, body, version)

    def delete_subscriber(self, extension: str, expected_version: int) -> None:
        self.subscribers.delete(extension, expected_version)

    def list_numbers(self, limit: int, cursor: str | None) -> Page[Versioned[PhoneNumber]]:
        return self.numbers.list(limit, cursor)

    def create_number(self, body: NumberCreate) -> Versioned[PhoneNumber]:
        return self.numbers.create(body)

    def get_number(self, raw_number: str) -> Versioned[PhoneNumber]:
        return self.numbers.get(raw_number)

    def replace_number(self, raw_number: str, body: NumberReplace, version: int) -> Versioned[PhoneNumber]:
        return self.numbers.replace(raw_number, body, version)

    def delete_number(self, raw_number: str, expected_version: int) -> None:
        self.numbers.delete(raw_number, expected_version)

    def list_schedules(self, limit: int, cursor: str | None) -> Page[Versioned[Schedule]]:
        return self.schedules.list(limit, cursor)

    def create_schedule(self, body: ScheduleCreate) -> Versioned[Schedule]:
        return self.schedules.create(body)

    def get_schedule(self, schedule_id: str) -> Versioned[Schedule]:
        return self.schedules.get(schedule_id)

    def replace_schedule(self, schedule_id: str, body: ScheduleReplace, version: int) -> Versioned[Schedule]:
        return self.schedules.replace(schedule_id, body, version)

    def delete_schedule(self, schedule_id: str, expected_version: int) -> None:
        self.schedules.delete(schedule_id, expected_version)

    def schedule_status(self, schedule_id: str, at: datetime) -> ScheduleStatusOut:
        status = self.get_schedule(schedule_id).item.status(at)
        return ScheduleStatusOut(schedule_id=schedule_id, at=at, **status.model_dump())

    def list_caller_lists(self, limit: int, cursor: str | None) -> Page[Versioned[CallerList]]:
        return self.caller_lists.list(limit, cursor)

    def create_caller_list(self, body: CallerListCreate) -> Versioned[CallerList]:
        return self.caller_lists.create(body)

    def get_caller_list(self, list_id: str) -> Versioned[CallerList]:
        return self.caller_lists.get(list_id)

    def replace_caller_list(self, list_id: str, body: CallerListReplace, version: int) -> Versioned[CallerList]:
        return self.caller_lists.replace(list_id, body, version)

    def delete_caller_list(self, list_id: str, expected_version: int) -> None:
        self.caller_lists.delete(list_id, expected_version)

    def list_queues(self, limit: int, cursor: str | None) -> Page[Versioned[Queue]]:
        return self.queues.list(limit, cursor)

    def create_queue(self, body: QueueCreate) -> Versioned[Queue]:
        return self.queues.create(body)

    def get_queue(self, queue_id: str) -> Versioned[Queue]:
        return self.queues.get(queue_id)

    def replace_queue(self, queue_id: str, body: QueueReplace, version: int) -> Versioned[Queue]:
        return self.queues.replace(queue_id, body, version)

    def delete_queue(self, queue_id: str, expected_version: int) -> None:
        self.queues.delete(queue_id, expected_version)


# ------------------------------------------------------------------------------------------------ output models


class SubscriberOut(VersionMeta, Subscriber):
    """A subscriber as returned by the API."""

    effective_dial_delay_seconds: int = Field(description="Network dial delay the executor adds to ring timeouts")


class NumberOut(VersionMeta, PhoneNumber):
    """A phone number as returned by the API."""


class ScheduleOut(VersionMeta, Schedule):
    """A schedule as returned by the API."""


class ScheduleStatusOut(ScheduleStatus):
    """Whether a schedule is open at an instant, and why (`GET /v1/schedules/{id}/status`)."""

    schedule_id: str
    at: datetime = Field(description="The instant asked about")


class CallerListOut(VersionMeta, CallerList):
    """A caller list as returned by the API."""


class QueueOut(VersionMeta, Queue):
    """A queue as returned by the API."""


def _meta(record: Versioned[Any]) -> dict[str, Any]:
    return {"version": record.version, "created_at": record.created_at, "updated_at": record.updated_at}


def subscriber_out(record: Versioned[Subscriber]) -> SubscriberOut:
    return SubscriberOut(
        **record.item.model_dump(), effective_dial_delay_seconds=record.item.dial_delay, **_meta(record)
    )


def number_out(record: Versioned[PhoneNumber]) -> NumberOut:
    return NumberOut(**record.item.model_dump(), **_meta(record))


def schedule_out(record: Versioned[Schedule]) -> ScheduleOut:
    return ScheduleOut(**record.item.model_dump(), **_meta(record))


def caller_list_out(record: Versioned[CallerList]) -> CallerListOut:
    return CallerListOut(**record.item.model_dump(), **_meta(record))


def queue_out(record: Versioned[Queue]) -> QueueOut:
    return QueueOut(**record.item.model_dump(), **_meta(record))
