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
    "LOCATION_HEADER",
    "READ_ERRORS",
    "WRITE_ERRORS",
    "deleted_docs",
    "documented",
    "error_doc",
    "idempotent_errors",
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
LOCATION_HEADER: dict[str, OpenAPIResponseHeader] = {
    "Location": {"description": "Path of the created object", "schema": {"type": "string"}}
}


def documented(
    status: int,
    model: Any,
    description: str,
    errors: dict[int, OpenAPIResponse],
    etag: bool = True,
    location: bool = False,
) -> dict[int, OpenAPIResponse]:
    """OpenAPI responses of a route: its success (model, ETag/Location headers) and the errors it may give."""
    success: OpenAPIResponse = {"description": description}
    if model is not None:
        success["content"] = {"application/json": {"model": model}}
    headers = {**(ETAG_HEADER if etag else {}), **(LOCATION_HEADER if location else {})}
    if headers:
        success["headers"] = headers
    return {**errors, status: success}


def created(model: Any, errors: dict[int, OpenAPIResponse], etag: bool = True) -> Any:
    """A 201 with the created object, its Location (and ETag for a versioned object); creates take Idempotency-Key."""
    errors = idempotent_errors(errors)
    return documented(HTTPStatus.CREATED, model, "Created", errors, etag=etag, location=True)


def idempotent_errors(errors: dict[int, OpenAPIResponse]) -> dict[int, OpenAPIResponse]:
    """`errors` and what an Idempotency-Key adds: 409 idempotency_key_in_use, 422 idempotency_key_reused."""

    def joined(status: int, addition: str) -> OpenAPIResponse:
        earlier = errors[status]["description"] if status in errors else None
        return error_doc(f"{earlier}; or {addition}" if earlier else addition)

    return {
        **errors,
        409: joined(409, "idempotency_key_in_use: a request with this Idempotency-Key is still running"),
        422: joined(422, "idempotency_key_reused: the Idempotency-Key was used for another request"),
    }


def deleted_docs(errors: dict[int, OpenAPIResponse]) -> dict[int, OpenAPIResponse]:
    return documented(HTTPStatus.NO_CONTENT, None, "Deleted", errors, etag=False)
