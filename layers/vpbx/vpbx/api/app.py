"""The resolver factory every Lambda function uses: validation, body guard, access table and error mapping.

    app = build_resolver(router, logger=logger)

Order of work for one request: access check against ROUTE_ROLES (403) → body guard (UTF-8, size, JSON, depth,
media type) → route match (404/405) → request validation (422) → route. Every failure leaves in the one error shape.
"""

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from vpbx.api.context import IF_MATCH, Caller, caller_from_event, check_access, if_match_missing
from vpbx.api.errors import (
    JSON_CONTENT_TYPE,
    InvalidBody,
    InvalidJson,
    MethodNotAllowed,
    PayloadTooLarge,
    RequestInvalid,
    RouteNotFound,
    UnsupportedMediaType,
    describe,
    error_body,
    internal_error_body,
    proxy_response,
    validation_details,
)
from vpbx.api.settings import get_settings
from vpbx.domain.errors import VpbxError

MAX_JSON_DEPTH = 64


class VpbxResolver(APIGatewayRestResolver):
    """APIGatewayRestResolver that guards the raw body before powertools touches it and never lets anything escape."""

    def __init__(self, logger: Logger, max_body_bytes: int) -> None:
        # A response that breaks its own model is our bug: 500 (logged), never a 422 blaming the client.
        super().__init__(enable_validation=True, response_validation_error_http_code=HTTPStatus.INTERNAL_SERVER_ERROR)
        self.logger = logger
        self.max_body_bytes = max_body_bytes

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        request_id = request_id_of(event, context)
        caller = caller_from_event(dict(event))
        if caller is not None:
            self.logger.append_keys(tenant_id=caller.tenant_id, key_id=caller.key_id)
        try:
            self._check_access(event, caller)
            guard_body(event, self.max_body_bytes)
            return super().resolve(event, context)
        except VpbxError as error:
            status, headers, body = describe(error)
            return proxy_response(status, body, headers)
        except Exception:
            self.logger.exception("Unhandled error outside a route", extra={"request_id": request_id})
            return proxy_response(HTTPStatus.INTERNAL_SERVER_ERROR, internal_error_body(request_id))

    def _check_access(self, event: Mapping[str, Any], caller: Caller | None) -> None:
        """ROUTE_ROLES before anything else, so a caller without the role learns nothing (not even the body schema)."""
        method, path = str(event.get("httpMethod", "")).upper(), str(event.get("path", ""))
        for route in [*self._static_routes, *self._dynamic_routes]:
            if route.method == method and route.rule.match(path):
                check_access(caller, route.method, route.path)
                return

    def allowed_methods(self, path: str) -> list[str]:
        """Methods registered for a concrete path (for 405 + Allow)."""
        routes = [*self._static_routes, *self._dynamic_routes]
        return sorted({route.method for route in routes if route.rule.match(path)})


def build_resolver(*routers: Router, logger: Logger | None = None) -> VpbxResolver:
    app = VpbxResolver(logger=logger or Logger(), max_body_bytes=get_settings().max_body_bytes)
    for router in routers:
        app.include_router(router)
    _register_error_handlers(app)
    return app


def _register_error_handlers(app: VpbxResolver) -> None:
    def error_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
        return Response(status_code=status, content_type=JSON_CONTENT_TYPE, body=json.dumps(body), headers=headers)

    @app.exception_handler(VpbxError)
    def known_error(error: VpbxError) -> Response:
        status, headers, body = describe(error)
        return error_response(status, body, headers)

    @app.exception_handler(RequestValidationError)
    def invalid_request(error: RequestValidationError) -> Response:
        if any(_is_missing_if_match(detail) for detail in error.errors()):
            return known_error(if_match_missing())  # a precondition, not a malformed request: 428 before 422
        failure = RequestInvalid("The request is invalid", validation_details(error.errors()))
        return known_error(_reclassify_json_error(failure))

    @app.exception_handler(RequestUnsupportedContentType)
    def unsupported_media_type(_: RequestUnsupportedContentType) -> Response:
        return known_error(UnsupportedMediaType("Send JSON with Content-Type: application/json"))

    @app.not_found
    def route_not_found(_: NotFoundError) -> Response:
        method, path = app.current_event.http_method.upper(), app.current_event.path
        allowed = app.allowed_methods(path)
        if allowed:
            return known_error(MethodNotAllowed(method, allowed))
        return known_error(RouteNotFound(f"No route for {method} {path}"))

    @app.exception_handler(ServiceError)
    def service_error(error: ServiceError) -> Response:
        code = HTTPStatus(error.status_code).phrase.lower().replace(" ", "_")
        return error_response(error.status_code, error_body(code, str(error.msg)))

    @app.exception_handler(Exception)
    def unexpected(error: Exception) -> Response:
        request_id = request_id_of(app.current_event.raw_event, app.lambda_context)
        app.logger.exception("Unhandled error", extra={"request_id": request_id})
        return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, internal_error_body(request_id))


def _is_missing_if_match(detail: Mapping[str, Any]) -> bool:
    loc = [str(part).lower() for part in detail.get("loc", ())]
    return detail.get("type") == "missing" and loc[:1] == ["header"] and loc[-1:] == [IF_MATCH.lower()]


def _reclassify_json_error(failure: RequestInvalid) -> VpbxError:
    # The body guard parses JSON first, so this only happens if powertools re-parses differently; keep it a 400.
    if any(detail["type"] == "json_invalid" for detail in failure.details):
        return InvalidJson("The body is not valid JSON", failure.details)
    return failure


def request_id_of(event: Mapping[str, Any], context: LambdaContext | None) -> str:
    request_context = event.get("requestContext") or {}
    request_id = request_context.get("requestId") if isinstance(request_context, Mapping) else None
    if not request_id and context is not None:
        request_id = getattr(context, "aws_request_id", None)
    return str(request_id or uuid.uuid4())


def guard_body(event: Mapping[str, Any], max_bytes: int) -> None:
    """Reject bodies powertools would choke on: not UTF-8, too large, not JSON, or nested deeper than MAX_JSON_DEPTH."""
    body = event.get("body")
    if body is None or body == "":
        return
    content_type = _header(event, "content-type")
    if content_type and not _is_json_media_type(content_type):
        raise UnsupportedMediaType(f"Send JSON with Content-Type: application/json (got {content_type[:100]!r})")
    raw = _raw_bytes(body, bool(event.get("isBase64Encoded")))
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"The body is {len(raw)} bytes; the limit is {max_bytes}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidBody(
            f"The body is not valid UTF-8 (byte {error.start})", [{"loc": ["body"], "byte": error.start}]
        ) from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidJson(
            f"The body is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})",
            [{"loc": ["body"], "line": error.lineno, "column": error.colno, "msg": error.msg}],
        ) from None
    except RecursionError:
        raise InvalidJson(f"The body is nested deeper than {MAX_JSON_DEPTH} levels") from None
    if _depth_exceeds(value, MAX_JSON_DEPTH):
        raise InvalidJson(f"The body is nested deeper than {MAX_JSON_DEPTH} levels")


def _header(event: Mapping[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name and isinstance(value, str):
            return value.strip()
    return None


def _is_json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def _raw_bytes(body: Any, is_base64: bool) -> bytes:
    if not isinstance(body, str):
        raise InvalidBody("The body must be text")
    if is_base64:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidBody("The body is not valid base64") from None
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidBody(f"The body is not valid UTF-8 (character {error.start})") from None


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict | list) and depth > limit:
            return True
        if isinstance(current, dict):
            stack.extend((child, depth + 1) for child in current.values())
        elif isinstance(current, list):
            stack.extend((child, depth + 1) for child in current)
    return False
