"""Request/response models shared by every route family: the error body, the page envelope, paging parameters."""

from typing import Annotated, Generic, TypeVar

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse, OpenAPIResponseHeader
from pydantic import ConfigDict, Field

from vpbx.domain.base import LazyModel
from vpbx.store.ports import DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT

T = TypeVar("T")


class RequestModel(LazyModel):
    """Base of every request body: unknown fields are a 422, never silently dropped."""

    model_config = ConfigDict(extra="forbid", str_max_length=4096)


class ErrorDetail(LazyModel):
    """One problem: where (`loc`, from body, query, path or header), what (`msg`) and which rule (`type`); some
    errors add keys of their own (current_seq, element_id, code…)."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int] = Field(description="Where the problem is, e.g. ['body', 'elements', 2, 'wait_seconds']")
    msg: str
    type: str = Field(description="The rule that failed, e.g. missing, extra_forbidden, unknown_parameter")


class ErrorInfo(LazyModel):
    code: str = Field(description="Stable machine-readable code, e.g. not_found, validation_error")
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)
    request_id: str = Field(description="The request's id (also in the X-Request-Id header); quote it when reporting")


class ErrorBody(LazyModel):
    """Every non-2xx response: `{"error": {"code", "message", "details"}}`."""

    error: ErrorInfo


class PageOf(LazyModel, Generic[T]):
    """A page of a list; pass `next_cursor` back as `cursor` to get the next one (null: no more)."""

    items: list[T]
    next_cursor: str | None = None


Limit = Annotated[
    int, Query(ge=1, le=MAX_PAGE_LIMIT, description=f"Page size, 1–{MAX_PAGE_LIMIT} (default {DEFAULT_PAGE_LIMIT})")
]
Cursor = Annotated[str | None, Query(max_length=2048, description="Opaque cursor from the previous page's next_cursor")]

RETRY_AFTER_HEADER: dict[str, OpenAPIResponseHeader] = {
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
}
_RETRY_LATER = {429, 503}
ERROR_RESPONSES: dict[int, OpenAPIResponse] = {
    status: {
        "description": description,
        "content": {"application/json": {"model": ErrorBody}},
        **({"headers": RETRY_AFTER_HEADER} if status in _RETRY_LATER else {}),
    }
    for status, description in {
        400: "Malformed request (body not UTF-8/JSON, bad cursor or If-Match)",
        401: "Missing or unknown API key",
        403: "The key's role may not do this, or the key is revoked",
        404: "No such object for this tenant",
        413: "The request body is larger than the limit",
        415: "The request body is not application/json",
        422: "Validation failed (unknown fields, wrong types, out-of-range parameters)",
        429: "too_many_requests: the API's rate limit is exceeded (slow down); quota_exceeded: the tenant's "
        "request quota for the period is used up",
        503: "Storage is throttling or briefly unavailable; retry after the Retry-After seconds",
    }.items()
}
"""Responses every route may give; pass as `responses=` (add 409/412/428 on writes of versioned resources)."""
