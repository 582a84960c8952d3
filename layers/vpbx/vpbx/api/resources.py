"""What the routes of versioned resources share: the If-Match header, the ETag response, Locations and pages.

The directory's four collections and scenario drafts have the same shape (a page of items; create answers 201 with a
Location; get, replace and delete address one item by its key in the path; writes of an existing item need If-Match),
but each route is an explicit handler in its family's module, named after its operation.
"""

from collections.abc import Callable
from http import HTTPStatus
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header
from pydantic import BaseModel

from vpbx.api.context import IF_MATCH, etag
from vpbx.api.errors import JSON_CONTENT_TYPE
from vpbx.api.models import PageOf
from vpbx.store.models import Page

Record = TypeVar("Record")
Out = TypeVar("Out", bound=BaseModel)

# Required: powertools' "missing" validation error for it becomes our 428 in vpbx.api.app (one error mapping).
IfMatch = Annotated[
    str,
    Header(
        alias=IF_MATCH,
        description='The ETag you last read, e.g. "3" (W/"3" and 3 are accepted too). '
        "Missing: 428 precondition_required; stale: 412 precondition_failed; not an ETag of this API: 400.",
        examples=['"1"'],
        # Documented, not enforced here: version_from_if_match enforces it with its own located 400.
        json_schema_extra={"pattern": r'^(W/)?"?[0-9]{1,12}"?$'},
    ),
]


def versioned_response(
    body: BaseModel, version: int, status: int = HTTPStatus.OK, location: str | None = None
) -> Response[Any]:
    """One versioned resource with its ETag (and Location for a create)."""
    headers = {"ETag": etag(version)}
    if location is not None:
        headers["Location"] = location
    return Response(status_code=status, content_type=JSON_CONTENT_TYPE, body=body, headers=headers)


def item_location(collection: str, key: str) -> str:
    """`<collection>/<key>` with the key URL-encoded (a number's plus becomes %2B)."""
    return f"{collection}/{quote(key, safe='')}"


def page_of(page: Page[Record], to_out: Callable[[Record], Out]) -> PageOf[Out]:
    """A store page as the API's page envelope."""
    return PageOf(items=[to_out(record) for record in page.items], next_cursor=page.next_cursor)
