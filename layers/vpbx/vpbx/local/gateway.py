"""An in-process stand-in for API Gateway (REST, proxy integration) driven by the routes in template.yaml.

For each request: match a route (404/405) → unless public, run the REQUEST authorizer exactly as API Gateway
would (401 on "Unauthorized", 403 on Deny) → build the v1 proxy event with the authorizer context → call the
function's handler, loaded by file path → turn its proxy response back into status, headers and body.
"""

import base64
import importlib.util
import json
import sys
import traceback
import uuid
from dataclasses import dataclass
from fnmatch import fnmatchcase
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, unquote

from vpbx.api import cors
from vpbx.local.instances import InProcess, Invoker
from vpbx.local.template import Function, LocalApi, Route

ACCOUNT = "000000000000"
REGION = "local"
API_ID = "local"
REQUEST_ID_HEADER = "X-Request-Id"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


class LocalGateway:
    """`invoker` runs the functions: in this process by default (tests that patch the repository in-process), or a
    ProcessPool of instance processes that serve requests in parallel (`vpbx serve`)."""

    def __init__(self, api: LocalApi, invoker: Invoker | None = None) -> None:
        self.api = api
        self.invoker = invoker or InProcess(load_module)
        self.cors_origins = cors.configured_origins()

    def close(self) -> None:
        self.invoker.close()

    # ------------------------------------------------------------------------------------------------ requests
    def handle(self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes) -> HttpResponse:
        """Like API Gateway: a request id per request, named by every response (X-Request-Id; the function sets it
        from the event's requestContext.requestId, the gateway on its own answers)."""
        request_id = str(uuid.uuid4())
        origin = next((value for name, value in headers if name.lower() == "origin"), None)
        if method == "OPTIONS":
            response = self._preflight(raw_path, origin, request_id)
        else:
            response = self._route(method, raw_path, headers, body, request_id)
        missing = {REQUEST_ID_HEADER: request_id, **cors.response_headers(origin, self.cors_origins)}
        added = [(name, value) for name, value in missing.items() if response.header(name) is None]
        return HttpResponse(response.status, [*response.headers, *added], response.body) if added else response

    def _preflight(self, raw_path: str, origin: str | None, request_id: str) -> HttpResponse:
        """What template.yaml's `Cors` makes API Gateway answer to OPTIONS: a MOCK 204 without the authorizer."""
        path = unquote(raw_path.partition("?")[0]) or "/"
        methods = self.api.methods_for(path)
        if not methods:
            return self._gateway_response("MISSING_AUTHENTICATION_TOKEN", 404, request_id)
        return HttpResponse(204, list(cors.preflight_headers(origin, self.cors_origins, methods).items()), b"")

    def _route(
        self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes, request_id: str
    ) -> HttpResponse:
        path, _, query = raw_path.partition("?")
        path = unquote(path) or "/"
        found = self.api.find(method, path)
        if found is None:
            return self._no_route(method, path, request_id)
        route, path_parameters = found
        event = self._proxy_event(route, method, path, query, headers, body, path_parameters, request_id)
        if not route.public:
            denied = self._authorize(route, event, request_id)
            if isinstance(denied, HttpResponse):
                return denied
            event["requestContext"]["authorizer"] = denied
        return self._invoke_function(route.function, event, request_id)

    def _no_route(self, method: str, path: str, request_id: str) -> HttpResponse:
        allowed = self.api.methods_for(path)
        if allowed:
            message = f"Method {method} is not allowed here; allowed: {', '.join(allowed)}"
            body = _error("method_not_allowed", message, request_id)
            return _json_response(405, body, [("Allow", ", ".join(allowed))])
        return self._gateway_response("MISSING_AUTHENTICATION_TOKEN", 404, request_id)

    # ---------------------------------------------------------------------------------------------- authorizer
    def _authorize(self, route: Route, event: dict[str, Any], request_id: str) -> HttpResponse | dict[str, Any]:
        if self.api.authorizer is None:
            return {}
        headers = event["headers"] or {}
        if not any(name.lower() == "x-api-key" and value for name, value in headers.items()):
            return self._gateway_response("UNAUTHORIZED", 401, request_id)  # identity source missing: no invocation
        method_arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{self.api.stage}/{route.method}{event['path']}"
        authorizer_event = {
            "type": "REQUEST",
            "methodArn": method_arn,
            "resource": event["resource"],
            "path": event["path"],
            "httpMethod": event["httpMethod"],
            "headers": event["headers"],
            "multiValueHeaders": event["multiValueHeaders"],
            "queryStringParameters": event["queryStringParameters"],
            "multiValueQueryStringParameters": event["multiValueQueryStringParameters"],
            "pathParameters": event["pathParameters"],
            "stageVariables": None,
            "requestContext": {k: v for k, v in event["requestContext"].items() if k != "authorizer"},
        }
        try:
            result = self._call(self.api.authorizer, authorizer_event, request_id)
        except Exception as error:
            if str(error) == "Unauthorized":
                return self._gateway_response("UNAUTHORIZED", 401, request_id)
            traceback.print_exc(file=sys.stderr)
            return self._gateway_response("AUTHORIZER_FAILURE", 500, request_id)
        if not _allows(result, method_arn):
            return self._gateway_response("ACCESS_DENIED", 403, request_id)
        context = {str(k): v for k, v in (result.get("context") or {}).items()}
        return {**context, "principalId": str(result.get("principalId", ""))}

    # ------------------------------------------------------------------------------------------------ functions
    def _invoke_function(self, function: Function, event: dict[str, Any], request_id: str) -> HttpResponse:
        if not function.module_file.exists():
            message = f"{function.logical_id} is not written yet ({function.module_file.name})"
            body = _error("not_implemented", message, request_id)
            return _json_response(501, body)
        try:
            result = self._call(function, event, request_id)
            return _from_proxy_result(result)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            return self._gateway_response("DEFAULT_5XX", 502, request_id)

    def _call(self, function: Function, event: dict[str, Any], request_id: str) -> Any:
        return self.invoker.invoke(function, event, request_id)

    # ------------------------------------------------------------------------------------------------ events
    def _proxy_event(
        self,
        route: Route,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        path_parameters: dict[str, str],
        request_id: str,
    ) -> dict[str, Any]:
        multi_headers: dict[str, list[str]] = {}
        for name, value in headers:
            multi_headers.setdefault(name, []).append(value)
        multi_query = parse_qs(query, keep_blank_values=True)
        text_body, is_base64 = _encode_body(body)
        return {
            "resource": route.resource,
            "path": path,
            "httpMethod": method,
            "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": path_parameters or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": "local",
                "resourcePath": route.resource,
                "httpMethod": method,
                "path": f"/{self.api.stage}{path}",
                "stage": self.api.stage,
                "requestId": request_id,
                "accountId": ACCOUNT,
                "apiId": API_ID,
                "protocol": "HTTP/1.1",
                "identity": {"sourceIp": "127.0.0.1", "userAgent": multi_headers.get("User-Agent", [""])[-1]},
                "authorizer": None,
            },
            "body": text_body,
            "isBase64Encoded": is_base64,
        }

    # ------------------------------------------------------------------------------------------ gateway responses
    def _gateway_response(self, kind: str, status: int, request_id: str) -> HttpResponse:
        """The template's GatewayResponses body for `kind` (falling back to DEFAULT_4XX/5XX), as API Gateway renders."""
        family = "DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"
        configured = self.api.gateway_responses.get(kind) or self.api.gateway_responses.get(family) or {}
        status = int(configured.get("StatusCode", status))
        body_template = (configured.get("ResponseTemplates") or {}).get("application/json")
        message = json.dumps(_DEFAULT_MESSAGES.get(kind, "Error"))
        if body_template:
            text = body_template.replace("$context.requestId", request_id)
            text = text.replace("$context.error.messageString", message)
        else:
            text = json.dumps(_error(kind.lower(), json.loads(message), request_id))
        headers = [("Content-Type", "application/json")]
        for name, value in ((configured.get("ResponseParameters") or {}).get("Headers") or {}).items():
            if isinstance(value, str):  # static values; CORS (a !Sub of the template's origin) is added in handle()
                headers.append((name, value.strip("'")))
        return HttpResponse(status, headers, text.encode())


_DEFAULT_MESSAGES = {
    "UNAUTHORIZED": "Unauthorized",
    "ACCESS_DENIED": "User is not authorized to access this resource",
    "MISSING_AUTHENTICATION_TOKEN": "Missing Authentication Token",
    "AUTHORIZER_FAILURE": "Internal server error",
    "DEFAULT_5XX": "Internal server error",
}


def load_module(function: Function) -> ModuleType:
    """Import functions/<name>/app.py under a unique module name (every function's file is called app.py)."""
    name = f"vpbx_local_function_{function.logical_id}"
    spec = importlib.util.spec_from_file_location(name, function.module_file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {function.module_file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _allows(result: Any, method_arn: str) -> bool:
    if not isinstance(result, dict):
        return False
    statements = (result.get("policyDocument") or {}).get("Statement") or []
    effects = [
        statement.get("Effect")
        for statement in statements
        if any(fnmatchcase(method_arn, resource) for resource in _as_list(statement.get("Resource")))
    ]
    return "Allow" in effects and "Deny" not in effects


def _as_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value]
    return [str(value)] if value is not None else []


def _encode_body(body: bytes) -> tuple[str | None, bool]:
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True


def _from_proxy_result(result: Any) -> HttpResponse:
    if not isinstance(result, dict) or "statusCode" not in result:
        raise TypeError("the function did not return an API Gateway proxy response")
    headers: list[tuple[str, str]] = []
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    for name, values in multi.items():
        headers.extend((name, str(value)) for value in values)
    headers.extend((name, str(value)) for name, value in single.items() if name not in multi)
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    return HttpResponse(int(result["statusCode"]), headers, raw)


def _error(code: str, message: str, request_id: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": [], "request_id": request_id}}


def _json_response(status: int, body: dict[str, Any], headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json"), *(headers or [])], json.dumps(body).encode())
