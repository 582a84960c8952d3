"""The committed openapi.json is the code's spec: current, valid OpenAPI 3.1, in step with template.yaml, served as is.

Regenerate with `make openapi` (scripts/generate_openapi.py) after changing a route, a model or a response.
"""

import difflib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from openapi_spec_validator.validation import OpenAPIV31SpecValidator
from vpbx.api.context import ROUTE_ROLES
from vpbx.api.openapi import build_openapi
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
