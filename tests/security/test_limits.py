"""Limits and bad input: every case is a 4xx in the one error shape — never a 5xx, never a traceback.

Runs in-process (template routes → authorizer → handler) on moto. Every response also passes the leak scan of
tests.security.audit (no "Traceback", no `File "…", line N`, no internal exception names in error bodies).
"""

import json
from typing import Any

import pytest
from vpbx.api.app import MAX_JSON_DEPTH
from vpbx.api.settings import DEFAULT_MAX_BODY_BYTES
from vpbx.domain.scenario import MAX_ELEMENTS
from vpbx.store.ports import MAX_PAGE_LIMIT

from tests.security.audit import leaks
from tests.security.figures import report
from tests.security.harness import ApiResponse, InProcessApi, World, build_world, seed_scenario

CHECKED: list[int] = []


@pytest.fixture(scope="module")
def world(api: InProcessApi) -> World:
    return build_world(api, 5)


def refused(response: ApiResponse, *statuses: int) -> str:
    """Assert a clean 4xx (one of `statuses`) in the error shape; return its code."""
    CHECKED.append(response.status)
    assert response.status in statuses, response.text[:500]
    assert leaks(response.text) == []
    return response.error_code()


WRITE_ROUTES = [
    ("POST", "/v1/subscribers"),
    ("POST", "/v1/scenarios"),
    ("PUT", "/v1/scenarios/{scenario}"),
    ("POST", "/v1/calls"),
    ("POST", "/v1/numbers"),
    ("POST", "/v1/scenarios/{scenario}/simulate"),
]


def concrete(path: str, world: World) -> str:
    return path.replace("{scenario}", world.scenarios[0])


def key_for(path: str, world: World) -> str:
    return world.keys["telephony" if path == "/v1/calls" else "admin"]


@pytest.mark.parametrize(("method", "path"), WRITE_ROUTES)
def test_a_body_over_the_limit_is_413(api: InProcessApi, world: World, method: str, path: str) -> None:
    body = json.dumps({"name": "x" * (DEFAULT_MAX_BODY_BYTES + 1)}).encode()
    key = key_for(path, world)
    response = api.request(method, concrete(path, world), key, raw_body=body, headers={"If-Match": '"1"'})
    assert refused(response, 413) == "payload_too_large"


@pytest.mark.parametrize(("method", "path"), WRITE_ROUTES)
@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"name": "\xff\xfe"}', id="invalid-utf8"),
        pytest.param(b'{"name": "unterminated', id="broken-json"),
        pytest.param(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), id="too-deep"),
        pytest.param(b"[" * 200_000 + b"]" * 200_000, id="recursion-bomb"),
        pytest.param(b'{"a": ' * 10_000 + b"1" + b"}" * 10_000, id="deep-objects"),
        pytest.param(b"\x00\x01\x02", id="binary"),
        pytest.param(b"NaN", id="nan"),
    ],
)
def test_malformed_bodies_are_400(api: InProcessApi, world: World, method: str, path: str, raw: bytes) -> None:
    key = key_for(path, world)
    response = api.request(method, concrete(path, world), key, raw_body=raw, headers={"If-Match": '"1"'})
    assert refused(response, 400, 422) in {"invalid_body", "invalid_json", "validation_error"}


def test_a_non_json_content_type_is_415(api: InProcessApi, world: World) -> None:
    response = api.request(
        "POST", "/v1/subscribers", world.keys["admin"], raw_body=b"extension=1", headers={"Content-Type": "text/plain"}
    )
    assert refused(response, 415) == "unsupported_media_type"


def elements(count: int) -> dict[str, Any]:
    items: list[dict[str, Any]] = [{"id": "start", "type": "incoming_call"}]
    items += [{"id": f"h{n}", "type": "hangup"} for n in range(count - 1)]
    return {"name": "Huge", "elements": items, "connections": [{"from": "start", "to": "h0"}]}


def test_a_scenario_over_the_element_cap_is_refused_and_not_stored(api: InProcessApi, world: World) -> None:
    at_cap = api.request("POST", "/v1/scenarios", world.keys["admin"], {"id": "at-cap", **elements(MAX_ELEMENTS)})
    assert at_cap.status == 201, at_cap.text[:300]
    over = api.request("POST", "/v1/scenarios", world.keys["admin"], {"id": "over-cap", **elements(MAX_ELEMENTS + 1)})
    assert refused(over, 422) == "validation_error"
    assert any("elements" in detail.get("loc", []) for detail in over.json()["error"]["details"])
    assert api.request("GET", "/v1/scenarios/over-cap", world.keys["admin"]).status == 404


def test_huge_values_are_refused_cleanly(api: InProcessApi, world: World) -> None:
    huge_name = api.request("POST", "/v1/subscribers", world.keys["admin"], {"extension": "5999", "name": "n" * 50_000})
    assert refused(huge_name, 422) == "validation_error"
    many_patterns = {"name": "L", "patterns": ["+7916"] * 10_001}
    assert refused(api.request("POST", "/v1/caller-lists", world.keys["admin"], many_patterns), 422, 413)
    wide = {"name": "Wide", "elements": [{"id": "start", "type": "incoming_call", "x": "y" * 100_000}]}
    assert refused(api.request("POST", "/v1/scenarios", world.keys["admin"], wide), 422)
    huge_number = 10**400
    raw = json.dumps({"seq": 1, "outcome": "no_answer"}).replace("1", str(huge_number)).encode()
    path = f"/v1/calls/{world.calls[0]}/events"
    assert refused(api.request("POST", path, world.keys["telephony"], raw_body=raw), 400, 422)


@pytest.mark.parametrize("limit", [str(MAX_PAGE_LIMIT + 1), "0", "-1", "1e3", "abc", "99999999999999999999", ""])
@pytest.mark.parametrize("path", ["/v1/subscribers", "/v1/scenarios", "/v1/calls", "/v1/numbers"])
def test_limit_outside_its_range_is_422(api: InProcessApi, world: World, path: str, limit: str) -> None:
    response = api.request("GET", f"{path}?limit={limit}", world.keys["viewer"])
    assert refused(response, 422, 400) in {"validation_error", "invalid_input"}


@pytest.mark.parametrize("cursor", ["not-a-cursor", "eyJ0IjoiYSJ9", "%00", "a" * 2049, "////"])
def test_a_forged_cursor_is_400_not_500(api: InProcessApi, world: World, cursor: str) -> None:
    response = api.request("GET", f"/v1/subscribers?cursor={cursor}", world.keys["viewer"])
    refused(response, 400, 422)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/subscribers", {"extension": "5001", "name": "A", "role": "admin"}),
        ("POST", "/v1/subscribers", {"extension": "5002", "name": "A", "version": 7}),
        ("POST", "/v1/subscribers", {"extension": 5003, "name": "A"}),
        ("POST", "/v1/subscribers", {"extension": "5004", "name": ["A"]}),
        ("POST", "/v1/subscribers", {"extension": "5005", "name": "A", "enabled": "maybe"}),
        ("POST", "/v1/subscribers", ["not", "an", "object"]),
        ("POST", "/v1/scenarios", {"id": "x", "name": "A", "elements": "nope"}),
        ("POST", "/v1/scenarios", {"name": "A", "elements": [{"id": "s", "type": "teleport"}]}),
        ("POST", "/v1/calls", {"call_id": "c", "from": "+7916", "to": 74951234567}),
        ("POST", "/v1/calls", {"call_id": "c" * 500, "to": "+74951234567"}),
        ("POST", "/v1/tenants/{tenant}/keys", {"role": "admin", "scopes": ["*"]}),
        ("POST", "/v1/tenants/{tenant}/keys", {"role": "root"}),
        ("POST", "/v1/scenarios/{scenario}/rollback", {"version": "latest"}),
        ("POST", "/v1/scenarios/{scenario}/simulate", {"outcomes": {"mgr": [{"kind": "digits", "extra": 1}]}}),
    ],
)
def test_unknown_fields_and_wrong_types_are_422(
    api: InProcessApi, world: World, method: str, path: str, body: Any
) -> None:
    path = concrete(path, world).replace("{tenant}", world.tenant_id)
    response = api.request(method, path, key_for(path, world), body, headers={"If-Match": '"1"'})
    assert refused(response, 422, 400) in {"validation_error", "invalid_input"}


@pytest.mark.parametrize("if_match", ['"abc"', "W/", '"' + "9" * 40 + '"', "*", "\u00e9"])
def test_a_malformed_if_match_is_400(api: InProcessApi, world: World, if_match: str) -> None:
    body = seed_scenario(world.extensions[0], world.extensions[1])
    path = f"/v1/scenarios/{world.scenarios[1]}"
    response = api.request("PUT", path, world.keys["admin"], body, headers={"If-Match": if_match})
    assert refused(response, 400, 412) in {"invalid_input", "version_mismatch"}


@pytest.mark.parametrize("caller", ["", "abc", "+", "+0000", "1" * 32])
def test_diagram_simulation_with_a_bad_caller_is_422_not_500(api: InProcessApi, world: World, caller: str) -> None:
    path = f"/v1/scenarios/{world.scenarios[0]}/diagram?highlight=simulation&caller={caller}"
    response = api.request("GET", path, world.keys["viewer"])
    if caller == "":  # an empty caller means "withheld", as in the simulate body
        assert response.status == 200, response.text
        return
    assert refused(response, 422) == "validation_error"


def test_zz_limit_figures() -> None:
    report(
        f"Limits/bad input: {len(CHECKED)} hostile requests, statuses {sorted(set(CHECKED))}, "
        f"5xx: {sum(1 for status in CHECKED if status >= 500)}"
    )
    assert CHECKED
    assert all(400 <= status < 500 for status in CHECKED)
