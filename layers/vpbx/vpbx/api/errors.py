"""The one place where exceptions become HTTP responses: `{"error": {"code", "message", "details"}}`.

Domain errors know nothing about HTTP; this module gives each a status. Anything unexpected becomes a 500
`internal_error` that carries only a request id: the exception is logged, never sent to the client.
"""

import json
from http import HTTPStatus
from typing import Any

from vpbx.domain.errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    InUse,
    InvalidField,
    InvalidInput,
    InvalidScenario,
    NotFound,
    PreconditionRequired,
    Unavailable,
    VersionMismatch,
    VpbxError,
)

JSON_CONTENT_TYPE = "application/json"
RETRY_AFTER_SECONDS = 1


# ---------------------------------------------------------------- errors that only exist at the HTTP edge
class Unauthorized(VpbxError):
    """No API key, or one nobody issued."""

    code = "unauthorized"


class InvalidBody(VpbxError):
    """The request body is not UTF-8 text, or not JSON, or nested absurdly deep."""

    code = "invalid_body"


class InvalidJson(InvalidBody):
    code = "invalid_json"


class PayloadTooLarge(VpbxError):
    code = "payload_too_large"


class UnsupportedMediaType(VpbxError):
    code = "unsupported_media_type"


class RouteNotFound(VpbxError):
    code = "not_found"


class MethodNotAllowed(VpbxError):
    code = "method_not_allowed"

    def __init__(self, method: str, allowed: list[str]) -> None:
        super().__init__(f"Method {method} is not allowed here; allowed: {', '.join(allowed)}")
        self.allowed = allowed


class RequestInvalid(VpbxError):
    """Request validation failed (unknown field, wrong type, out-of-range query parameter)."""

    code = "validation_error"


# Most specific class first is not needed: lookups walk the exception's MRO.
STATUS_BY_ERROR: dict[type[VpbxError], HTTPStatus] = {
    NotFound: HTTPStatus.NOT_FOUND,
    RouteNotFound: HTTPStatus.NOT_FOUND,
    AlreadyExists: HTTPStatus.CONFLICT,
    InUse: HTTPStatus.CONFLICT,
    Conflict: HTTPStatus.CONFLICT,
    VersionMismatch: HTTPStatus.PRECONDITION_FAILED,
    PreconditionRequired: HTTPStatus.PRECONDITION_REQUIRED,
    InvalidScenario: HTTPStatus.UNPROCESSABLE_ENTITY,
    InvalidField: HTTPStatus.UNPROCESSABLE_ENTITY,
    RequestInvalid: HTTPStatus.UNPROCESSABLE_ENTITY,
    InvalidInput: HTTPStatus.BAD_REQUEST,
    InvalidBody: HTTPStatus.BAD_REQUEST,
    PayloadTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    UnsupportedMediaType: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    Unauthorized: HTTPStatus.UNAUTHORIZED,
    Forbidden: HTTPStatus.FORBIDDEN,
    MethodNotAllowed: HTTPStatus.METHOD_NOT_ALLOWED,
    Unavailable: HTTPStatus.SERVICE_UNAVAILABLE,
}


def status_of(error: VpbxError) -> HTTPStatus:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return HTTPStatus.BAD_REQUEST  # a VpbxError nobody mapped is still the client's problem, not a crash


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": [error_detail(detail) for detail in details or []]}}


def error_detail(detail: dict[str, Any]) -> dict[str, Any]:
    """One detail in the one shape: `loc` (a path starting with body, query, path or header), `msg`, `type`, then
    whatever else its source adds (current_seq, element_id…). The sources build that shape; this only guarantees the
    three keys exist, so a client never has to guess (tests/security/audit.py fails on an empty or unrooted loc)."""
    return {
        "loc": list(detail.get("loc") or []),
        "msg": str(detail.get("msg") or ""),
        "type": str(detail.get("type") or ""),
        **{key: value for key, value in detail.items() if key not in {"loc", "msg", "type"}},
    }


def unknown_query_parameters(unknown: list[str], declared: list[str]) -> InvalidInput:
    accepted = ", ".join(declared) or "none"
    return InvalidInput(
        f"Unknown query parameter(s): {', '.join(name[:64] for name in unknown[:10])}; this route accepts {accepted}",
        [
            {"loc": ["query", name[:64]], "msg": "unknown query parameter", "type": "unknown_parameter"}
            for name in unknown
        ],
    )


def headers_of(error: VpbxError) -> dict[str, str]:
    if isinstance(error, Unavailable):
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if isinstance(error, MethodNotAllowed):
        return {"Allow": ", ".join(error.allowed)}
    return {}


def describe(error: VpbxError) -> tuple[HTTPStatus, dict[str, str], dict[str, Any]]:
    """Status, extra headers and body for a known error."""
    return status_of(error), headers_of(error), error_body(error.code, error.message, error.details)


def internal_error_body(request_id: str) -> dict[str, Any]:
    return error_body("internal_error", f"Internal error. Quote request id {request_id} when reporting it.")


def validation_details(errors: Any) -> list[dict[str, Any]]:
    """pydantic/powertools validation errors reduced to loc/msg/type (no input echo, no ctx with internals)."""
    return [
        {
            "loc": [part if isinstance(part, int) else str(part) for part in error.get("loc", ())],
            "msg": str(error.get("msg", "")).removeprefix("Value error, "),
            "type": error["type"],
        }
        for error in errors
    ]


def proxy_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A complete API Gateway proxy response, for paths that answer before the resolver runs."""
    all_headers = {"Content-Type": JSON_CONTENT_TYPE, **(headers or {})}
    return {
        "statusCode": int(status),
        "multiValueHeaders": {name: [value] for name, value in all_headers.items()},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


REQUEST_ID_HEADER = "X-Request-Id"


def with_request_id(response: dict[str, Any], request_id: str, extra: dict[str, str] | None = None) -> dict[str, Any]:
    """Every response names its request (X-Request-Id) and carries `extra` headers (CORS); every error body carries
    the request id too (`error.request_id`)."""
    for name, value in {REQUEST_ID_HEADER: request_id, **(extra or {})}.items():
        response.setdefault("multiValueHeaders", {})[name] = [value]
        if isinstance(response.get("headers"), dict):
            response["headers"][name] = value
    if int(response.get("statusCode", 200)) >= 400 and not response.get("isBase64Encoded"):
        try:
            body = json.loads(response.get("body") or "")
        except ValueError:
            return response
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            body["error"]["request_id"] = request_id
            response["body"] = json.dumps(body)
    return response
