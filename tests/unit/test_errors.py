"""The resolver factory's edges: error mapping, body guard, validation shape, 404/405, 500 without leaks, access."""

from typing import Annotated, Any

import pytest
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from vpbx.api.app import MAX_JSON_DEPTH, build_resolver
from vpbx.api.context import ROUTE_ROLES, caller_from_event, etag, expected_version
from vpbx.api.errors import STATUS_BY_ERROR
from vpbx.api.models import Cursor, Limit, RequestModel
from vpbx.domain import errors as domain_errors

from tests.helpers.apigw import api_event, authorizer_context, lambda_context, response_header, response_json

router = Router()
raised: dict[str, Exception] = {}


class Thing(RequestModel):
    name: str
    size: int = 1


@router.post("/v1/subscribers")
def create_thing(thing: Annotated[Thing, Body()]) -> dict[str, Any]:
    return {"name": thing.name, "size": thing.size}


@router.get("/v1/subscribers")
def list_things(limit: Limit = 50, cursor: Cursor = None) -> dict[str, Any]:
    if "error" in raised:
        raise raised["error"]
    return {"items": [], "next_cursor": cursor, "limit": limit}


@router.put("/v1/subscribers/<extension>")
def update_thing(extension: str) -> dict[str, Any]:
    return {"extension": extension, "expected": expected_version(router)}


class Shaped(RequestModel):
    count: int


@router.get("/v1/subscribers/<extension>")
def broken_response(extension: str) -> Shaped:
    return {"count": "not a number"}  # type: ignore[return-value]  # deliberately breaks its own response model


@router.get("/v1/not-in-the-table")
def unlisted() -> dict[str, Any]:
    return {}


app = build_resolver(router)
ADMIN = authorizer_context("acme", role="admin")


def call(method: str, path: str, authorizer: dict[str, Any] | None = ADMIN, **kwargs: Any) -> dict[str, Any]:
    return app.resolve(api_event(method, path, authorizer=authorizer, **kwargs), lambda_context())


def error_of(response: dict[str, Any]) -> dict[str, Any]:
    body = response_json(response)
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    return dict(body["error"])


@pytest.fixture(autouse=True)
def _no_raise() -> Any:
    yield
    raised.clear()


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (domain_errors.NotFound("x"), 404),
        (domain_errors.AlreadyExists("x"), 409),
        (domain_errors.InUse("x"), 409),
        (domain_errors.Conflict("x"), 409),
        (domain_errors.VersionMismatch("x"), 412),
        (domain_errors.PreconditionRequired("x"), 428),
        (domain_errors.InvalidScenario("x", [{"element": "a"}]), 422),
        (domain_errors.InvalidInput("x"), 400),
        (domain_errors.Forbidden("x"), 403),
        (domain_errors.Unavailable("x"), 503),
    ],
)
def test_domain_errors_map_to_status_and_shape(error: domain_errors.VpbxError, status: int) -> None:
    raised["error"] = error
    response = call("GET", "/v1/subscribers")
    assert response["statusCode"] == status
    body = error_of(response)
    assert body["code"] == error.code
    assert body["details"] == [{"loc": [], "msg": "", "type": "", **detail} for detail in error.details]


def test_every_domain_error_class_has_a_status() -> None:
    classes = [c for c in vars(domain_errors).values() if isinstance(c, type) and issubclass(c, Exception)]
    unmapped = [c.__name__ for c in classes if c is not domain_errors.VpbxError and c not in STATUS_BY_ERROR]
    assert unmapped == []


def test_unavailable_says_when_to_retry() -> None:
    raised["error"] = domain_errors.Unavailable("throttled")
    assert response_header(call("GET", "/v1/subscribers"), "Retry-After") == "1"


def test_unexpected_exception_is_500_without_its_text() -> None:
    raised["error"] = RuntimeError("secret table name vpbx-prod in /var/task/x.py")
    response = call("GET", "/v1/subscribers")
    assert response["statusCode"] == 500
    body = error_of(response)
    assert body["code"] == "internal_error"
    assert "secret" not in response["body"]
    assert "Traceback" not in response["body"]
    assert body["request_id"] in body["message"]
    assert body["details"] == []


def test_unknown_field_is_422_with_loc_msg_type() -> None:
    response = call("POST", "/v1/subscribers", body={"name": "a", "colour": "red"})
    assert response["statusCode"] == 422
    body = error_of(response)
    assert body["code"] == "validation_error"
    extra = {"loc": ["body", "colour"], "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}
    assert body["details"] == [extra]


def test_valid_body_reaches_the_route() -> None:
    response = call("POST", "/v1/subscribers", body={"name": "a", "size": 3})
    assert response["statusCode"] == 200
    assert response_json(response) == {"name": "a", "size": 3}


@pytest.mark.parametrize(("limit", "status"), [("0", 422), ("101", 422), ("abc", 422), ("100", 200), ("1", 200)])
def test_limit_is_bounded(limit: str, status: int) -> None:
    response = call("GET", f"/v1/subscribers?limit={limit}")
    assert response["statusCode"] == status
    if status == 422:
        assert error_of(response)["details"][0]["loc"] == ["query", "limit"]


def test_not_json_is_400_with_position() -> None:
    response = call("POST", "/v1/subscribers", raw_body='{"name": ')
    assert response["statusCode"] == 400
    body = error_of(response)
    assert body["code"] == "invalid_json"
    assert body["details"][0]["line"] == 1


def test_non_utf8_body_is_400_invalid_body() -> None:
    response = call("POST", "/v1/subscribers", raw_body=b'{"name": "\xff\xfe"}')
    assert response["statusCode"] == 400
    assert error_of(response)["code"] == "invalid_body"


def test_lone_surrogate_in_text_body_is_400() -> None:
    response = call("POST", "/v1/subscribers", raw_body='{"name": "\udcff"}')
    assert response["statusCode"] == 400
    assert error_of(response)["code"] == "invalid_body"


def test_oversized_body_is_413() -> None:
    response = call("POST", "/v1/subscribers", body={"name": "x" * (600 * 1024)})
    assert response["statusCode"] == 413
    assert error_of(response)["code"] == "payload_too_large"


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5000])
def test_deep_nesting_is_400_not_a_crash(depth: int) -> None:
    response = call("POST", "/v1/subscribers", raw_body="[" * depth + "]" * depth)
    assert response["statusCode"] == 400
    assert error_of(response)["code"] == "invalid_json"


def test_unknown_route_is_404_and_wrong_method_405() -> None:
    missing = call("GET", "/v1/nothing-here")
    assert missing["statusCode"] == 404
    assert error_of(missing)["code"] == "not_found"
    wrong = call("DELETE", "/v1/subscribers")
    assert wrong["statusCode"] == 405
    assert error_of(wrong)["code"] == "method_not_allowed"
    assert response_header(wrong, "Allow") == "GET, POST"


def test_role_outside_the_table_is_403() -> None:
    response = call("POST", "/v1/subscribers", body={"name": "a"}, authorizer=authorizer_context("acme", role="viewer"))
    assert response["statusCode"] == 403
    assert error_of(response)["code"] == "forbidden"


def test_no_authorizer_context_is_403() -> None:
    assert call("GET", "/v1/subscribers", authorizer=None)["statusCode"] == 403


def test_route_missing_from_the_access_table_fails_closed() -> None:
    assert call("GET", "/v1/not-in-the-table")["statusCode"] == 500


def test_caller_comes_only_from_the_authorizer_context() -> None:
    event = api_event("GET", "/v1/subscribers", headers={"X-Tenant-Id": "evil"}, authorizer=ADMIN)
    caller = caller_from_event(event)
    assert caller is not None
    assert (caller.tenant_id, caller.role) == ("acme", "admin")
    forged_operator = authorizer_context("acme", role="operator")
    assert caller_from_event(api_event("GET", "/", authorizer=forged_operator)) is None


@pytest.mark.parametrize(("if_match", "status", "expected"), [('"7"', 200, 7), ('W/"7"', 200, 7), ("7", 200, 7)])
def test_if_match_gives_the_expected_version(if_match: str, status: int, expected: int) -> None:
    response = call("PUT", "/v1/subscribers/101", headers={"If-Match": if_match})
    assert response["statusCode"] == status
    assert response_json(response)["expected"] == expected


def test_missing_if_match_is_428_and_garbage_is_400() -> None:
    missing = call("PUT", "/v1/subscribers/101")
    assert missing["statusCode"] == 428
    assert error_of(missing)["code"] == "precondition_required"
    assert call("PUT", "/v1/subscribers/101", headers={"If-Match": '"abc"'})["statusCode"] == 400


def test_etag_round_trips_through_if_match() -> None:
    response = call("PUT", "/v1/subscribers/101", headers={"If-Match": etag(12)})
    assert response_json(response)["expected"] == 12


def test_access_table_uses_known_roles_only() -> None:
    known = {"operator", "admin", "editor", "viewer", "telephony"}
    assert all(roles <= known for roles in ROUTE_ROLES.values())
    telephony_routes = {route for route, roles in ROUTE_ROLES.items() if "telephony" in roles}
    assert telephony_routes == {
        ("POST", "/v1/calls"),
        ("POST", "/v1/calls/{call_id}/events"),
        # issue 14: an agent pauses itself in a queue with a feature code on its phone
        ("POST", "/v1/queues/{queue_id}/members/{extension}/pause"),
        ("POST", "/v1/queues/{queue_id}/members/{extension}/unpause"),
    }
    assert {route for route, roles in ROUTE_ROLES.items() if "operator" in roles} == {
        ("POST", "/v1/tenants"),
        ("GET", "/v1/tenants/{tenant_id}"),
        ("PUT", "/v1/tenants/{tenant_id}"),
        ("GET", "/v1/tenants/{tenant_id}/keys"),
        ("POST", "/v1/tenants/{tenant_id}/keys"),
        ("DELETE", "/v1/tenants/{tenant_id}/keys/{key_id}"),
    }


def test_a_response_that_breaks_its_model_is_500_not_422() -> None:
    response = call("GET", "/v1/subscribers/101")
    assert response["statusCode"] == 500
    assert error_of(response)["code"] == "internal_error"
    assert "not a number" not in response["body"]


def test_access_is_checked_before_the_body_is_looked_at() -> None:
    viewer = authorizer_context("acme", role="viewer")
    response = call("POST", "/v1/subscribers", raw_body='{"colour": ', authorizer=viewer)
    assert response["statusCode"] == 403


def test_every_response_carries_api_gateways_request_id() -> None:
    """On AWS the id is API Gateway's (requestContext.requestId), the one its access logs and gateway errors show."""
    event = api_event("GET", "/v1/subscribers", authorizer=ADMIN)
    event["requestContext"]["requestId"] = "apigw-req-123"
    assert response_header(app.resolve(event, lambda_context()), "X-Request-Id") == "apigw-req-123"
    missing = api_event("GET", "/v1/nowhere", authorizer=ADMIN)
    missing["requestContext"]["requestId"] = "apigw-req-456"
    response = app.resolve(missing, lambda_context())
    assert response_header(response, "X-Request-Id") == "apigw-req-456"
    assert error_of(response)["request_id"] == "apigw-req-456"


def test_error_details_always_have_loc_msg_type() -> None:
    raised["error"] = domain_errors.Conflict("stale", [{"current_seq": 2}])
    [detail] = error_of(call("GET", "/v1/subscribers"))["details"]
    assert {"loc", "msg", "type", "current_seq"} <= set(detail)
