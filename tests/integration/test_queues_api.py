"""`/v1/queues` through the directory function's handler (API Gateway events) on a moto table built from
template.yaml: ETags and If-Match (428/412), bad input as located 4xx, roles, tenant isolation, the in-use guard and
the directory revision a queue write advances."""

from typing import Any

import pytest
from vpbx.store.dynamodb import DynamoRepository

from tests.helpers.apigw import response_header, response_json
from tests.helpers.queues import naming_queues, queue_body, queue_scenario
from tests.integration.test_directory_api import (  # noqa: F401  (fixtures are used by name)
    Call,
    caller_of,
    dynamo_repository,
    error_code,
    fresh_tenant,
    shared_table,
)


@pytest.fixture
def repository(dynamo_repository: DynamoRepository) -> DynamoRepository:  # noqa: F811
    return dynamo_repository


@pytest.fixture
def tenant_id(repository: DynamoRepository) -> str:
    return fresh_tenant()


@pytest.fixture
def api(tenant_id: str) -> Call:
    return caller_of("directory", tenant_id)


def test_queue_lifecycle_with_etags(api: Call) -> None:
    created = api("POST", "/v1/queues", queue_body(strategy="round_robin", hold_prompt={"text": "Please hold"}))
    assert created["statusCode"] == 201, created["body"]
    assert response_header(created, "ETag") == '"1"'
    assert response_header(created, "Location") == "/v1/queues/support"
    body = response_json(created)
    assert (body["strategy"], body["max_waiting"], body["members"][1]) == (
        "round_robin",
        20,
        {"extension": "102", "priority": 0},
    )

    replaced = api("PUT", "/v1/queues/support", queue_body(None, members=("103",), max_waiting=3), if_match=1)
    assert replaced["statusCode"] == 200, replaced["body"]
    assert response_header(replaced, "ETag") == '"2"'
    fetched = api("GET", "/v1/queues/support")
    assert response_header(fetched, "ETag") == '"2"'
    assert (response_json(fetched)["members"], response_json(fetched)["strategy"]) == (
        [{"extension": "103", "priority": 0}],
        "ring_all",
    )
    listed = response_json(api("GET", "/v1/queues"))
    assert ([q["id"] for q in listed["items"]], listed["next_cursor"]) == (["support"], None)

    assert api("DELETE", "/v1/queues/support", if_match=2)["statusCode"] == 204
    assert api("GET", "/v1/queues/support")["statusCode"] == 404


def test_a_queue_without_an_id_gets_one(api: Call) -> None:
    created = api("POST", "/v1/queues", queue_body(None))
    assert created["statusCode"] == 201
    queue_id = response_json(created)["id"]
    assert queue_id.startswith("que-")
    assert response_header(created, "Location") == f"/v1/queues/{queue_id}"


def test_queue_writes_need_a_current_if_match(api: Call) -> None:
    api("POST", "/v1/queues", queue_body())

    missing = api("PUT", "/v1/queues/support", queue_body(None, name="B"))
    missing_delete = api("DELETE", "/v1/queues/support")
    assert api("PUT", "/v1/queues/support", queue_body(None, name="B"), if_match=1)["statusCode"] == 200
    stale = api("PUT", "/v1/queues/support", queue_body(None, name="C"), if_match=1)
    stale_delete = api("DELETE", "/v1/queues/support", if_match=1)

    assert (missing["statusCode"], error_code(missing)) == (428, "precondition_required")
    assert (missing_delete["statusCode"], error_code(missing_delete)) == (428, "precondition_required")
    assert (stale["statusCode"], error_code(stale)) == (412, "precondition_failed")
    assert (stale_delete["statusCode"], error_code(stale_delete)) == (412, "precondition_failed")
    assert response_json(api("GET", "/v1/queues/support"))["name"] == "B"


def test_listing_pages_with_a_cursor(api: Call) -> None:
    for n in range(5):
        assert api("POST", "/v1/queues", queue_body(f"q{n}"))["statusCode"] == 201
    first = response_json(api("GET", "/v1/queues?limit=2"))
    second = response_json(api("GET", f"/v1/queues?limit=2&cursor={first['next_cursor']}"))
    third = response_json(api("GET", f"/v1/queues?limit=2&cursor={second['next_cursor']}"))
    pages = [[q["id"] for q in page["items"]] for page in (first, second, third)]
    assert pages == [["q0", "q1"], ["q2", "q3"], ["q4"]]
    assert third["next_cursor"] is None
    assert api("GET", "/v1/queues?limit=0")["statusCode"] in {200, 422}  # clamped or refused, never 5xx
    assert api("GET", "/v1/queues?cursor=garbage")["statusCode"] == 400


MEMBERS_51 = [{"extension": str(100 + n)} for n in range(51)]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"name": "Q", "members": [{"extension": "101"}, {"extension": "101", "priority": 1}]}, "member once"),
        ({"name": "Q", "members": MEMBERS_51}, "members"),
        ({"name": "Q", "members": [{"extension": "12a"}]}, "extension"),
        ({"name": "Q", "members": [{"extension": "101", "priority": -1}]}, "priority"),
        ({"name": "Q", "max_waiting": 0}, "max_waiting"),
        ({"name": "Q", "max_waiting": 201}, "max_waiting"),
        ({"name": "Q", "member_ring_seconds": 121}, "member_ring_seconds"),
        ({"name": "Q", "max_wait_seconds": 9}, "max_wait_seconds"),
        ({"name": "Q", "wrapup_seconds": 601}, "wrapup_seconds"),
        ({"name": "Q", "poll_seconds": 4}, "poll_seconds"),
        ({"name": "Q", "strategy": "longest_idle"}, "strategy"),
        ({"name": "Q", "hold_prompt": {}}, "either text"),
        ({"name": "Q", "announcements": {"every_seconds": 601}}, "every_seconds"),
        ({"name": "Q", "tenant_id": "globex"}, "tenant_id"),
        ({"name": "Q", "version": 4}, "version"),
        ({"name": "", "members": []}, "name"),
        ({"members": []}, "name"),
        ({"name": "Q", "id": "bad id!"}, "id"),
    ],
)
def test_bad_queues_are_a_located_422_and_nothing_is_stored(api: Call, body: dict[str, Any], where: str) -> None:
    response = api("POST", "/v1/queues", body)
    assert (response["statusCode"], error_code(response)) == (422, "validation_error"), response["body"]
    assert where in response["body"]
    assert response_json(api("GET", "/v1/queues"))["items"] == []


def test_bad_replacements_and_paths_are_4xx(api: Call) -> None:
    api("POST", "/v1/queues", queue_body())
    duplicate = {"name": "Q", "members": [{"extension": "101"}, {"extension": "101"}]}
    assert api("PUT", "/v1/queues/support", duplicate, if_match=1)["statusCode"] == 422
    assert api("PUT", "/v1/queues/support", {"name": "Q", "id": "other"}, if_match=1)["statusCode"] == 422
    assert api("PUT", "/v1/queues/support", raw_body="{not json", if_match=1)["statusCode"] == 400
    assert api("GET", "/v1/queues/" + "x" * 65)["statusCode"] == 422
    assert api("PUT", "/v1/queues/nobody", queue_body(None), if_match=1)["statusCode"] == 404
    assert response_json(api("GET", "/v1/queues/support"))["version"] == 1


def test_queue_roles(api: Call) -> None:
    assert api("POST", "/v1/queues", queue_body(), role="viewer")["statusCode"] == 403
    assert api("POST", "/v1/queues", queue_body(), role="editor")["statusCode"] == 201
    assert api("GET", "/v1/queues/support", role="viewer")["statusCode"] == 200
    assert api("PUT", "/v1/queues/support", queue_body(None), if_match=1, role="viewer")["statusCode"] == 403
    assert api("DELETE", "/v1/queues/support", if_match=1, role="viewer")["statusCode"] == 403
    assert api("GET", "/v1/queues", role="telephony")["statusCode"] == 403
    assert api("PUT", "/v1/queues/support", queue_body(None), if_match=1, role="editor")["statusCode"] == 200


def test_another_tenants_queue_is_404_and_never_listed(api: Call) -> None:
    other_tenant = fresh_tenant()
    api("POST", "/v1/queues", queue_body())

    assert api("GET", "/v1/queues/support", tenant=other_tenant)["statusCode"] == 404
    replaced = api("PUT", "/v1/queues/support", queue_body(None, name="Mine"), if_match=1, tenant=other_tenant)
    assert replaced["statusCode"] == 404
    assert api("DELETE", "/v1/queues/support", if_match=1, tenant=other_tenant)["statusCode"] == 404
    assert response_json(api("GET", "/v1/queues", tenant=other_tenant))["items"] == []
    mine = api("POST", "/v1/queues", queue_body(name="Theirs"), tenant=other_tenant)  # the same id is theirs to use
    assert mine["statusCode"] == 201
    assert response_json(api("GET", "/v1/queues/support"))["name"] == "Support"
    assert [q["name"] for q in response_json(api("GET", "/v1/queues"))["items"]] == ["Support"]


def test_every_queue_write_advances_the_directory_revision(
    api: Call, tenant_id: str, repository: DynamoRepository
) -> None:
    seen = [repository.directory_revision(tenant_id)]
    api("POST", "/v1/queues", queue_body())
    seen.append(repository.directory_revision(tenant_id))
    api("PUT", "/v1/queues/support", queue_body(None, max_waiting=2), if_match=1)
    seen.append(repository.directory_revision(tenant_id))
    api("DELETE", "/v1/queues/support", if_match=2)
    seen.append(repository.directory_revision(tenant_id))
    assert seen == sorted(set(seen)), seen


def test_a_queue_a_published_scenario_names_cannot_be_deleted(
    api: Call, tenant_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    naming_queues(monkeypatch)
    scenarios = caller_of("scenarios", tenant_id)
    api("POST", "/v1/queues", queue_body())
    api("POST", "/v1/subscribers", {"extension": "101", "name": "Agent"})
    assert scenarios("POST", "/v1/scenarios", queue_scenario("support"))["statusCode"] == 201
    assert scenarios("POST", "/v1/scenarios/main/publish", if_match=1)["statusCode"] == 201

    refused = api("DELETE", "/v1/queues/support", if_match=1)
    assert (refused["statusCode"], error_code(refused)) == (409, "in_use")
    details = response_json(refused)["error"]["details"]
    assert [(d["scenario_id"], d["loc"]) for d in details] == [("main", ["path", "queue_id"])]
    assert api("GET", "/v1/queues/support")["statusCode"] == 200
    assert api("DELETE", "/v1/subscribers/101", if_match=1)["statusCode"] == 204  # a member is no name
