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

from vpbx import __version__
from vpbx.api.context import ROUTE_ROLES, route_key
from vpbx.api.models import ErrorBody

ROUTE_FAMILIES = ("admin", "directory", "scenarios", "calls", "queue_live", "webhooks", "docs")
TITLE = "vpbx — virtual PBX API"
VERSION = __version__  # the package's version: one number for the code and its contract
LICENSE = {"name": "Proprietary", "identifier": "LicenseRef-vpbx-proprietary"}
TAGS = [
    {"name": "Tenants", "description": "Companies on the platform (operator keys; a tenant admin reads its own)."},
    {"name": "Keys", "description": "API keys of a tenant and their roles; a secret is shown only when issued."},
    {"name": "Subscribers", "description": "Employees under short internal numbers, and where they ring."},
    {"name": "Numbers", "description": "Phone numbers (DIDs) of the tenant and the scenario that answers each."},
    {"name": "Schedules", "description": "Reusable opening hours with holidays, checked by `schedule` elements."},
    {"name": "Caller lists", "description": "Reusable caller patterns, checked by `caller_list` elements."},
    {"name": "Queues", "description": "Call queues: agents, strategy and waiting limits, used by `queue` elements."},
    {
        "name": "Scenarios",
        "description": "Call scenarios: drafts, validation, publishing, versions, rollback, simulation, diagrams.",
    },
    {"name": "Calls", "description": "Live call routing for telephony, and the call history for the tenant."},
    {
        "name": "Webhooks",
        "description": "Signed call and scenario events POSTed to the tenant's https endpoints, with retries "
        "(docs/WEBHOOKS.md). Admin keys only.",
    },
]
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
    spec["info"]["license"] = LICENSE
    spec["tags"] = TAGS
    _add_examples(spec)
    _require_discriminators(spec, schemas)
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


def _require_discriminators(spec: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Every schema a discriminator maps to requires the discriminator's property.

    The action models give `type` a default (the executor builds them without naming it), so pydantic leaves it out
    of `required`; but the API always sends it, and a discriminator (and oneOf exclusivity) needs it required.
    """
    for mapping, property_name in _discriminators(spec):
        for ref in mapping.values():
            schema = schemas[ref.rsplit("/", 1)[-1]]
            required = schema.setdefault("required", [])
            if property_name not in required:
                required.insert(0, property_name)


def _discriminators(node: Any) -> list[tuple[dict[str, str], str]]:
    found: list[tuple[dict[str, str], str]] = []
    if isinstance(node, dict):
        discriminator = node.get("discriminator")
        if isinstance(discriminator, dict) and "mapping" in discriminator:
            found.append((discriminator["mapping"], discriminator["propertyName"]))
        for value in node.values():
            found.extend(_discriminators(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_discriminators(value))
    return found


def _add_examples(spec: dict[str, Any]) -> None:
    """The walk-through's bodies on each operation's request and success response (a typo'd operationId fails)."""
    from vpbx.api.examples import REQUEST_EXAMPLES, RESPONSE_EXAMPLES  # only the document needs them

    by_id = {op["operationId"]: op for item in spec["paths"].values() for op in item.values() if "operationId" in op}
    unknown = (REQUEST_EXAMPLES.keys() | RESPONSE_EXAMPLES.keys()) - by_id.keys()
    if unknown:
        raise ValueError(f"examples for operations that do not exist: {sorted(unknown)}")
    for operation_id, examples in REQUEST_EXAMPLES.items():
        by_id[operation_id]["requestBody"]["content"]["application/json"]["examples"] = examples
    for operation_id, body in RESPONSE_EXAMPLES.items():
        responses = by_id[operation_id]["responses"]
        success = next(responses[status] for status in sorted(responses) if status.startswith("2"))
        walkthrough = {"summary": "From the README walk-through", "value": body}
        success["content"]["application/json"]["examples"] = {"walkthrough": walkthrough}
