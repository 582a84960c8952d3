"""The whole API's OpenAPI 3.1 document, assembled from every route family's router.

Each Lambda function only holds its own family, so the spec is built from all routers at once; families not written
yet are skipped. powertools' default 422 schema is replaced by our error body, and the API key scheme is declared.
"""

import importlib
import json
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.api_gateway import Router

from vpbx.api.context import ROUTE_ROLES, route_key
from vpbx.api.models import ErrorBody

ROUTE_FAMILIES = ("admin", "directory", "scenarios", "calls", "docs")
TITLE = "vpbx — virtual PBX API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Multi-tenant virtual PBX: directory, call scenarios and live call routing. Authenticate with the `X-Api-Key` "
    'header. Errors are `{"error": {"code", "message", "details"}}`; versioned resources return an `ETag` and '
    "need `If-Match` to change; lists are paginated with `limit` and `cursor`."
)
API_KEY_SCHEME = "ApiKey"


def family_routers() -> list[Router]:
    routers = []
    for family in ROUTE_FAMILIES:
        try:
            module = importlib.import_module(f"vpbx.api.routes.{family}")
        except ModuleNotFoundError as error:
            if error.name != f"vpbx.api.routes.{family}":
                raise  # a family that exists but fails to import is a bug, not an absence
            continue
        routers.append(module.router)
    return routers


def build_openapi() -> dict[str, Any]:
    return json.loads(_openapi_json())


@lru_cache(maxsize=1)
def openapi_json() -> str:
    return _openapi_json()


def _openapi_json() -> str:
    resolver = APIGatewayRestResolver(enable_validation=True)
    for router in family_routers():
        previous = router.api_resolver
        resolver.include_router(router)
        router.api_resolver = previous  # the router keeps serving its own function's resolver
    raw = resolver.get_openapi_json_schema(title=TITLE, version=VERSION, description=DESCRIPTION)
    return json.dumps(_polish(json.loads(raw)), indent=2, sort_keys=False)


def _polish(spec: dict[str, Any]) -> dict[str, Any]:
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    # powertools' validation-error schemas: our error body replaces them (ResponseValidationError would dangle)
    for replaced in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(replaced, None)
    schemas["ErrorBody"] = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schemas["ErrorBody"].pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    components["securitySchemes"] = {API_KEY_SCHEME: {"type": "apiKey", "in": "header", "name": "X-Api-Key"}}
    spec["security"] = [{API_KEY_SCHEME: []}]
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            roles = ROUTE_ROLES.get(route_key(method, path))
            if roles is not None and not roles:
                operation["security"] = []
            elif roles:
                operation["x-vpbx-roles"] = sorted(roles)
            for status, response in operation.get("responses", {}).items():
                if status == "204":
                    response.pop("content", None)  # No Content: powertools documents the handler's None as JSON
                if status == "422" or (status[:1] in {"4", "5"}):
                    response["content"] = {"application/json": {"schema": error_ref}}
            operation["responses"].setdefault(
                "500", {"description": "Internal error (body carries only a request id)", "content": {}}
            )
            operation["responses"]["500"]["content"] = {"application/json": {"schema": error_ref}}
    return spec
