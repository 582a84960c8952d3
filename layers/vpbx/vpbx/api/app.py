"""The resolver factory every Lambda function uses: validation, body guard, access table and error mapping.

    app = build_resolver(router, logger=logger)

Order of work for one request: access check against ROUTE_ROLES (403) → body guard (UTF-8, size, JSON, depth,
media type) → route match (404/405) → request validation (422) → route. Every failure leaves in the one error shape.
"""

import json
import uuid
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import ResponseBuilder, Route, Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from vpbx.api.body import MAX_JSON_DEPTH, guard_body
from vpbx.api.context import IF_MATCH, Caller, caller_from_event, check_access, if_match_missing
from vpbx.api.cors import configured_origins
from vpbx.api.cors import response_headers as cors_headers
from vpbx.api.errors import (
    JSON_CONTENT_TYPE,
    InvalidJson,
    MethodNotAllowed,
    RequestInvalid,
    RouteNotFound,
    UnsupportedMediaType,
    describe,
    error_body,
    internal_error_body,
    proxy_response,
    unknown_query_parameters,
    validation_details,
    with_request_id,
)
from vpbx.api.settings import get_settings
from vpbx.domain.errors import VpbxError

__all__ = ["MAX_JSON_DEPTH", "VpbxResolver", "build_resolver"]
LogKeys = Callable[[Mapping[str, Any], Any], dict[str, Any]]


class VpbxResolver(APIGatewayRestResolver):
    """APIGatewayRestResolver that guards the raw body before powertools touches it and never lets anything escape."""

    def __init__(self, logger: Logger, max_body_bytes: int, log_keys: LogKeys | None = None) -> None:
        # A response that breaks its own model is our bug: 500 (logged), never a 422 blaming the client.
        super().__init__(enable_validation=True, response_validation_error_http_code=HTTPStatus.INTERNAL_SERVER_ERROR)
        self.logger = logger
        self.max_body_bytes = max_body_bytes
        self.log_keys = log_keys  # request-specific log keys from the event and the guarded body (e.g. call_id)
        self.cors_origins = configured_origins()

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        request_id = request_id_of(event, context)
        cors = cors_headers(_header_of(event, "origin"), self.cors_origins)
        return with_request_id(self._resolve_guarded(event, context, request_id), request_id, cors)

    def _resolve_guarded(self, event: Mapping[str, Any], context: LambdaContext, request_id: str) -> dict[str, Any]:
        caller = caller_from_event(dict(event))
        if caller is not None:
            self.logger.append_keys(tenant_id=caller.tenant_id, key_id=caller.key_id)
        try:
            self._check_access(event, caller)
            body = guard_body(event, self.max_body_bytes)
            if self.log_keys is not None:
                self.logger.append_keys(**self.log_keys(event, body))
            return super().resolve(event, context)
        except VpbxError as error:
            status, headers, error_json = describe(error)
            return proxy_response(status, error_json, headers)
        except Exception:
            self.logger.exception("Unhandled error outside a route", extra={"request_id": request_id})
            return proxy_response(HTTPStatus.INTERNAL_SERVER_ERROR, internal_error_body(request_id))

    def _call_route(self, route: Route, route_arguments: dict[str, str]) -> ResponseBuilder:
        """Refuse query parameters the route does not declare before it runs (its OpenAPI parameters are the list)."""
        registered = any(route is known for known in [*self._static_routes, *self._dynamic_routes])  # not the 404
        if registered and route.include_in_schema:
            declared = {param.alias for param in route.dependant.query_params}
            given = self.current_event.multi_value_query_string_parameters or {}
            unknown = sorted(name for name in given if name not in declared)
            if unknown:
                raise unknown_query_parameters(unknown, sorted(declared))
        return super()._call_route(route, route_arguments)

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


def build_resolver(*routers: Router, logger: Logger | None = None, log_keys: LogKeys | None = None) -> VpbxResolver:
    app = VpbxResolver(logger=logger or Logger(), max_body_bytes=get_settings().max_body_bytes, log_keys=log_keys)
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


def _header_of(event: Mapping[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name and isinstance(value, str):
            return value
    return None
