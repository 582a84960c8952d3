"""OpenAPI response documentation shared by the route modules: error entries and `documented(...)`.

Kept apart from the directory routes so that a function importing only these (calls) does not load the directory
service and its models at cold start.
"""

from http import HTTPStatus
from typing import Any, cast

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse, OpenAPIResponseHeader

from vpbx.api.models import ERROR_RESPONSES, ErrorBody

__all__ = [
    "CREATE_ERRORS",
    "DELETE_ERRORS",
    "ETAG_HEADER",
    "READ_ERRORS",
    "WRITE_ERRORS",
    "deleted_docs",
    "documented",
    "error_doc",
]


def error_doc(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": ErrorBody}}}


READ_ERRORS = cast(dict[int, OpenAPIResponse], {int(status): entry for status, entry in ERROR_RESPONSES.items()})
CREATE_ERRORS = {**READ_ERRORS, 409: error_doc("Already exists (same extension, id or number)")}
WRITE_ERRORS = {
    **READ_ERRORS,
    412: error_doc("If-Match is stale: someone changed the object since you read it"),
    428: error_doc("If-Match is missing"),
}
DELETE_ERRORS = {**WRITE_ERRORS, 409: error_doc("in_use: published scenarios refer to it (details name them)")}
ETAG_HEADER: dict[str, OpenAPIResponseHeader] = {
    "ETag": {"description": 'The version, quoted ("3"); send it back in If-Match', "schema": {"type": "string"}}
}


def documented(
    status: int, model: Any, description: str, errors: dict[int, OpenAPIResponse], etag: bool = True
) -> dict[int, OpenAPIResponse]:
    """OpenAPI responses of a route: its success (model, ETag header) and the errors it may give."""
    success: OpenAPIResponse = {"description": description}
    if model is not None:
        success["content"] = {"application/json": {"model": model}}
    if etag:
        success["headers"] = ETAG_HEADER
    return {**errors, status: success}


def deleted_docs(errors: dict[int, OpenAPIResponse]) -> dict[int, OpenAPIResponse]:
    return documented(HTTPStatus.NO_CONTENT, None, "Deleted", errors, etag=False)
