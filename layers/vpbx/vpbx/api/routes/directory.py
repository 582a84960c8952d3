"""HTTP routes of the tenant's directory: subscribers, phone numbers, schedules, caller lists (DESIGN.md §4).

Every handler: who is calling (authorizer context) → one service call → the resource with its ETag. Writes of an
existing object need `If-Match`; creates answer 201 with a Location; deletes answer 204. The four families share
one route shape (`register_collection`) and one service shape (`VersionedCrud`); what differs is described here.
"""

from collections.abc import Callable
from http import HTTPStatus
from typing import Annotated, Any, cast

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel

from vpbx.api.context import current_caller
from vpbx.api.deps import get_repository
from vpbx.api.models import PageOf
from vpbx.api.resources import (
    CollectionHandlers,
    ResourceFamily,
    Summaries,
    register_collection,
    versioned_response,
)
from vpbx.api.responses import CREATE_ERRORS, WRITE_ERRORS, error_doc
from vpbx.service.directory import (
    CallerListCreate,
    CallerListOut,
    CallerListReplace,
    DirectoryService,
    DomainBody,
    NumberCreate,
    NumberOut,
    NumberReplace,
    ScheduleCreate,
    ScheduleOut,
    ScheduleReplace,
    SubscriberCreate,
    SubscriberOut,
    SubscriberReplace,
    VersionedCrud,
    caller_list_out,
    number_out,
    schedule_out,
    subscriber_out,
)
from vpbx.store.models import Versioned

router = Router()


ExtensionPath = Annotated[str, Path(pattern=r"^[0-9]{1,6}$", description="Short internal number, 1–6 digits")]
NumberPath = Annotated[str, Path(max_length=40, description="E.164 number; URL-encode the plus: %2B74951234567")]
IdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]


def _service() -> DirectoryService:
    return DirectoryService(get_repository(), current_caller(router).tenant_id)


def _directory_handlers(
    family: ResourceFamily,
    crud_of: Callable[[DirectoryService], VersionedCrud[Any, Any, Any]],
    to_out: Callable[[Versioned[Any]], BaseModel],
) -> CollectionHandlers:
    """The five operations of one directory family: its VersionedCrud, answered as `to_out` with the ETag."""
    key_field = cast(type[DomainBody], family.create_body).key_field

    def list_page(limit: int, cursor: str | None) -> PageOf[Any]:
        page = crud_of(_service()).list(limit, cursor)
        return PageOf(items=[to_out(record) for record in page.items], next_cursor=page.next_cursor)

    def create(body: Any) -> Response[Any]:
        record = crud_of(_service()).create(body)
        location = family.location(getattr(record.item, key_field))
        return versioned_response(to_out(record), record.version, HTTPStatus.CREATED, location)

    def get(key: str) -> Response[Any]:
        record = crud_of(_service()).get(key)
        return versioned_response(to_out(record), record.version)

    def replace(key: str, body: Any, expected_version: int) -> Response[Any]:
        record = crud_of(_service()).replace(key, body, expected_version)
        return versioned_response(to_out(record), record.version)

    def delete(key: str, expected_version: int) -> None:
        crud_of(_service()).delete(key, expected_version)

    return CollectionHandlers(list_page, create, get, replace, delete)


SUBSCRIBERS = ResourceFamily(
    collection="/v1/subscribers",
    key="extension",
    key_type=ExtensionPath,
    singular="subscriber",
    plural="subscribers",
    tag="Subscribers",
    create_body=SubscriberCreate,
    replace_body=SubscriberReplace,
    item_out=SubscriberOut,
    list_item_out=SubscriberOut,
    summaries=Summaries(
        list="List subscribers",
        create="Create a subscriber",
        get="Get a subscriber",
        replace="Replace a subscriber (If-Match required)",
        delete="Delete a subscriber (If-Match required; 409 while a published scenario rings it)",
    ),
    page_description="A page of subscribers",
    item_description="The subscriber",
)
NUMBERS = ResourceFamily(
    collection="/v1/numbers",
    key="number",
    key_type=NumberPath,
    singular="number",
    plural="numbers",
    tag="Numbers",
    create_body=NumberCreate,
    replace_body=NumberReplace,
    item_out=NumberOut,
    list_item_out=NumberOut,
    summaries=Summaries(
        list="List phone numbers",
        create="Add a phone number (unique across the platform) and the scenario that answers it",
        get="Get a phone number",
        replace="Point a number at another scenario, or relabel it (If-Match required)",
        delete="Release a phone number (If-Match required)",
    ),
    page_description="A page of numbers",
    item_description="The number",
    create_errors={**CREATE_ERRORS, 404: error_doc("The scenario_id names no scenario of yours")},
    delete_errors=WRITE_ERRORS,  # nothing refers to a number, so no 409
)
SCHEDULES = ResourceFamily(
    collection="/v1/schedules",
    key="schedule_id",
    key_type=IdPath,
    singular="schedule",
    plural="schedules",
    tag="Schedules",
    create_body=ScheduleCreate,
    replace_body=ScheduleReplace,
    item_out=ScheduleOut,
    list_item_out=ScheduleOut,
    summaries=Summaries(
        list="List schedules",
        create="Create a schedule (id optional: generated when absent)",
        get="Get a schedule",
        replace="Replace a schedule (If-Match required)",
        delete="Delete a schedule (If-Match required; 409 while a published scenario checks it)",
    ),
    page_description="A page of schedules",
    item_description="The schedule",
)
CALLER_LISTS = ResourceFamily(
    collection="/v1/caller-lists",
    key="list_id",
    key_type=IdPath,
    singular="caller_list",
    plural="caller_lists",
    tag="Caller lists",
    create_body=CallerListCreate,
    replace_body=CallerListReplace,
    item_out=CallerListOut,
    list_item_out=CallerListOut,
    summaries=Summaries(
        list="List caller lists",
        create="Create a caller list (id optional: generated when absent)",
        get="Get a caller list",
        replace="Replace a caller list (If-Match required)",
        delete="Delete a caller list (If-Match required; 409 while a published scenario checks it)",
    ),
    page_description="A page of caller lists",
    item_description="The caller list",
)

register_collection(router, SUBSCRIBERS, _directory_handlers(SUBSCRIBERS, lambda s: s.subscribers, subscriber_out))
register_collection(router, NUMBERS, _directory_handlers(NUMBERS, lambda s: s.numbers, number_out))
register_collection(router, SCHEDULES, _directory_handlers(SCHEDULES, lambda s: s.schedules, schedule_out))
register_collection(router, CALLER_LISTS, _directory_handlers(CALLER_LISTS, lambda s: s.caller_lists, caller_list_out))
