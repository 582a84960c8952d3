"""HTTP routes of the tenant's directory: subscribers, phone numbers, schedules, caller lists (DESIGN.md §4).

Every handler: who is calling (authorizer context) → one DirectoryService call → the resource with its ETag. Writes
of an existing object need `If-Match`; creates answer 201 with a Location; deletes answer 204. Each route is its own
function, named after its operation (`list_subscribers` is operation listSubscribers).
"""

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from vpbx.api.context import current_caller, version_from_if_match
from vpbx.api.deps import get_repository
from vpbx.api.models import Cursor, Limit, PageOf
from vpbx.api.resources import IfMatch, item_location, page_of, versioned_response
from vpbx.api.responses import (
    CREATE_ERRORS,
    DELETE_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    deleted_docs,
    documented,
    error_doc,
)
from vpbx.service.directory import (
    CallerListCreate,
    CallerListOut,
    CallerListReplace,
    DirectoryService,
    NumberCreate,
    NumberOut,
    NumberReplace,
    ScheduleCreate,
    ScheduleOut,
    ScheduleReplace,
    SubscriberCreate,
    SubscriberOut,
    SubscriberReplace,
    caller_list_out,
    number_out,
    schedule_out,
    subscriber_out,
)
from vpbx.store.ports import DEFAULT_PAGE_LIMIT

router = Router()

ExtensionPath = Annotated[str, Path(pattern=r"^[0-9]{1,6}$", description="Short internal number, 1–6 digits")]
NumberPath = Annotated[str, Path(max_length=40, description="E.164 number; URL-encode the plus: %2B74951234567")]
IdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]

SUBSCRIBERS, NUMBERS, SCHEDULES, CALLER_LISTS = "/v1/subscribers", "/v1/numbers", "/v1/schedules", "/v1/caller-lists"
NUMBER_CREATE_ERRORS = {**CREATE_ERRORS, 404: error_doc("The scenario_id names no scenario of yours")}


def _service() -> DirectoryService:
    return DirectoryService(get_repository(), current_caller(router).tenant_id)


# ------------------------------------------------------------------------------------------------ subscribers


@router.get(
    SUBSCRIBERS,
    summary="List subscribers",
    tags=["Subscribers"],
    responses=documented(200, PageOf[SubscriberOut], "A page of subscribers", READ_ERRORS, etag=False),
)
def list_subscribers(limit: Limit = DEFAULT_PAGE_LIMIT, cursor: Cursor = None) -> PageOf[SubscriberOut]:
    return page_of(_service().list_subscribers(limit, cursor), subscriber_out)


@router.post(
    SUBSCRIBERS,
    summary="Create a subscriber",
    tags=["Subscribers"],
    responses=documented(201, SubscriberOut, "Created", CREATE_ERRORS),
)
def create_subscriber(body: Annotated[SubscriberCreate, Body()]) -> Response[SubscriberOut]:
    record = _service().create_subscriber(body)
    location = item_location(SUBSCRIBERS, record.item.extension)
    return versioned_response(subscriber_out(record), record.version, HTTPStatus.CREATED, location)


@router.get(
    f"{SUBSCRIBERS}/<extension>",
    summary="Get a subscriber",
    tags=["Subscribers"],
    responses=documented(200, SubscriberOut, "The subscriber", READ_ERRORS),
)
def get_subscriber(extension: ExtensionPath) -> Response[SubscriberOut]:
    record = _service().get_subscriber(extension)
    return versioned_response(subscriber_out(record), record.version)


@router.put(
    f"{SUBSCRIBERS}/<extension>",
    summary="Replace a subscriber (If-Match required)",
    tags=["Subscribers"],
    responses=documented(200, SubscriberOut, "Replaced", WRITE_ERRORS),
)
def replace_subscriber(
    extension: ExtensionPath, body: Annotated[SubscriberReplace, Body()], if_match: IfMatch
) -> Response[SubscriberOut]:
    record = _service().replace_subscriber(extension, body, version_from_if_match(if_match))
    return versioned_response(subscriber_out(record), record.version)


@router.delete(
    f"{SUBSCRIBERS}/<extension>",
    summary="Delete a subscriber (If-Match required; 409 while a published scenario rings it)",
    tags=["Subscribers"],
    responses=deleted_docs(DELETE_ERRORS),
)
def delete_subscriber(extension: ExtensionPath, if_match: IfMatch) -> Response[None]:
    _service().delete_subscriber(extension, version_from_if_match(if_match))
    return Response(status_code=HTTPStatus.NO_CONTENT, body=None)


# ------------------------------------------------------------------------------------------------ phone numbers


@router.get(
    NUMBERS,
    summary="List phone numbers",
    tags=["Numbers"],
    responses=documented(200, PageOf[NumberOut], "A page of numbers", READ_ERRORS, etag=False),
)
def list_numbers(limit: Limit = DEFAULT_PAGE_LIMIT, cursor: Cursor = None) -> PageOf[NumberOut]:
    return page_of(_service().list_numbers(limit, cursor), number_out)


@router.post(
    NUMBERS,
    summary="Add a phone number (unique across the platform) and the scenario that answers it",
    tags=["Numbers"],
    responses=documented(201, NumberOut, "Created", NUMBER_CREATE_ERRORS),
)
def create_number(body: Annotated[NumberCreate, Body()]) -> Response[NumberOut]:
    record = _service().create_number(body)
    location = item_location(NUMBERS, record.item.number)
    return versioned_response(number_out(record), record.version, HTTPStatus.CREATED, location)


@router.get(
    f"{NUMBERS}/<number>",
    summary="Get a phone number",
    tags=["Numbers"],
    responses=documented(200, NumberOut, "The number", READ_ERRORS),
)
def get_number(number: NumberPath) -> Response[NumberOut]:
    record = _service().get_number(number)
    return versioned_response(number_out(record), record.version)


@router.put(
    f"{NUMBERS}/<number>",
    summary="Point a number at another scenario, or relabel it (If-Match required)",
    tags=["Numbers"],
    responses=documented(200, NumberOut, "Replaced", WRITE_ERRORS),
)
def replace_number(
    number: NumberPath, body: Annotated[NumberReplace, Body()], if_match: IfMatch
) -> Response[NumberOut]:
    record = _service().replace_number(number, body, version_from_if_match(if_match))
    return versioned_response(number_out(record), record.version)


@router.delete(
    f"{NUMBERS}/<number>",
    summary="Release a phone number (If-Match required)",
    tags=["Numbers"],
    responses=deleted_docs(WRITE_ERRORS),  # nothing refers to a number, so no 409
)
def delete_number(number: NumberPath, if_match: IfMatch) -> Response[None]:
    _service().delete_number(number, version_from_if_match(if_match))
    return Response(status_code=HTTPStatus.NO_CONTENT, body=None)


# ------------------------------------------------------------------------------------------------ schedules


@router.get(
    SCHEDULES,
    summary="List schedules",
    tags=["Schedules"],
    responses=documented(200, PageOf[ScheduleOut], "A page of schedules", READ_ERRORS, etag=False),
)
def list_schedules(limit: Limit = DEFAULT_PAGE_LIMIT, cursor: Cursor = None) -> PageOf[ScheduleOut]:
    return page_of(_service().list_schedules(limit, cursor), schedule_out)


@router.post(
    SCHEDULES,
    summary="Create a schedule (id optional: generated when absent)",
    tags=["Schedules"],
    responses=documented(201, ScheduleOut, "Created", CREATE_ERRORS),
)
def create_schedule(body: Annotated[ScheduleCreate, Body()]) -> Response[ScheduleOut]:
    record = _service().create_schedule(body)
    location = item_location(SCHEDULES, record.item.id)
    return versioned_response(schedule_out(record), record.version, HTTPStatus.CREATED, location)


@router.get(
    f"{SCHEDULES}/<schedule_id>",
    summary="Get a schedule",
    tags=["Schedules"],
    responses=documented(200, ScheduleOut, "The schedule", READ_ERRORS),
)
def get_schedule(schedule_id: IdPath) -> Response[ScheduleOut]:
    record = _service().get_schedule(schedule_id)
    return versioned_response(schedule_out(record), record.version)


@router.put(
    f"{SCHEDULES}/<schedule_id>",
    summary="Replace a schedule (If-Match required)",
    tags=["Schedules"],
    responses=documented(200, ScheduleOut, "Replaced", WRITE_ERRORS),
)
def replace_schedule(
    schedule_id: IdPath, body: Annotated[ScheduleReplace, Body()], if_match: IfMatch
) -> Response[ScheduleOut]:
    record = _service().replace_schedule(schedule_id, body, version_from_if_match(if_match))
    return versioned_response(schedule_out(record), record.version)


@router.delete(
    f"{SCHEDULES}/<schedule_id>",
    summary="Delete a schedule (If-Match required; 409 while a published scenario checks it)",
    tags=["Schedules"],
    responses=deleted_docs(DELETE_ERRORS),
)
def delete_schedule(schedule_id: IdPath, if_match: IfMatch) -> Response[None]:
    _service().delete_schedule(schedule_id, version_from_if_match(if_match))
    return Response(status_code=HTTPStatus.NO_CONTENT, body=None)


# ------------------------------------------------------------------------------------------------ caller lists


@router.get(
    CALLER_LISTS,
    summary="List caller lists",
    tags=["Caller lists"],
    responses=documented(200, PageOf[CallerListOut], "A page of caller lists", READ_ERRORS, etag=False),
)
def list_caller_lists(limit: Limit = DEFAULT_PAGE_LIMIT, cursor: Cursor = None) -> PageOf[CallerListOut]:
    return page_of(_service().list_caller_lists(limit, cursor), caller_list_out)


@router.post(
    CALLER_LISTS,
    summary="Create a caller list (id optional: generated when absent)",
    tags=["Caller lists"],
    responses=documented(201, CallerListOut, "Created", CREATE_ERRORS),
)
def create_caller_list(body: Annotated[CallerListCreate, Body()]) -> Response[CallerListOut]:
    record = _service().create_caller_list(body)
    location = item_location(CALLER_LISTS, record.item.id)
    return versioned_response(caller_list_out(record), record.version, HTTPStatus.CREATED, location)


@router.get(
    f"{CALLER_LISTS}/<list_id>",
    summary="Get a caller list",
    tags=["Caller lists"],
    responses=documented(200, CallerListOut, "The caller list", READ_ERRORS),
)
def get_caller_list(list_id: IdPath) -> Response[CallerListOut]:
    record = _service().get_caller_list(list_id)
    return versioned_response(caller_list_out(record), record.version)


@router.put(
    f"{CALLER_LISTS}/<list_id>",
    summary="Replace a caller list (If-Match required)",
    tags=["Caller lists"],
    responses=documented(200, CallerListOut, "Replaced", WRITE_ERRORS),
)
def replace_caller_list(
    list_id: IdPath, body: Annotated[CallerListReplace, Body()], if_match: IfMatch
) -> Response[CallerListOut]:
    record = _service().replace_caller_list(list_id, body, version_from_if_match(if_match))
    return versioned_response(caller_list_out(record), record.version)


@router.delete(
    f"{CALLER_LISTS}/<list_id>",
    summary="Delete a caller list (If-Match required; 409 while a published scenario checks it)",
    tags=["Caller lists"],
    responses=deleted_docs(DELETE_ERRORS),
)
def delete_caller_list(list_id: IdPath, if_match: IfMatch) -> Response[None]:
    _service().delete_caller_list(list_id, version_from_if_match(if_match))
    return Response(status_code=HTTPStatus.NO_CONTENT, body=None)
