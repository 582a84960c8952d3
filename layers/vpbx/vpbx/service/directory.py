"""The tenant's directory: subscribers, phone numbers, schedules and caller lists.

Request bodies are separate input models (unknown fields rejected, so `id`, `tenant_id`, `version`, `created_at` or
`role` in a body is a 422, never a silent write); the service turns them into domain objects, enforces the rules that
span objects (a number points at an existing scenario, a referenced object cannot be deleted) and leaves tenancy,
uniqueness and optimistic locking to the repository.
"""

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self, TypeVar
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
    Subscriber,
    SubscriberKind,
    Weekday,
)
from vpbx.domain.errors import InUse, InvalidInput, NotFound
from vpbx.domain.phone import InvalidPhoneNumber, normalize_e164
from vpbx.domain.scenario import (
    CallerListCheck,
    ExternalRouting,
    Fax,
    Group,
    InternalSubscriber,
    Scenario,
    ScheduleCheck,
)
from vpbx.store.models import Page, PhoneNumber, Versioned
from vpbx.store.ports import MAX_PAGE_LIMIT, Repository

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

# ------------------------------------------------------------------------------------------------ input models


class SubscriberReplace(StrictModel):
    """Body of `PUT /v1/subscribers/{extension}`: the whole subscriber except its extension (taken from the path)."""

    name: Name
    kind: SubscriberKind = "internal"
    target: str | None = Field(default=None, max_length=256, description="E.164 number or sip: URI (external/mobile)")
    sip_uri: str | None = Field(default=None, max_length=256, description="SIP device of an internal subscriber")
    dial_delay_seconds: int | None = Field(
        default=None, ge=0, le=120, description="Network dial delay override; derived from the target when absent"
    )
    enabled: bool = True

    @model_validator(mode="after")
    def _valid_as_subscriber(self) -> Self:
        check_against(Subscriber, {**self.model_dump(exclude={"extension"}), "extension": "0"})
        return self

    def to_subscriber(self, extension: str) -> Subscriber:
        return build(Subscriber, {**self.model_dump(exclude={"extension"}), "extension": extension})


class SubscriberCreate(SubscriberReplace):
    """Body of `POST /v1/subscribers`."""

    extension: Extension


class NumberReplace(StrictModel):
    """Body of `PUT /v1/numbers/{number}`: which scenario answers the number, and a label for people."""

    scenario_id: ResourceId | None = Field(default=None, description="Scenario that answers calls to this number")
    label: str | None = Field(default=None, max_length=200)


class NumberCreate(NumberReplace):
    """Body of `POST /v1/numbers`."""

    number: str = Field(max_length=32, description="E.164, e.g. +74951234567; unique across the platform")


class ScheduleReplace(StrictModel):
    """Body of `PUT /v1/schedules/{id}`."""

    name: Name
    timezone: str = Field(max_length=64, description="IANA time zone, e.g. Europe/Moscow")
    weekly: dict[Weekday, list[Interval]] = Field(default_factory=dict, description="Open hours per day, HH:MM-HH:MM")
    holidays: HolidayCalendar | None = None
    overrides: list[DateOverride] = Field(default_factory=list, max_length=366)

    @model_validator(mode="after")
    def _valid_as_schedule(self) -> Self:
        check_against(Schedule, {**self.model_dump(exclude={"id"}), "id": "x"})
        return self

    def to_schedule(self, schedule_id: str) -> Schedule:
        return build(Schedule, {**self.model_dump(exclude={"id"}), "id": schedule_id})


class ScheduleCreate(ScheduleReplace):
    """Body of `POST /v1/schedules`; the server generates `id` when it is absent."""

    id: ResourceId | None = None


class CallerListReplace(StrictModel):
    """Body of `PUT /v1/caller-lists/{id}`."""

    name: Name
    patterns: list[CallerPattern] = Field(default_factory=list, max_length=10_000)

    def to_caller_list(self, list_id: str) -> CallerList:
        return build(CallerList, {**self.model_dump(exclude={"id"}), "id": list_id})


class CallerListCreate(CallerListReplace):
    """Body of `POST /v1/caller-lists`; the server generates `id` when it is absent."""

    id: ResourceId | None = None


# ------------------------------------------------------------------------------------------------ helpers


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
        problems = [f"{d['field']}: {d['message']}" if d["field"] else d["message"] for d in validation_details(exc)]
        raise PydanticCustomError("value_error", "{problems}", {"problems": "; ".join(problems)}) from None


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {
            "field": ".".join(str(part) for part in error["loc"]) or None,
            "message": error["msg"].removeprefix("Value error, "),
            "type": error["type"],
        }
        for error in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def every(fetch: Callable[[int, str | None], Page[T]]) -> Iterator[T]:
    """All items of a paginated listing, page by page."""
    cursor: str | None = None
    while True:
        page = fetch(MAX_PAGE_LIMIT, cursor)
        yield from page.items
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def path_number(raw: str) -> str:
    """The E.164 number from a URL path segment: `%2B7…` or `+7…`, a `+` turned into a space, or bare digits."""
    text = unquote(raw).strip()
    if text.isdigit():
        text = "+" + text
    try:
        return normalize_e164(text)
    except InvalidPhoneNumber as exc:
        raise InvalidInput(str(exc), details=[{"field": "number", "message": str(exc)}]) from None


def refuse_if_used(repository: Repository, tenant_id: str, kind: str, ref: str, what: str) -> None:
    users = repository.scenarios_using(tenant_id, kind, ref)
    if kind == "extension":
        users = [scenario_id for scenario_id in users if _names_extension(repository, tenant_id, scenario_id, ref)]
    if users:
        raise InUse(
            f"{what} is used by published scenarios: {', '.join(sorted(users))}",
            details=[{"scenario_id": scenario_id} for scenario_id in sorted(users)],
        )


# ------------------------------------------------------------------------------------------------ references


@dataclass(frozen=True)
class References:
    """The directory objects a scenario names."""

    extensions: frozenset[str] = field(default_factory=frozenset)
    schedules: frozenset[str] = field(default_factory=frozenset)
    caller_lists: frozenset[str] = field(default_factory=frozenset)
    any_extension: bool = False  # external_routing lets the tenant's CRM pick any subscriber at call time


def references_of(scenario: Scenario) -> References:
    extensions: set[str] = set()
    schedules: set[str] = set()
    caller_lists: set[str] = set()
    any_extension = False
    for element in scenario.elements:
        if isinstance(element, InternalSubscriber | Fax):
            extensions.add(element.extension)
        elif isinstance(element, Group):
            extensions.update(element.members)
        elif isinstance(element, ScheduleCheck):
            schedules.add(element.schedule_id)
        elif isinstance(element, CallerListCheck):
            caller_lists.add(element.list_id)
        elif isinstance(element, ExternalRouting):
            any_extension = True
    return References(frozenset(extensions), frozenset(schedules), frozenset(caller_lists), any_extension)


def _names_extension(repository: Repository, tenant_id: str, scenario_id: str, extension: str) -> bool:
    """Whether the published version's elements name `extension`.

    A scenario with external_routing snapshots every subscriber (the CRM may pick anyone), which must not make every
    subscriber undeletable: only an element that names the extension blocks the delete.
    """
    try:
        published = repository.published_version_of(tenant_id, scenario_id)
        if published is None:
            return False
        version = repository.get_scenario_version(tenant_id, scenario_id, published)
    except NotFound:
        return False
    return extension in references_of(version.scenario).extensions


# ------------------------------------------------------------------------------------------------ service


class DirectoryService:
    """Directory operations for one tenant (the tenant comes from the authorizer, never from the request body)."""

    def __init__(self, repository: Repository, tenant_id: str) -> None:
        self.repository = repository
        self.tenant_id = tenant_id

    # ------------------------------------------------------------------------ subscribers
    def list_subscribers(self, limit: int, cursor: str | None) -> Page[Versioned[Subscriber]]:
        return self.repository.list_subscribers(self.tenant_id, limit, cursor)

    def create_subscriber(self, body: SubscriberCreate) -> Versioned[Subscriber]:
        subscriber = body.to_subscriber(body.extension)
        return self.repository.create_subscriber(self.tenant_id, subscriber)

    def get_subscriber(self, extension: str) -> Versioned[Subscriber]:
        return self.repository.get_subscriber(self.tenant_id, extension)

    def replace_subscriber(
        self, extension: str, body: SubscriberReplace, expected_version: int
    ) -> Versioned[Subscriber]:
        subscriber = body.to_subscriber(extension)
        return self.repository.update_subscriber(self.tenant_id, subscriber, expected_version)

    def delete_subscriber(self, extension: str, expected_version: int) -> None:
        self.repository.get_subscriber(self.tenant_id, extension)  # 404 before 409
        refuse_if_used(self.repository, self.tenant_id, "extension", extension, f"subscriber {extension}")
        self.repository.delete_subscriber(self.tenant_id, extension, expected_version)

    # ------------------------------------------------------------------------ phone numbers
    def list_numbers(self, limit: int, cursor: str | None) -> Page[Versioned[PhoneNumber]]:
        return self.repository.list_numbers(self.tenant_id, limit, cursor)

    def create_number(self, body: NumberCreate) -> Versioned[PhoneNumber]:
        try:
            number = normalize_e164(body.number)
        except InvalidPhoneNumber as exc:
            raise InvalidInput(str(exc), details=[{"field": "number", "message": str(exc)}]) from None
        self._require_scenario(body.scenario_id)
        record = PhoneNumber(number=number, scenario_id=body.scenario_id, label=body.label)
        return self.repository.create_number(self.tenant_id, record)

    def get_number(self, raw_number: str) -> Versioned[PhoneNumber]:
        return self.repository.get_number(self.tenant_id, path_number(raw_number))

    def replace_number(self, raw_number: str, body: NumberReplace, expected_version: int) -> Versioned[PhoneNumber]:
        number = path_number(raw_number)
        self.repository.get_number(self.tenant_id, number)  # 404 for an unknown number before 422 for its body
        self._require_scenario(body.scenario_id)
        record = PhoneNumber(number=number, scenario_id=body.scenario_id, label=body.label)
        return self.repository.update_number(self.tenant_id, record, expected_version)

    def delete_number(self, raw_number: str, expected_version: int) -> None:
        self.repository.delete_number(self.tenant_id, path_number(raw_number), expected_version)

    def _require_scenario(self, scenario_id: str | None) -> None:
        if scenario_id is None:
            return
        try:
            self.repository.get_scenario(self.tenant_id, scenario_id)
        except NotFound:
            message = f"scenario {scenario_id!r} does not exist; create it before pointing a number at it"
            raise NotFound(message, details=[{"field": "scenario_id", "message": message}]) from None

    # ------------------------------------------------------------------------ schedules
    def list_schedules(self, limit: int, cursor: str | None) -> Page[Versioned[Schedule]]:
        return self.repository.list_schedules(self.tenant_id, limit, cursor)

    def create_schedule(self, body: ScheduleCreate) -> Versioned[Schedule]:
        schedule = body.to_schedule(body.id or new_id("sch"))
        return self.repository.create_schedule(self.tenant_id, schedule)

    def get_schedule(self, schedule_id: str) -> Versioned[Schedule]:
        return self.repository.get_schedule(self.tenant_id, schedule_id)

    def replace_schedule(self, schedule_id: str, body: ScheduleReplace, expected_version: int) -> Versioned[Schedule]:
        return self.repository.update_schedule(self.tenant_id, body.to_schedule(schedule_id), expected_version)

    def delete_schedule(self, schedule_id: str, expected_version: int) -> None:
        self.repository.get_schedule(self.tenant_id, schedule_id)
        refuse_if_used(self.repository, self.tenant_id, "schedule", schedule_id, f"schedule {schedule_id!r}")
        self.repository.delete_schedule(self.tenant_id, schedule_id, expected_version)

    # ------------------------------------------------------------------------ caller lists
    def list_caller_lists(self, limit: int, cursor: str | None) -> Page[Versioned[CallerList]]:
        return self.repository.list_caller_lists(self.tenant_id, limit, cursor)

    def create_caller_list(self, body: CallerListCreate) -> Versioned[CallerList]:
        caller_list = body.to_caller_list(body.id or new_id("lst"))
        return self.repository.create_caller_list(self.tenant_id, caller_list)

    def get_caller_list(self, list_id: str) -> Versioned[CallerList]:
        return self.repository.get_caller_list(self.tenant_id, list_id)

    def replace_caller_list(
        self, list_id: str, body: CallerListReplace, expected_version: int
    ) -> Versioned[CallerList]:
        return self.repository.update_caller_list(self.tenant_id, body.to_caller_list(list_id), expected_version)

    def delete_caller_list(self, list_id: str, expected_version: int) -> None:
        self.repository.get_caller_list(self.tenant_id, list_id)
        refuse_if_used(self.repository, self.tenant_id, "caller_list", list_id, f"caller list {list_id!r}")
        self.repository.delete_caller_list(self.tenant_id, list_id, expected_version)


# ------------------------------------------------------------------------------------------------ output models


class VersionMeta(BaseModel):
    version: int = Field(description="Optimistic-locking version; the ETag carries it, send it back in If-Match")
    created_at: datetime
    updated_at: datetime


class SubscriberOut(VersionMeta, Subscriber):
    """A subscriber as returned by the API."""

    effective_dial_delay_seconds: int = Field(description="Network dial delay the executor adds to ring timeouts")


class NumberOut(VersionMeta, PhoneNumber):
    """A phone number as returned by the API."""


class ScheduleOut(VersionMeta, Schedule):
    """A schedule as returned by the API."""


class CallerListOut(VersionMeta, CallerList):
    """A caller list as returned by the API."""


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
