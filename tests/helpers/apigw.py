"""Build API Gateway REST (v1) proxy events the way API Gateway would, including the authorizer context."""

import base64
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from aws_lambda_powertools.utilities.typing import LambdaContext


@dataclass(frozen=True)
class FakeLambdaContext:
    function_name: str = "test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:test"
    aws_request_id: str = "req-test"
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/test"
    log_stream_name: str = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def lambda_context(request_id: str = "req-test") -> LambdaContext:
    return cast(LambdaContext, FakeLambdaContext(aws_request_id=request_id))


def authorizer_context(tenant_id: str, key_id: str = "key-test", role: str = "admin") -> dict[str, Any]:
    return {"tenant_id": tenant_id, "key_id": key_id, "role": role, "principalId": key_id}


def api_event(
    method: str,
    path: str,
    *,
    resource: str | None = None,
    body: Any = None,
    raw_body: str | bytes | None = None,
    headers: dict[str, str] | None = None,
    authorizer: dict[str, Any] | None = None,
    stage: str = "v1",
) -> dict[str, Any]:
    """A proxy event for `method path` (query string allowed in `path`).

    `resource` is the template path (`/v1/tenants/{tenant_id}`); path parameters are read from it. `body` is
    JSON-encoded; `raw_body` is sent as is (bytes that are not UTF-8 go base64-encoded, as API Gateway does).
    """
    split = urlsplit(path)
    resource = resource or split.path
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    encoded_body, is_base64 = _encode_body(body, raw_body)
    query = _query(split.query)
    return {
        "resource": resource,
        "path": split.path,
        "httpMethod": method.upper(),
        "headers": all_headers,
        "multiValueHeaders": {name: [value] for name, value in all_headers.items()},
        "queryStringParameters": {name: values[-1] for name, values in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": path_parameters(resource, split.path),
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method.upper(),
            "path": f"/{stage}{split.path}",
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "accountId": "123456789012",
            "apiId": "local",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "pytest"},
            "authorizer": authorizer,
        },
        "body": encoded_body,
        "isBase64Encoded": is_base64,
    }


def path_parameters(resource: str, path: str) -> dict[str, str] | None:
    names = re.findall(r"{(\w+)\+?}", resource)
    if not names:
        return None
    pattern = re.sub(r"{(\w+)\+}", r"(?P<\1>.+)", resource)
    pattern = re.sub(r"{(\w+)}", r"(?P<\1>[^/]+)", pattern)
    match = re.fullmatch(pattern, path)
    if match is None:
        raise ValueError(f"path {path} does not fit resource {resource}")
    return match.groupdict()


def response_json(response: dict[str, Any]) -> Any:
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return json.loads(body) if body else None


def response_header(response: dict[str, Any], name: str) -> str | None:
    for key, values in (response.get("multiValueHeaders") or {}).items():
        if key.lower() == name.lower():
            return str(values[0])
    for key, value in (response.get("headers") or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _encode_body(body: Any, raw_body: str | bytes | None) -> tuple[str | None, bool]:
    if raw_body is not None:
        if isinstance(raw_body, str):
            return raw_body, False
        try:
            return raw_body.decode("utf-8"), False
        except UnicodeDecodeError:
            return base64.b64encode(raw_body).decode(), True
    if body is None:
        return None, False
    return json.dumps(body), False


def _query(query: str) -> dict[str, list[str]]:
    return parse_qs(query, keep_blank_values=True)
