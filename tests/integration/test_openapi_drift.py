"""The committed openapi.json is the code's spec: current, valid OpenAPI 3.1, in step with template.yaml, served as is.

Regenerate with `make openapi` (scripts/generate_openapi.py) after changing a route, a model or a response.
"""

import difflib
import json
from collections.abc import Iterator
from typing import Any

import pytest
import vpbx
from openapi_spec_validator.validation import OpenAPIV31SpecValidator
from vpbx.api.context import ROUTE_ROLES, route_key
from vpbx.api.openapi import build_openapi, family_routers
from vpbx.local.template import local_api

from scripts.generate_openapi import OPENAPI_FILE, REGENERATE_COMMAND, render_openapi
from tests.helpers.apigw import api_event, lambda_context, response_header
from tests.helpers.functions import load_function

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
ERROR_SCHEMA_REF = "#/components/schemas/ErrorBody"
# The documentation routes serve the spec itself; they are deployed but deliberately not described in it.
DOCUMENTATION_ROUTES = {("GET", "/v1/openapi.json"), ("GET", "/v1/docs")}


@pytest.fixture(scope="module")
def committed_text() -> str:
    if not OPENAPI_FILE.exists():
        pytest.fail(f"{OPENAPI_FILE.name} is missing; run `{REGENERATE_COMMAND}` and commit it")
    return OPENAPI_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def committed(committed_text: str) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(committed_text)
    return spec


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method.upper(), path, operation


def test_committed_spec_matches_the_code(committed_text: str) -> None:
    generated = render_openapi(build_openapi())
    if committed_text != generated:
        diff = difflib.unified_diff(
            committed_text.splitlines(), generated.splitlines(), "openapi.json (committed)", "code", lineterm="", n=1
        )
        excerpt = "\n".join(list(diff)[:40])
        pytest.fail(f"openapi.json is out of date with the code; run `{REGENERATE_COMMAND}` and commit it.\n{excerpt}")


def test_committed_spec_is_stable_text(committed_text: str, committed: dict[str, Any]) -> None:
    assert committed_text == render_openapi(committed), "not sorted/indented as the generator writes it"
    assert committed_text.endswith("}\n")


def test_spec_is_valid_openapi_3_1(committed: dict[str, Any]) -> None:
    assert committed["openapi"].startswith("3.1.")
    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message[:200]}" for error in _validation_errors(committed)
    ]
    assert errors == []


def _validation_errors(spec: dict[str, Any]) -> list[Any]:
    return list(OpenAPIV31SpecValidator(spec).iter_errors())


def test_validator_rejects_a_dangling_reference(committed: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(committed))
    broken["components"]["schemas"].pop("ErrorBody")
    with pytest.raises(Exception, match="ErrorBody"):
        _validation_errors(broken)


def test_every_template_route_is_in_the_spec_and_vice_versa(committed: dict[str, Any]) -> None:
    template_routes = {(route.method, route.resource) for route in local_api().routes}
    spec_routes = {(method, path) for method, path, _ in operations(committed)}
    assert sorted(template_routes - DOCUMENTATION_ROUTES - spec_routes) == [], "deployed but not documented"
    assert sorted(spec_routes - template_routes) == [], "documented but not deployed"
    assert template_routes >= DOCUMENTATION_ROUTES


def test_every_operation_states_the_roles_of_the_access_table(committed: dict[str, Any]) -> None:
    for method, path, operation in operations(committed):
        roles = ROUTE_ROLES[(method, path)]
        assert operation.get("x-vpbx-roles") == sorted(roles), f"{method} {path}"


def test_every_error_response_uses_the_error_schema(committed: dict[str, Any]) -> None:
    wrong = []
    for method, path, operation in operations(committed):
        assert "500" in operation["responses"], f"{method} {path} documents no 500"
        for status, response in operation["responses"].items():
            if status[:1] in {"4", "5"}:
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if schema != {"$ref": ERROR_SCHEMA_REF}:
                    wrong.append(f"{method} {path} {status}: {schema}")
    assert wrong == []
    assert set(committed["components"]["schemas"]["ErrorBody"]["properties"]) == {"error"}


@pytest.mark.parametrize("path", ["/v1/openapi.json", "/v1/docs?format=json"])
def test_the_api_serves_the_committed_spec(committed: dict[str, Any], path: str) -> None:
    route, _ = local_api().find("GET", path.partition("?")[0]) or pytest.fail(f"no route for {path}")
    handler = load_function(route.function.logical_id).handler
    response = handler(api_event("GET", path, resource=route.resource), lambda_context())
    assert response["statusCode"] == 200
    assert (response_header(response, "Content-Type") or "").startswith("application/json")
    assert json.loads(response["body"]) == committed


# ------------------------------------------------------------------------------------------------ what clients need


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)


def test_operation_ids_are_the_handlers_names_in_camel_case(committed: dict[str, Any]) -> None:
    """`grep -rn createSubscriber` finds the spec's operation and its handler: def create_subscriber."""
    handlers = {
        (method, route_key(method, rule)[1]): function.__name__
        for router in family_routers()
        for (rule, methods, *_), function in router._routes.items()
        for method in methods
    }
    ids = {(method, path): operation["operationId"] for method, path, operation in operations(committed)}
    assert {key: _camel(handlers[key]) for key in ids} == ids
    assert len(set(ids.values())) == len(ids)


def test_every_operation_has_a_summary_a_description_and_declared_tags(committed: dict[str, Any]) -> None:
    declared = {tag["name"] for tag in committed["tags"]}
    assert all(tag.get("description") for tag in committed["tags"])
    for method, path, operation in operations(committed):
        assert operation.get("summary"), f"{method} {path}"
        assert len(operation.get("description", "")) >= 40, f"{method} {path}"
        assert operation["tags"], f"{method} {path}"
        assert set(operation["tags"]) <= declared, f"{method} {path}"
    assert {name[:1] for name in declared} == {name[:1].upper() for name in declared}, "tag names in one case"


def test_every_operation_documents_its_success_and_rate_limits(committed: dict[str, Any]) -> None:
    for method, path, operation in operations(committed):
        responses = operation["responses"]
        successes = [status for status in responses if status.startswith("2")]
        assert len(successes) == 1, f"{method} {path}: {successes}"
        success = responses[successes[0]]
        if successes[0] != "204":
            assert success["content"]["application/json"]["schema"], f"{method} {path}"
        if successes[0] == "201" and operation["operationId"] != "startCall":
            assert "Location" in success["headers"], f"{method} {path}"
        for status in ("429", "503"):
            assert "Retry-After" in responses[status]["headers"], f"{method} {path} {status}"


def test_versioned_resources_document_their_etag(committed: dict[str, Any]) -> None:
    for method, path, operation in operations(committed):
        success = next(response for status, response in operation["responses"].items() if status.startswith("2"))
        versioned = path.split("/")[2] in {"subscribers", "numbers", "schedules", "caller-lists", "queues", "scenarios"}
        item_read = (method in {"GET", "PUT"} and path.count("/") == 3) or operation["operationId"].startswith("create")
        if versioned and item_read and operation["operationId"] != "listScenarioVersions":
            assert "ETag" in success.get("headers", {}), f"{method} {path}"


def test_request_bodies_and_main_responses_carry_examples(committed: dict[str, Any]) -> None:
    for method, path, operation in operations(committed):
        if "requestBody" in operation:
            assert operation["requestBody"]["content"]["application/json"].get("examples"), f"{method} {path}"
    walkthrough = {"createSubscriber", "createScenario", "publishScenario", "simulateScenario", "startCall", "getCall"}
    for _, _, operation in operations(committed):
        if operation["operationId"] in walkthrough:
            success = next(r for status, r in operation["responses"].items() if status.startswith("2"))
            assert success["content"]["application/json"]["examples"]["walkthrough"]["value"]


def test_actions_are_typed_everywhere_with_a_required_discriminator(committed: dict[str, Any]) -> None:
    schemas = committed["components"]["schemas"]
    for holder in ("CallDecisionOut", "CallDetailOut", "TraceStepOut", "SimulationStepOut"):
        action = schemas[holder]["properties"]["action"]
        mapping = action["anyOf"][0]["discriminator"]["mapping"]
        assert set(mapping) >= {"ring", "play", "collect", "voicemail", "fax", "hangup"}, holder
        for ref in mapping.values():
            assert "type" in schemas[ref.rsplit("/", 1)[-1]]["required"], ref


def test_the_contract_has_the_package_version_and_a_license(committed: dict[str, Any]) -> None:
    assert committed["info"]["version"] == vpbx.__version__
    assert committed["info"]["license"]["name"]


IDEMPOTENT_OPERATIONS = {
    "createSubscriber",
    "createNumber",
    "createSchedule",
    "createCallerList",
    "createQueue",
    "createScenario",
    "publishScenario",
    "createTenant",
    "createKey",
    "createWebhook",
}


def test_creates_and_publish_document_the_idempotency_key(committed: dict[str, Any]) -> None:
    takes_key = {
        operation["operationId"]
        for _, _, operation in operations(committed)
        if any(parameter["name"].lower() == "idempotency-key" for parameter in operation.get("parameters", []))
    }
    assert takes_key == IDEMPOTENT_OPERATIONS
    for _, _, operation in operations(committed):
        if operation["operationId"] in IDEMPOTENT_OPERATIONS:
            assert "idempotency_key_in_use" in operation["responses"]["409"]["description"]
            assert "idempotency_key_reused" in operation["responses"]["422"]["description"]
