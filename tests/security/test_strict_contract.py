"""A strict, consistent contract: booleans are not numbers, unknown query parameters are refused, and every error
detail has the one shape `{loc, msg, type}` with loc rooted at body, query, path or header (the audit checks every
error response of these suites; the tests here pin the cases that used to come in other shapes)."""

from typing import Any

import pytest
from vpbx.domain.base import LazyModel

from tests.security.harness import ApiResponse, InProcessApi, World, build_world, seed_scenario


@pytest.fixture(scope="module")
def world(api: InProcessApi) -> World:
    return build_world(api, 8)


def details(response: ApiResponse, status: int) -> list[dict[str, Any]]:
    assert response.status == status, response.text
    response.error_code()
    found: list[dict[str, Any]] = response.json()["error"]["details"]
    return found


# ------------------------------------------------------------------------------------------------ booleans


def test_a_boolean_seq_never_advances_a_call(api: InProcessApi, world: World) -> None:
    call = world.calls[1]
    before = api.request("GET", f"/v1/calls/{call}", world.keys["admin"]).json()["seq"]
    event = {"seq": True, "outcome": "no_answer"}
    refused = api.request("POST", f"/v1/calls/{call}/events", world.keys["telephony"], event)
    assert [(d["loc"], d["type"]) for d in details(refused, 422)] == [(["body", "seq"], "number_type")]
    assert api.request("GET", f"/v1/calls/{call}", world.keys["admin"]).json()["seq"] == before


@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_position_is_refused(api: InProcessApi, world: World, value: bool) -> None:
    scenario = seed_scenario(world.extensions[0], world.extensions[1])
    scenario["elements"][0]["position"] = {"x": 1, "y": value}
    response = api.request("POST", "/v1/scenarios", world.keys["admin"], {"id": f"bool-{value}".lower(), **scenario})
    locations = [detail["loc"] for detail in details(response, 422)]
    assert any(loc[:3] == ["body", "elements", 0] and loc[-1] == "y" for loc in locations), locations


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/scenarios/{scenario}/rollback", {"version": True}),
        (
            "/v1/subscribers",
            {"extension": "777", "name": "B", "kind": "mobile", "target": "+79161234567", "dial_delay_seconds": True},
        ),
    ],
)
def test_booleans_are_not_numbers_anywhere(api: InProcessApi, world: World, path: str, body: dict[str, Any]) -> None:
    response = api.request(
        "POST", path.format(scenario=world.scenarios[1]), world.keys["admin"], body, headers={"If-Match": '"1"'}
    )
    assert response.status == 422, response.text
    assert [detail["type"] for detail in response.json()["error"]["details"]] == ["number_type"]


@pytest.mark.parametrize("value", [0, 1, "true", "yes"])
def test_numbers_and_strings_are_not_booleans(api: InProcessApi, world: World, value: object) -> None:
    scenario = seed_scenario(world.extensions[0], world.extensions[1])
    scenario["elements"][1]["limit_wait"] = value  # schemathesis: {"limit_wait": 0} was accepted as false
    response = api.request("POST", "/v1/scenarios", world.keys["admin"], {"id": "lenient", **scenario})
    found = details(response, 422)
    assert [(d["loc"][:3], d["loc"][-1], d["type"]) for d in found][:1] == [
        (["body", "elements", 1], "limit_wait", "bool_type")
    ], found


def test_every_numeric_field_of_every_model_refuses_booleans() -> None:
    """The rule lives once in LazyModel; walk every model class to prove no numeric field escaped it."""
    import vpbx.api.routes.admin
    import vpbx.api.routes.calls
    import vpbx.api.routes.directory
    import vpbx.api.routes.scenarios  # noqa: F401 - load every model the API uses
    from vpbx.domain.base import _NOT_A_BOOLEAN, _is_numeric

    def subclasses(cls: type[LazyModel]) -> list[type[LazyModel]]:
        return [cls, *(grand for sub in cls.__subclasses__() for grand in subclasses(sub))]

    unguarded = [
        f"{model.__name__}.{name}"
        for model in subclasses(LazyModel)
        for name, field in model.model_fields.items()
        if _is_numeric(field.annotation) and _NOT_A_BOOLEAN not in field.metadata
    ]
    numeric = [
        name for model in subclasses(LazyModel) for name, f in model.model_fields.items() if _is_numeric(f.annotation)
    ]
    assert unguarded == []
    assert len(numeric) >= 10


# ------------------------------------------------------------------------------------------------ query parameters


@pytest.mark.parametrize(
    ("path", "unknown"),
    [
        ("/v1/calls?status=connected", ["status"]),
        ("/v1/subscribers?limit=2&sort=name&page=2", ["page", "sort"]),
        ("/v1/scenarios/{scenario}/diagram?fromat=mermaid", ["fromat"]),
        ("/v1/tenants/{tenant}?verbose=1", ["verbose"]),
    ],
)
def test_unknown_query_parameters_are_400_naming_them(
    api: InProcessApi, world: World, path: str, unknown: list[str]
) -> None:
    concrete = path.format(scenario=world.scenarios[0], tenant=world.tenant_id)
    response = api.request("GET", concrete, world.keys["admin"])
    assert response.status == 400, response.text
    assert response.error_code() == "invalid_input"
    found = response.json()["error"]["details"]
    assert [(d["loc"], d["type"]) for d in found] == [(["query", name], "unknown_parameter") for name in unknown]
    assert all(name in response.json()["error"]["message"] for name in unknown)


def test_declared_query_parameters_still_work(api: InProcessApi, world: World) -> None:
    number = world.numbers[0].replace("+", "%2B")
    response = api.request("GET", f"/v1/calls?limit=2&number={number}&since=2020-01-01T00:00:00Z", world.keys["admin"])
    assert response.status == 200, response.text


# ------------------------------------------------------------------------------------------------ one detail shape


def test_an_invalid_publish_locates_each_problem_in_the_body(api: InProcessApi, world: World) -> None:
    scenario = seed_scenario(world.extensions[0], "654321")  # 654321 is nobody: an unknown extension
    created = api.request("POST", "/v1/scenarios", world.keys["admin"], {"id": "broken", **scenario})
    assert created.status == 201, created.text
    refused = api.request(
        "POST", "/v1/scenarios/broken/publish", world.keys["admin"], headers={"If-Match": created.headers["etag"]}
    )
    found = details(refused, 422)
    assert refused.error_code() == "invalid_scenario"
    assert [detail["loc"] for detail in found] == [["body", "elements", 2, "extension"]]
    assert found[0]["element_id"] == "next"
    assert found[0]["type"] == found[0]["code"]


def test_legacy_detail_shapes_are_gone(api: InProcessApi, world: World) -> None:
    """The three shapes clients used to see: {field,message} (directory), {element_id,message} (simulation
    scripts), {current_seq,status} (call conflicts) — each now carries loc/msg/type."""
    admin = world.keys["admin"]
    missing_scenario = api.request("POST", "/v1/numbers", admin, {"number": "+74951112233", "scenario_id": "nope"})
    assert [d["loc"] for d in details(missing_scenario, 404)] == [["body", "scenario_id"]]
    script = {"outcomes": {"ghost": ["busy"]}}
    simulated = api.request("POST", f"/v1/scenarios/{world.scenarios[0]}/simulate", admin, script)
    assert [d["loc"] for d in details(simulated, 400)] == [["body", "outcomes", "ghost"]]
    stale = api.request(
        "POST", f"/v1/calls/{world.calls[2]}/events", world.keys["telephony"], {"seq": 9, "outcome": "busy"}
    )
    assert [d["loc"] for d in details(stale, 409)] == [["body", "seq"]]
    bad_cursor = api.request("GET", "/v1/subscribers?cursor=abc", admin)
    assert [d["loc"] for d in details(bad_cursor, 400)] == [["query", "cursor"]]


def test_an_unknown_path_with_a_query_is_still_404(api: InProcessApi, world: World) -> None:
    """The unknown-parameter rule applies to routes; no route (here a control character in the id) stays a 404."""
    response = api.request("GET", "/v1/tenants/a%06b/keys?limit=5", world.keys["admin"])
    assert response.status == 404, response.text
