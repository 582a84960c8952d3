"""HTTP routes of the tenant's directory: subscribers, phone numbers, schedules, caller lists (DESIGN.md §4).

Every handler: who is calling (authorizer context) → one service call → the resource with its ETag. Writes of an
existing object need `If-Match`; creates answer 201 with a Location; deletes answer 204.
"""

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel

from vpbx.api.context import current_caller, etag, expected_version
from vpbx.api.deps import get_repository
from vpbx.api.errors import JSON_CONTENT_TYPE
from vpbx.api.models import Cursor, Limit, PageOf
from vpbx.api.responses import (  # re-exported: the scenario routes import them from here
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


def _service() -> DirectoryService:
    return DirectoryService(get_repository(), current_caller(router).tenant_id)


def _one(body: BaseModel, version: int, status: int = HTTPStatus.OK, location: str | None = None) -> Response[Any]:
    headers = {"ETag": etag(version)}
    if location is not None:
        headers["Location"] = location
    return Response(status_code=status, content_type=JSON_CONTENT_TYPE, body=body, headers=headers)


def _deleted() -> Response[None]:
    return Response(status_code=HTTPStatus.NO_CONTENT, body=None)


# ------------------------------------------------------------------------------------------------ subscribers


@router.get(
    "/v1/subscribers",
    summary="List subscribers",
    tags=["Subscribers"],
    responses=documented(200, PageOf[SubscriberOut], "A page of subscribers", READ_ERRORS, etag=False),
)
def list_subscribers(limit: Limit = DEFAULT_PAGE_LIMIT, cursor: Cursor = None) -> PageOf[SubscriberOut]:
    page = _service().list_subscribers(limit, cursor)
    return PageOf(items=[subscriber_out(record) for record in page.items], next_cursor=page.next_cursor)


@router.post(
    "/v1/subscribers",
    summary="Create a subscriber",
    tags=["Subscribers"],
    responses=documented(201, SubscriberOut, "Created", CREATE_ERRORS),
)
def create_subscriber(body: Annotated[SubscriberCreate, Body()]) -> Response[SubscriberOut]:
    record = _service().create_subscriber(body)
    location = f"/v1/subscribers/{record.item.extension}"
    return _one(subscriber_out(record), record.version, HTTPStatus.CREATED, location)


@router.get(
    "/v1/subscribers/<extension>",
    summary="Get a subscriber",
    tags=["Subscribers"],
    responses=documented(200, SubscriberOut, "The subscriber", READ_ERRORS),
)
def get_subscriber(extension: ExtensionPath) -> Response[SubscriberOut]:
    record = _service().get_subscriber(extension)
    return _one(subscriber_out(record), record.version)


@router.put(
    "/v1/subscribers/<extension>",
    summary="Replace a subscriber (If-Match required)",
    tags=["Subscribers"],
    responses=documented(200, SubscriberOut, "Replaced", WRITE_ERRORS),
)
def replace_subscriber(extension: ExtensionPath, body: Annotated[SubscriberReplace, Body()]) -> Response[SubscriberOut]:
    record = _service().replace_subscriber(extension, body, expected_version(router))
    return _one(subscriber_out(record), record.version)


@router.delete(
    "/v1/subscribers/<extension>",
    summary="Delete a subscriber (If-Match required; 409 while a published scenario rings it)",
    tags=["Subscribers"],
    responses=deleted_docs(DELETE_ERRORS),
)
def delete_subscriber(extension: ExtensionPath) -> Response[None]:
    _service().delete_subscriber(extension, expected_version(router))
    return _deleted()


# ------------------------------------------------------------------------------------------------ phone numbers


@router.get(
    "/v1/numbers",
    summary="List phone numbers",
    tags=["Numbers"],
    responses=documented(200, PageOf[NumberOut], "A page of numbers", READ_ERRORS, etag=False),
)
def list_numbers(limit: Limit = DEFAULT_PAGE_LIMIT, cursor: Cursor = None) -> PageOf[NumberOut]:
    page = _service().list_numbers(limit, cursor)
    return PageOf(items=[number_out(record) for record in page.items], next_cursor=page.next_cursor)


@router.post(
    "/v1/numbers",
    summary="Add a phone number (unique across the platform) and the scenario that answers it",
    tags=["Numbers"],
    responses=documented(
        201, NumberOut, "Created", {**CREATE_ERRORS, 404: error_doc("The scenario_id names no scenario of yours")}
    ),
)
def create_number(body: Annotated[NumberCreate, Body()]) -> Response[NumberOut]:
    record = _service().create_number(body)
    location = f"/v1/numbers/{record.item.number.replace('+', '%2B')}"
    return _one(number_out(record), record.version, HTTPStatus.CREATED, location)


@router.get(
    "/v1/numbers/<number>",
    summary="Get a phone number",
    tags=["Numbers"],
    responses=documented(200, NumberOut, "The number", READ_ERRORS),
)
def get_number(number: NumberPath) -> Response[NumberOut]:
    record = _service().get_number(number)
    return _one(number_out(record), record.version)


@router.put(
    "/v1/numbers/<number>",
    summary="Point a number at another scenario, or relabel it (If-Match required)",
    tags=["Numbers"],
    responses=documented(200, NumberOut, "Replaced", WRITE_ERRORS),
)
def replace_number(number: NumberPath, body: Annotated[NumberReplace, Body()]) -> Response[NumberOut]:
    record = _service().replace_number(number, body, expected_version(router))
    return _one(number_out(record), record.version)


@router.delete(
    "/v1/numbers/<number>",
    summary="Release a phone number (If-Match required)",
    tags=["Numbers"],
    responses=deleted_docs(WRITE_ERRORS),
)
def delete_number(number: NumberPath) -> Response[None]:
    _service().delete_number(number, expected_version(router))
    return _deleted()


# ------------------------------------------------------------------------------------------------ schedules


@router.get(
    "/v1/schedules",
    summary="List schedules",
    tags=["Schedules"],
    responses=documented(200, PageOf[ScheduleOut], "A page of schedules", READ_ERRORS, etag=False),
)
def list_schedules(limit: Limit = DEFAULT_PAGE_LIMIT, cursor: Cursor = None) -> PageOf[ScheduleOut]:
    page = _service().list_schedules(limit, cursor)
    return PageOf(items=[schedule_out(record) for record in page.items], next_cursor=page.next_cursor)


@router.post(
    "/v1/schedules",
    summary="Create a schedule (id optional: generated when absent)",
    tags=["Schedules"],
    responses=documented(201, ScheduleOut, "Created", CREATE_ERRORS),
)
def create_schedule(body: Annotated[ScheduleCreate, Body()]) -> Response[ScheduleOut]:
    record = _service().create_schedule(body)
    return _one(schedule_out(record), record.version, HTTPStatus.CREATED, f"/v1/schedules/{record.item.id}")


@router.get(
    "/v1/schedules/<schedule_id>",
    summary="Get a schedule",
    tags=["Schedules"],
    responses=documented(200, ScheduleOut, "The schedule", READ_ERRORS),
)
def get_schedule(schedule_id: IdPath) -> Response[ScheduleOut]:
    record = _service().get_schedule(schedule_id)
    return _one(schedule_out(record), record.version)


@router.put(
    "/v1/schedules/<schedule_id>",
    summary="Replace a schedule (If-Match required)",
    tags=["Schedules"],
    responses=documented(200, ScheduleOut, "Replaced", WRITE_ERRORS),
)
def replace_schedule(schedule_id: IdPath, body: Annotated[ScheduleReplace, Body()]) -> Response[ScheduleOut]:
    record = _service().replace_schedule(schedule_id, body, expected_version(router))
    return _one(schedule_out(record), record.version)


@router.delete(
    "/v1/schedules/<schedule_id>",
    summary="Delete a schedule (If-Match required; 409 while a published scenario checks it)",
    tags=["Schedules"],
    responses=deleted_docs(DELETE_ERRORS),
)
def delete_schedule(schedule_id: IdPath) -> Response[None]:
    _service().delete_schedule(schedule_id, expected_version(router))
    return _deleted()


# ------------------------------------------------------------------------------------------------ caller lists


@router.get(
    "/v1/caller-lists",
    summary="List caller lists",
    tags=["Caller lists"],
    responses=documented(200, PageOf[CallerListOut], "A page of caller lists", READ_ERRORS, etag=False),
)
def list_caller_lists(limit: Limit = DEFAULT_PAGE_LIMIT, cursor: Cursor = None) -> PageOf[CallerListOut]:
    page = _service().list_caller_lists(limit, cursor)
    return PageOf(items=[caller_list_out(record) for record in page.items], next_cursor=page.next_cursor)


@router.post(
    "/v1/caller-lists",
    summary="Create a caller list (id optional: generated when absent)",
    tags=["Caller lists"],
    responses=documented(201, CallerListOut, "Created", CREATE_ERRORS),
)
def create_caller_list(body: Annotated[CallerListCreate, Body()]) -> Response[CallerListOut]:
    record = _service().create_caller_list(body)
    return _one(caller_list_out(record), record.version, HTTPStatus.CREATED, f"/v1/caller-lists/{record.item.id}")


@router.get(
    "/v1/caller-lists/<list_id>",
    summary="Get a caller list",
    tags=["Caller lists"],
    responses=documented(200, CallerListOut, "The caller list", READ_ERRORS),
)
def get_caller_list(list_id: IdPath) -> Response[CallerListOut]:
    record = _service().get_caller_list(list_id)
    return _one(caller_list_out(record), record.version)


@router.put(
    "/v1/caller-lists/<list_id>",
    summary="Replace a caller list (If-Match required)",
    tags=["Caller lists"],
    responses=documented(200, CallerListOut, "Replaced", WRITE_ERRORS),
)
def replace_caller_list(list_id: IdPath, body: Annotated[CallerListReplace, Body()]) -> Response[CallerListOut]:
    record = _service().replace_caller_list(list_id, body, expected_version(router))
    return _one(caller_list_out(record), record.version)


@router.delete(
    "/v1/caller-lists/<list_id>",
    summary="Delete a caller list (If-Match required; 409 while a published scenario checks it)",
    tags=["Caller lists"],
    responses=deleted_docs(DELETE_ERRORS),
)
def delete_caller_list(list_id: IdPath) -> Response[None]:
    _service().delete_caller_list(list_id, expected_version(router))
    return _deleted()
