"""HTTP routes of the tenant's directory: subscribers, phone numbers, schedules, caller lists, queues (DESIGN.md §4).

Every handler: who is calling (authorizer context) → one DirectoryService call → the resource with its ETag. Writes
of an existing object need `If-Match`; creates answer 201 with a Location; deletes answer 204. Each route is its own
function, named after its operation (`list_subscribers` is operation listSubscribers).
"""

from datetime import UTC, datetime
from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from vpbx.api.context import current_caller, version_from_if_match
from vpbx.api.deps import get_repository
from vpbx.api.idempotency import IdempotencyKey, idempotent
from vpbx.api.models import Cursor, Limit, PageOf
from vpbx.api.resources import IfMatch, item_location, page_of, versioned_response
from vpbx.api.responses import (
    CREATE_ERRORS,
    DELETE_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    created,
    deleted_docs,
    documented,
    error_doc,
)
from vpbx.domain.base import Instant
from vpbx.service.directory import (
    CallerListCreate,
    CallerListOut,
    CallerListReplace,
    DirectoryService,
    NumberCreate,
    NumberOut,
    NumberReplace,
    QueueCreate,
    QueueOut,
    QueueReplace,
    ScheduleCreate,
    ScheduleOut,
    ScheduleReplace,
    ScheduleStatusOut,
    SubscriberCreate,
    SubscriberOut,
    SubscriberReplace,
    caller_list_out,
    number_out,
    queue_out,
    schedule_out,
    subscriber_out,
)
from vpbx.store.ports import DEFAULT_PAGE_LIMIT

router = Router()

ExtensionPath = Annotated[str, Path(pattern=r"^[0-9]{1,6}$", description="Short internal number, 1–6 digits")]
NumberPath = Annotated[str, Path(max_length=40, description="E.164 number; URL-encode the plus: %2B74951234567")]
IdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]

SUBSCRIBERS, NUMBERS, SCHEDULES, CALLER_LISTS = "/v1/subscribers", "/v1/numbers", "/v1/schedules", "/v1/caller-lists"
QUEUES = "/v1/queues"
NUMBER_CREATE_ERRORS = {**CREATE_ERRORS, 404: error_doc("The scenario_id names no scenario of yours")}


def _service() -> DirectoryService:
    return DirectoryService(get_repository(), current_caller(router).tenant_id)


# ------------------------------------------------------------------------------------------------ subscribers


@router.get(
    SUBSCRIBERS,
    operation_id="listSubscribers",
    summary="List subscribers",
    description="The tenant's subscribers in extension order, a page at a time: pass `next_cursor` back as "
    "`cursor` until it is null. Any key of the tenant (admin, editor, viewer) may read.",
    tags=["Subscribers"],
    responses=documented(200, PageOf[SubscriberOut], "A page of subscribers", READ_ERRORS, etag=False),
)
def list_subscribers(limit: Limit = DEFAULT_PAGE_LIMIT, cursor: Cursor = None) -> PageOf[SubscriberOut]:
    return page_of(_service().list_subscribers(limit, cursor), subscriber_out)


@router.post(
    SUBSCRIBERS,
    operation_id="createSubscriber",
    summary="Create a subscriber",
    description="Adds an employee under a short internal number (`extension`, 1–6 digits, unique in the "
    "tenant). `internal` subscribers ring their SIP device; `external` and `mobile` ones forward "
    "to `target`, and ring waits allow for that network's dial delay "
    "(`effective_dial_delay_seconds`). Answers 201 with the subscriber, its ETag and Location; "
    "409 when the extension is taken.",
    middlewares=[idempotent],
    tags=["Subscribers"],
    responses=created(SubscriberOut, CREATE_ERRORS),
)
def create_subscriber(
    body: Annotated[SubscriberCreate, Body()],
    idempotency_key: IdempotencyKey = None,
) -> Response[SubscriberOut]:
    record = _service().create_subscriber(body)
    location = item_location(SUBSCRIBERS, record.item.extension)
    return versioned_response(subscriber_out(record), record.version, HTTPStatus.CREATED, location)


@router.get(
    f"{SUBSCRIBERS}/<extension>",
    operation_id="getSubscriber",
    summary="Get a subscriber",
    description="One subscriber by extension, with its ETag: send the ETag back in `If-Match` to replace or delete it.",
    tags=["Subscribers"],
    responses=documented(200, SubscriberOut, "The subscriber", READ_ERRORS),
)
def get_subscriber(extension: ExtensionPath) -> Response[SubscriberOut]:
    record = _service().get_subscriber(extension)
    return versioned_response(subscriber_out(record), record.version)


@router.put(
    f"{SUBSCRIBERS}/<extension>",
    operation_id="replaceSubscriber",
    summary="Replace a subscriber (If-Match required)",
    description="Replaces the whole subscriber (the extension comes from the path and cannot change). Needs "
    "`If-Match` with the ETag you read: 412 when someone changed it since, 428 without it. The "
    "next call uses the new data; published scenarios need no republishing.",
    tags=["Subscribers"],
    responses=documented(200, SubscriberOut, "Replaced", WRITE_ERRORS),
)
def replace_subscriber(
    extension: ExtensionPath,
    body: Annotated[SubscriberReplace, Body()],
    if_match: IfMatch,
) -> Response[SubscriberOut]:
    record = _service().replace_subscriber(extension, body, version_from_if_match(if_match))
    return versioned_response(subscriber_out(record), record.version)


@router.delete(
    f"{SUBSCRIBERS}/<extension>",
    operation_id="deleteSubscriber",
    summary="Delete a subscriber (If-Match required; 409 while a published scenario rings it)",
    description="Deletes a subscriber. Needs `If-Match`. Refused with 409 `in_use` while a published scenario "
    "rings this extension (the details name the scenarios): point them elsewhere and publish "
    "first.",
    tags=["Subscribers"],
    responses=deleted_docs(DELETE_ERRORS),
)
def delete_subscriber(extension: ExtensionPath, if_match: IfMatch) -> Response[None]:
    _service().delete_subscriber(extension, version_from_if_match(if_match))
    return Response(status_code=HTTPStatus.NO_CONTENT, body=None)


# ------------------------------------------------------------------------------------------------ phone numbers


@router.get(
    NUMBERS,
    operation_id="listNumbers",
    summary="List phone numbers",
    description="The tenant's phone numbers (DIDs), a page at a time, each with the scenario that answers it.",
    tags=["Numbers"],
    responses=documented(200, PageOf[NumberOut], "A page of numbers", READ_ERRORS, etag=False),
)
def list_numbers(limit: Limit = DEFAULT_PAGE_LIMIT, cursor: Cursor = None) -> PageOf[NumberOut]:
    return page_of(_service().list_numbers(limit, cursor), number_out)


@router.post(
    NUMBERS,
    operation_id="createNumber",
    summary="Add a phone number (unique across the platform) and the scenario that answers it",
    description="Claims an E.164 number for the tenant (unique across the platform: 409 when anyone holds it) "
    "and names the scenario that answers calls to it (404 when that scenario does not exist). "
    "Answers 201 with the number, its ETag and Location (the plus URL-encoded).",
    middlewares=[idempotent],
    tags=["Numbers"],
    responses=created(NumberOut, NUMBER_CREATE_ERRORS),
)
def create_number(body: Annotated[NumberCreate, Body()], idempotency_key: IdempotencyKey = None) -> Response[NumberOut]:
    record = _service().create_number(body)
    location = item_location(NUMBERS, record.item.number)
    return versioned_response(number_out(record), record.version, HTTPStatus.CREATED, location)


@router.get(
    f"{NUMBERS}/<number>",
    operation_id="getNumber",
    summary="Get a phone number",
    description="One phone number by its E.164 form (URL-encode the plus: `%2B74951234567`), with its ETag.",
    tags=["Numbers"],
    responses=documented(200, NumberOut, "The number", READ_ERRORS),
)
def get_number(number: NumberPath) -> Response[NumberOut]:
    record = _service().get_number(number)
    return versioned_response(number_out(record), record.version)


@router.put(
    f"{NUMBERS}/<number>",
    operation_id="replaceNumber",
    summary="Point a number at another scenario, or relabel it (If-Match required)",
    description="Points the number at another scenario, or changes its label. Needs `If-Match`; calls already "
    "in progress keep the scenario they started with.",
    tags=["Numbers"],
    responses=documented(200, NumberOut, "Replaced", WRITE_ERRORS),
)
def replace_number(
    number: NumberPath,
    body: Annotated[NumberReplace, Body()],
    if_match: IfMatch,
) -> Response[NumberOut]:
    record = _service().replace_number(number, body, version_from_if_match(if_match))
    return versioned_response(number_out(record), record.version)


@router.delete(
    f"{NUMBERS}/<number>",
    operation_id="deleteNumber",
    summary="Release a phone number (If-Match required)",
    description="Releases a number: calls to it are no longer routed, and any tenant may claim it again. "
    "Needs `If-Match`.",
    tags=["Numbers"],
    responses=deleted_docs(WRITE_ERRORS),  # nothing refers to a number, so no 409
)
def delete_number(number: NumberPath, if_match: IfMatch) -> Response[None]:
    _service().delete_number(number, version_from_if_match(if_match))
    return Response(status_code=HTTPStatus.NO_CONTENT, body=None)


# ------------------------------------------------------------------------------------------------ schedules


@router.get(
    SCHEDULES,
    operation_id="listSchedules",
    summary="List schedules",
    description="The tenant's reusable schedules (office hours), a page at a time.",
    tags=["Schedules"],
    responses=documented(200, PageOf[ScheduleOut], "A page of schedules", READ_ERRORS, etag=False),
)
def list_schedules(limit: Limit = DEFAULT_PAGE_LIMIT, cursor: Cursor = None) -> PageOf[ScheduleOut]:
    return page_of(_service().list_schedules(limit, cursor), schedule_out)


@router.post(
    SCHEDULES,
    operation_id="createSchedule",
    summary="Create a schedule (id optional: generated when absent)",
    description="Creates reusable opening hours: weekly intervals in an IANA time zone, an optional "
    "public-holiday calendar and dated overrides. Scenarios check it with a `schedule` element "
    "(exits `open`/`closed`). The id is generated when absent. Answers 201 with the schedule, its "
    "ETag and Location.",
    middlewares=[idempotent],
    tags=["Schedules"],
    responses=created(ScheduleOut, CREATE_ERRORS),
)
def create_schedule(
    body: Annotated[ScheduleCreate, Body()],
    idempotency_key: IdempotencyKey = None,
) -> Response[ScheduleOut]:
    record = _service().create_schedule(body)
    location = item_location(SCHEDULES, record.item.id)
    return versioned_response(schedule_out(record), record.version, HTTPStatus.CREATED, location)


@router.get(
    f"{SCHEDULES}/<schedule_id>",
    operation_id="getSchedule",
    summary="Get a schedule",
    description="One schedule by id, with its ETag: send it back in `If-Match` to replace or delete it.",
    tags=["Schedules"],
    responses=documented(200, ScheduleOut, "The schedule", READ_ERRORS),
)
def get_schedule(schedule_id: IdPath) -> Response[ScheduleOut]:
    record = _service().get_schedule(schedule_id)
    return versioned_response(schedule_out(record), record.version)


@router.put(
    f"{SCHEDULES}/<schedule_id>",
    operation_id="replaceSchedule",
    summary="Replace a schedule (If-Match required)",
    description="Replaces the whole schedule. Needs `If-Match`. Applies to the next call without republishing "
    "the scenarios that use it.",
    tags=["Schedules"],
    responses=documented(200, ScheduleOut, "Replaced", WRITE_ERRORS),
)
def replace_schedule(
    schedule_id: IdPath,
    body: Annotated[ScheduleReplace, Body()],
    if_match: IfMatch,
) -> Response[ScheduleOut]:
    record = _service().replace_schedule(schedule_id, body, version_from_if_match(if_match))
    return versioned_response(schedule_out(record), record.version)


@router.delete(
    f"{SCHEDULES}/<schedule_id>",
    operation_id="deleteSchedule",
    summary="Delete a schedule (If-Match required; 409 while a published scenario checks it)",
    description="Deletes a schedule. Needs `If-Match`; refused with 409 `in_use` while a published scenario checks it.",
    tags=["Schedules"],
    responses=deleted_docs(DELETE_ERRORS),
)
def delete_schedule(schedule_id: IdPath, if_match: IfMatch) -> Response[None]:
    _service().delete_schedule(schedule_id, version_from_if_match(if_match))
    return Response(status_code=HTTPStatus.NO_CONTENT, body=None)


@router.get(
    f"{SCHEDULES}/<schedule_id>/status",
    operation_id="getScheduleStatus",
    summary="Is the schedule open at an instant, and why",
    description="Open or closed at `at` (default now) with the reason that decided: `weekly_hours`, `holiday` "
    "(named), `transferred_working_day`, `short_day` (a pre-holiday day, shortened) or `override`; `detail` says it "
    "in words. The same rule a `schedule` element applies to a call.",
    tags=["Schedules"],
    responses=documented(200, ScheduleStatusOut, "The schedule's state at that instant", READ_ERRORS, etag=False),
)
def get_schedule_status(
    schedule_id: IdPath,
    at: Annotated[Instant | None, Query(description="The instant, ISO-8601 with offset (default: now)")] = None,
) -> ScheduleStatusOut:
    return _service().schedule_status(schedule_id, at or datetime.now(UTC))


# ------------------------------------------------------------------------------------------------ caller lists


@router.get(
    CALLER_LISTS,
    operation_id="listCallerLists",
    summary="List caller lists",
    description="The tenant's caller lists (known or blocked callers), a page at a time.",
    tags=["Caller lists"],
    responses=documented(200, PageOf[CallerListOut], "A page of caller lists", READ_ERRORS, etag=False),
)
def list_caller_lists(limit: Limit = DEFAULT_PAGE_LIMIT, cursor: Cursor = None) -> PageOf[CallerListOut]:
    return page_of(_service().list_caller_lists(limit, cursor), caller_list_out)


@router.post(
    CALLER_LISTS,
    operation_id="createCallerList",
    summary="Create a caller list (id optional: generated when absent)",
    description="Creates a reusable list of caller patterns (exact number, prefix, mask, country, region or "
    "operator). Scenarios branch on it with a `caller_list` element (exits `match`/`no_match`). "
    "The id is generated when absent. Answers 201 with the list, its ETag and Location.",
    middlewares=[idempotent],
    tags=["Caller lists"],
    responses=created(CallerListOut, CREATE_ERRORS),
)
def create_caller_list(
    body: Annotated[CallerListCreate, Body()],
    idempotency_key: IdempotencyKey = None,
) -> Response[CallerListOut]:
    record = _service().create_caller_list(body)
    location = item_location(CALLER_LISTS, record.item.id)
    return versioned_response(caller_list_out(record), record.version, HTTPStatus.CREATED, location)


@router.get(
    f"{CALLER_LISTS}/<list_id>",
    operation_id="getCallerList",
    summary="Get a caller list",
    description="One caller list by id, with its ETag: send it back in `If-Match` to replace or delete it.",
    tags=["Caller lists"],
    responses=documented(200, CallerListOut, "The caller list", READ_ERRORS),
)
def get_caller_list(list_id: IdPath) -> Response[CallerListOut]:
    record = _service().get_caller_list(list_id)
    return versioned_response(caller_list_out(record), record.version)


@router.put(
    f"{CALLER_LISTS}/<list_id>",
    operation_id="replaceCallerList",
    summary="Replace a caller list (If-Match required)",
    description="Replaces the whole caller list. Needs `If-Match`. Applies to the next call without republishing.",
    tags=["Caller lists"],
    responses=documented(200, CallerListOut, "Replaced", WRITE_ERRORS),
)
def replace_caller_list(
    list_id: IdPath,
    body: Annotated[CallerListReplace, Body()],
    if_match: IfMatch,
) -> Response[CallerListOut]:
    record = _service().replace_caller_list(list_id, body, version_from_if_match(if_match))
    return versioned_response(caller_list_out(record), record.version)


@router.delete(
    f"{CALLER_LISTS}/<list_id>",
    operation_id="deleteCallerList",
    summary="Delete a caller list (If-Match required; 409 while a published scenario checks it)",
    description="Deletes a caller list. Needs `If-Match`; refused with 409 `in_use` while a published "
    "scenario checks it.",
    tags=["Caller lists"],
    responses=deleted_docs(DELETE_ERRORS),
)
def delete_caller_list(list_id: IdPath, if_match: IfMatch) -> Response[None]:
    _service().delete_caller_list(list_id, version_from_if_match(if_match))
    return Response(status_code=HTTPStatus.NO_CONTENT, body=None)


# ------------------------------------------------------------------------------------------------ queues


@router.get(
    QUEUES,
    operation_id="listQueues",
    summary="List queues",
    description="The tenant's call queues in id order, a page at a time.",
    tags=["Queues"],
    responses=documented(200, PageOf[QueueOut], "A page of queues", READ_ERRORS, etag=False),
)
def list_queues(limit: Limit = DEFAULT_PAGE_LIMIT, cursor: Cursor = None) -> PageOf[QueueOut]:
    return page_of(_service().list_queues(limit, cursor), queue_out)


@router.post(
    QUEUES,
    operation_id="createQueue",
    summary="Create a queue (id optional: generated when absent)",
    description="Creates a call queue: its agents (`members`: subscribers' extensions, each once, up to 50, with an "
    "optional `priority`, lower first), how the next caller's agent is chosen (`strategy`), how long an offer rings "
    "an agent, how long a caller may wait and how many may wait, the agents' wrap-up time, and what a waiting caller "
    "hears. Scenarios send callers into it with a `queue` element (exits `timeout`, `no_agents`, `full`). A member "
    "that is no subscriber is accepted and skipped at call time. Answers 201 with the queue, its ETag and Location.",
    middlewares=[idempotent],
    tags=["Queues"],
    responses=created(QueueOut, CREATE_ERRORS),
)
def create_queue(body: Annotated[QueueCreate, Body()], idempotency_key: IdempotencyKey = None) -> Response[QueueOut]:
    record = _service().create_queue(body)
    location = item_location(QUEUES, record.item.id)
    return versioned_response(queue_out(record), record.version, HTTPStatus.CREATED, location)


@router.get(
    f"{QUEUES}/<queue_id>",
    operation_id="getQueue",
    summary="Get a queue",
    description="One queue by id, with its ETag: send it back in `If-Match` to replace or delete it.",
    tags=["Queues"],
    responses=documented(200, QueueOut, "The queue", READ_ERRORS),
)
def get_queue(queue_id: IdPath) -> Response[QueueOut]:
    record = _service().get_queue(queue_id)
    return versioned_response(queue_out(record), record.version)


@router.put(
    f"{QUEUES}/<queue_id>",
    operation_id="replaceQueue",
    summary="Replace a queue (If-Match required)",
    description="Replaces the whole queue (fields left out take their defaults). Needs `If-Match`: 412 when someone "
    "changed it since, 428 without it. Applies to the next call without republishing the scenarios that use it; "
    "callers already waiting keep their place.",
    tags=["Queues"],
    responses=documented(200, QueueOut, "Replaced", WRITE_ERRORS),
)
def replace_queue(
    queue_id: IdPath,
    body: Annotated[QueueReplace, Body()],
    if_match: IfMatch,
) -> Response[QueueOut]:
    record = _service().replace_queue(queue_id, body, version_from_if_match(if_match))
    return versioned_response(queue_out(record), record.version)


@router.delete(
    f"{QUEUES}/<queue_id>",
    operation_id="deleteQueue",
    summary="Delete a queue (If-Match required; 409 while a published scenario sends callers to it)",
    description="Deletes a queue. Needs `If-Match`; refused with 409 `in_use` while a published scenario's `queue` "
    "element names it (the details name the scenarios). Deleting a subscriber that is a member is allowed.",
    tags=["Queues"],
    responses=deleted_docs(DELETE_ERRORS),
)
def delete_queue(queue_id: IdPath, if_match: IfMatch) -> Response[None]:
    _service().delete_queue(queue_id, version_from_if_match(if_match))
    return Response(status_code=HTTPStatus.NO_CONTENT, body=None)
