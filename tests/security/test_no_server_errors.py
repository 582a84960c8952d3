"""Inputs that used to reach a 5xx: every one is now a clean 4xx in the error shape (or a 2xx where it is valid).

Found by an attacker's probes (issue 12) and by fuzzing the handlers (tests/security/test_handler_fuzz.py). Runs
in-process (template route → authorizer → handler) on moto; every response passes the leak scan.
"""

import json
from typing import Any
from urllib.parse import quote

import pytest

from tests.security.audit import leaks
from tests.security.harness import ApiResponse, InProcessApi, World, build_world, seed_scenario

DEEP = 100_000


@pytest.fixture(scope="module")
def world(api: InProcessApi) -> World:
    return build_world(api, 6)


def clean_4xx(response: ApiResponse, *statuses: int) -> dict[str, Any]:
    assert response.status in statuses, response.text[:500]
    assert leaks(response.text) == []
    response.error_code()
    body: dict[str, Any] = response.json()["error"]
    return body


def write_routes(world: World) -> list[tuple[str, str, str]]:
    """(method, path, role) of a write on every function that takes a body."""
    scenario, call = world.scenarios[0], world.calls[0]
    return [
        ("POST", "/v1/calls", "telephony"),
        ("POST", f"/v1/calls/{call}/events", "telephony"),
        ("POST", "/v1/subscribers", "admin"),
        ("POST", "/v1/scenarios", "admin"),
        ("POST", f"/v1/scenarios/{scenario}/simulate", "admin"),
        ("POST", f"/v1/tenants/{world.tenant_id}/keys", "admin"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"call_id": ' + b"[" * DEEP + b"]" * DEEP + b"}", id="deep-call-id"),
        pytest.param(b'{"call_id": "x", "a": ' + b'{"a":' * 80_000 + b"1" + b"}" * 80_000 + b"}", id="deep-objects"),
        pytest.param(b'{"call_id": ' + b"9" * 5_000 + b"}", id="huge-int-call-id"),
        pytest.param(b'{"seq": ' + b"1" * 4_301 + b', "outcome": "answered"}', id="huge-int"),
        pytest.param(b'{"seq": -' + b"1" * 10_000 + b"}", id="huge-negative-int"),
        pytest.param(b'{"seq": NaN, "outcome": "answered"}', id="nan"),
        pytest.param(b'{"seq": Infinity, "outcome": "answered"}', id="infinity"),
        pytest.param(b'{"seq": 1e999, "outcome": "answered"}', id="float-overflow"),
        pytest.param(b'{"call_id": "a", "call_id": "b"}', id="duplicate-keys"),
    ],
)
def test_hostile_json_on_every_function_is_400(api: InProcessApi, world: World, body: bytes) -> None:
    for method, path, role in write_routes(world):
        response = api.request(method, path, world.keys[role], raw_body=body)
        error = clean_4xx(response, 400)
        assert error["code"] == "invalid_json", (path, error)


@pytest.mark.parametrize(
    "query",
    [
        "since=9999-12-31T23:59:59-12:00",
        "until=0001-01-01T00:00:00%2B14:00",
        "since=0001-01-01T00:00:00",
        "until=9999-12-31T23:59:59",
        "since=1899-12-31T23:59:59Z",
    ],
)
def test_datetimes_at_the_edges_are_422_naming_the_parameter(api: InProcessApi, world: World, query: str) -> None:
    response = api.request("GET", f"/v1/calls?{query}", world.keys["admin"])
    error = clean_4xx(response, 422)
    name = query.split("=")[0]
    assert [detail["loc"] for detail in error["details"]] == [["query", name]], error


def test_datetimes_inside_the_range_are_accepted(api: InProcessApi, world: World) -> None:
    query = "since=1900-01-01T14:00:00%2B14:00&until=8999-12-31T11:59:59-12:00"  # 1900-01-01Z, 8999-12-31T23:59:59Z
    assert api.request("GET", f"/v1/calls?{query}", world.keys["admin"]).status == 200


@pytest.fixture(scope="module")
def zoned_scenario(api: InProcessApi, world: World) -> str:
    key = world.keys["admin"]
    schedule = {"id": "tokyo", "name": "Tokyo", "timezone": "Asia/Tokyo", "weekly": {"mon": ["09:00-18:00"]}}
    assert api.request("POST", "/v1/schedules", key, schedule).status == 201
    scenario = seed_scenario(world.extensions[0], world.extensions[1])
    scenario["elements"].insert(1, {"id": "hours", "type": "schedule", "schedule_id": "tokyo"})
    start_arrow = next(arrow for arrow in scenario["connections"] if arrow["from"] == "start")
    first = start_arrow["to"]
    start_arrow["to"] = "hours"
    scenario["connections"] += [
        {"from": "hours", "exit": "open", "to": first},
        {"from": "hours", "exit": "closed", "to": first},
    ]
    created = api.request("POST", "/v1/scenarios", key, {"id": "zoned", **scenario})
    assert created.status == 201, created.text
    return "zoned"


@pytest.mark.parametrize("at", ["9999-12-31T23:00:00Z", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"])
def test_simulate_and_diagram_at_the_edges_are_422(
    api: InProcessApi, world: World, zoned_scenario: str, at: str
) -> None:
    key = world.keys["admin"]
    simulated = api.request("POST", f"/v1/scenarios/{zoned_scenario}/simulate", key, {"at": at})
    assert clean_4xx(simulated, 422)["details"][0]["loc"] == ["body", "at"]
    diagram = f"/v1/scenarios/{zoned_scenario}/diagram?highlight=simulation&at={quote(at)}"
    assert clean_4xx(api.request("GET", diagram, key), 422)["details"][0]["loc"] == ["query", "at"]


def test_simulate_late_but_in_range_works(api: InProcessApi, world: World, zoned_scenario: str) -> None:
    key = world.keys["admin"]
    simulated = api.request("POST", f"/v1/scenarios/{zoned_scenario}/simulate", key, {"at": "8999-12-31T23:00:00Z"})
    assert simulated.status == 200, simulated.text


@pytest.mark.parametrize("if_match", ["²", '"²"', "١٢", '"1"x', "W/", '"' + "9" * 40 + '"', "-1", " "])
def test_if_match_that_is_not_an_etag_is_400_or_428(api: InProcessApi, world: World, if_match: str) -> None:
    path = f"/v1/subscribers/{world.extensions[4]}"
    response = api.request("PUT", path, world.keys["admin"], {"name": "x"}, headers={"If-Match": if_match})
    error = clean_4xx(response, 400, 428)
    if response.status == 400:
        assert error["details"][0]["loc"] == ["header", "If-Match"]


def test_non_ascii_digits_never_reach_a_version(api: InProcessApi, world: World) -> None:
    before = api.request("GET", f"/v1/subscribers/{world.extensions[3]}", world.keys["admin"])
    response = api.request(
        "PUT", f"/v1/subscribers/{world.extensions[3]}", world.keys["admin"], {"name": "x"}, headers={"If-Match": "١"}
    )
    clean_4xx(response, 400)
    after = api.request("GET", f"/v1/subscribers/{world.extensions[3]}", world.keys["admin"])
    assert json.loads(after.body) == json.loads(before.body)


@pytest.mark.parametrize(
    "key",
    ["", " ", "x" * 10_000, "ключ", "\t", "vpbx_" + "A" * 43, "Bearer vpbx_abc", "%00", "\u202e", "a\u0000b"],
)
def test_odd_api_keys_are_401_not_5xx(api: InProcessApi, world: World, key: str) -> None:
    """The authorizer runs before any function: whatever the key header holds, the answer is 401 (or 403)."""
    response = api.request("GET", "/v1/subscribers", headers={"X-Api-Key": key})
    clean_4xx(response, 401, 403)
