"""Idempotency-Key on POST creates and publish: the store's rules (in memory and on DynamoDB) and the API's replays.

The concurrent-duplicate test runs threads against one key on moto: one claim wins. The same threads with the
claim's condition removed all "win", which is what would create duplicates: that test shows the guard is the reason.
"""

import json
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from vpbx.api import deps
from vpbx.local.template import local_api
from vpbx.store import idempotency
from vpbx.store.idempotency import (
    Claim,
    DynamoIdempotencyStore,
    IdempotencyStore,
    InMemoryIdempotencyStore,
    StoredResponse,
)
from vpbx.store.memory import InMemoryRepository

from tests.helpers.apigw import api_event, authorizer_context, lambda_context, response_header
from tests.helpers.functions import load_function
from tests.helpers.tables import dynamodb_client

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ANSWER = StoredResponse(201, {"ETag": '"1"', "Location": "/v1/schedules/sch-1"}, '{"id":"sch-1"}')


def claim(key: str = "k-1", tenant: str = "acme") -> Claim:
    return Claim(tenant_id=tenant, key=key, token=uuid.uuid4().hex)


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> IdempotencyStore:
    if request.param == "memory":
        return InMemoryIdempotencyStore()
    endpoint, table_name = request.getfixturevalue("dynamo_table")
    return DynamoIdempotencyStore(table_name, endpoint_url=endpoint)


# ------------------------------------------------------------------------------------------------ the store


def test_the_first_claim_wins_and_a_retry_sees_it_running_then_answered(store: IdempotencyStore) -> None:
    first = claim()
    assert store.claim(first, "fp", T0) is None
    running = store.claim(claim(), "fp", T0)
    assert running is not None
    assert (running.fingerprint, running.response) == ("fp", None)
    store.complete(first, ANSWER, T0)
    answered = store.claim(claim(), "fp", T0 + timedelta(hours=23))
    assert answered is not None
    assert answered.response == ANSWER


def test_keys_are_per_tenant(store: IdempotencyStore) -> None:
    assert store.claim(claim(tenant="acme"), "fp", T0) is None
    assert store.claim(claim(tenant="globex"), "other", T0) is None


def test_a_released_key_and_an_expired_answer_can_be_claimed_again(store: IdempotencyStore) -> None:
    first = claim()
    store.claim(first, "fp", T0)
    store.release(first)
    second = claim()
    assert store.claim(second, "fp", T0) is None
    store.complete(second, ANSWER, T0)
    assert store.claim(claim(), "fp", T0 + idempotency.IDEMPOTENCY_TTL + timedelta(seconds=1)) is None


def test_a_claim_whose_request_died_frees_the_key_after_its_lease(store: IdempotencyStore) -> None:
    abandoned = claim()
    store.claim(abandoned, "fp", T0)
    assert store.claim(claim(), "fp", T0 + timedelta(seconds=30)) is not None
    taker = claim()
    assert store.claim(taker, "fp", T0 + idempotency.PENDING_LEASE + timedelta(seconds=1)) is None
    store.complete(abandoned, StoredResponse(201, {}, "late"), T0)  # the late request's answer does not count
    store.release(abandoned)
    store.complete(taker, ANSWER, T0)
    seen = store.claim(claim(), "fp", T0 + timedelta(minutes=5))
    assert seen is not None
    assert seen.response == ANSWER


def test_answers_are_stored_encrypted_under_the_clients_key(dynamo_table: tuple[str, str]) -> None:
    endpoint, table_name = dynamo_table
    store = DynamoIdempotencyStore(table_name, endpoint_url=endpoint)
    secret = "vpbx_" + "s" * 43
    owner = claim(key="retry-me")
    store.claim(owner, "fp", T0)
    store.complete(owner, StoredResponse(201, {}, json.dumps({"secret": secret})), T0)
    items = dynamodb_client(endpoint).scan(TableName=table_name)["Items"]
    assert len(items) == 1
    raw = json.dumps(items, default=str)
    assert "retry-me" not in raw
    assert secret not in raw
    assert secret.encode() not in items[0]["response"]["B"]


def test_concurrent_claims_on_dynamodb_let_exactly_one_request_run(dynamo_table: tuple[str, str]) -> None:
    assert _winners(dynamo_table, threads=12) == 1


def test_without_the_claims_condition_every_concurrent_request_would_run(
    dynamo_table: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    always = "attribute_exists(PK) OR " + idempotency.CLAIMABLE
    monkeypatch.setattr(idempotency, "CLAIMABLE", always)
    assert _winners(dynamo_table, threads=12) == 12


def _winners(dynamo_table: tuple[str, str], threads: int) -> int:
    endpoint, table_name = dynamo_table
    stores = [DynamoIdempotencyStore(table_name, endpoint_url=endpoint) for _ in range(threads)]
    key = f"concurrent-{uuid.uuid4().hex}"
    with ThreadPoolExecutor(max_workers=threads) as pool:
        claims = list(pool.map(lambda store: store.claim(claim(key=key), "fp", T0), stores))
    return sum(result is None for result in claims)


# ------------------------------------------------------------------------------------------------ the API


@pytest.fixture(params=["memory", "dynamodb"])
def api(request: pytest.FixtureRequest) -> Iterator[Callable[..., dict[str, Any]]]:
    """Calls a route as tenant `acme` (admin key), the repository and the idempotency store installed."""
    if request.param == "memory":
        deps.set_repository(InMemoryRepository())
        deps.set_idempotency_store(InMemoryIdempotencyStore())
    else:
        endpoint, table_name = request.getfixturevalue("dynamo_table")
        from vpbx.store.dynamodb import DynamoRepository

        deps.set_repository(DynamoRepository(table_name, endpoint_url=endpoint))
        deps.set_idempotency_store(DynamoIdempotencyStore(table_name, endpoint_url=endpoint))
    yield call
    deps.set_repository(None)
    deps.set_idempotency_store(None)


def call(
    method: str,
    path: str,
    body: Any = None,
    key: str | None = None,
    tenant: str = "acme",
    role: str = "admin",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    route, _ = local_api().find(method, path) or pytest.fail(f"no route for {method} {path}")
    all_headers = {**({"Idempotency-Key": key} if key else {}), **(headers or {})}
    event = api_event(
        method,
        path,
        resource=route.resource,
        body=body,
        headers=all_headers,
        authorizer=authorizer_context(tenant, role=role),
    )
    response: dict[str, Any] = load_function(route.function.logical_id).handler(event, lambda_context())
    return response


def _error_code(response: dict[str, Any]) -> str:
    return str(json.loads(response["body"])["error"]["code"])


OFFICE = {"name": "Office", "timezone": "Europe/Moscow", "weekly": {"mon": ["09:00-18:00"]}}


def test_a_retried_create_replays_the_first_answer_and_creates_once(api: Callable[..., dict[str, Any]]) -> None:
    first = api("POST", "/v1/schedules", OFFICE, key="create-office")
    retry = api("POST", "/v1/schedules", OFFICE, key="create-office")
    assert first["statusCode"] == retry["statusCode"] == 201
    assert json.loads(retry["body"]) == json.loads(first["body"])
    for header in ("ETag", "Location"):
        assert response_header(retry, header) == response_header(first, header)
    assert response_header(retry, "Idempotent-Replayed") == "true"
    assert response_header(first, "Idempotent-Replayed") is None
    assert len(json.loads(api("GET", "/v1/schedules")["body"])["items"]) == 1


def test_without_a_key_two_posts_create_two(api: Callable[..., dict[str, Any]]) -> None:
    api("POST", "/v1/schedules", OFFICE)
    api("POST", "/v1/schedules", OFFICE)
    assert len(json.loads(api("GET", "/v1/schedules")["body"])["items"]) == 2


def test_the_same_key_with_another_body_is_422(api: Callable[..., dict[str, Any]]) -> None:
    assert api("POST", "/v1/schedules", OFFICE, key="k")["statusCode"] == 201
    reused = api("POST", "/v1/schedules", {**OFFICE, "name": "Other"}, key="k")
    assert (reused["statusCode"], _error_code(reused)) == (422, "idempotency_key_reused")
    elsewhere = api("POST", "/v1/caller-lists", {"name": "VIP"}, key="k")
    assert (elsewhere["statusCode"], _error_code(elsewhere)) == (422, "idempotency_key_reused")


def test_keys_belong_to_the_callers_tenant(api: Callable[..., dict[str, Any]]) -> None:
    mine = api("POST", "/v1/schedules", OFFICE, key="k", tenant="acme")
    theirs = api("POST", "/v1/schedules", OFFICE, key="k", tenant="globex")
    assert mine["statusCode"] == theirs["statusCode"] == 201
    assert response_header(theirs, "Idempotent-Replayed") is None


def test_a_failed_request_gives_its_key_up(api: Callable[..., dict[str, Any]]) -> None:
    api("POST", "/v1/subscribers", {"extension": "101", "name": "Anna"})
    taken = api("POST", "/v1/subscribers", {"extension": "101", "name": "Anna"}, key="add-101")
    assert taken["statusCode"] == 409
    api("DELETE", "/v1/subscribers/101", headers={"If-Match": '"1"'})
    retried = api("POST", "/v1/subscribers", {"extension": "101", "name": "Anna"}, key="add-101")
    assert retried["statusCode"] == 201
    assert response_header(retried, "Idempotent-Replayed") is None


def test_a_retried_publish_replays_the_version_instead_of_412(api: Callable[..., dict[str, Any]]) -> None:
    scenario = {
        "id": "main",
        "name": "Main",
        "elements": [{"id": "start", "type": "incoming_call"}, {"id": "bye", "type": "hangup"}],
        "connections": [{"from": "start", "to": "bye"}],
    }
    assert api("POST", "/v1/scenarios", scenario)["statusCode"] == 201
    publish = {"headers": {"If-Match": '"1"'}, "key": "publish-main-1"}
    first = api("POST", "/v1/scenarios/main/publish", **publish)
    retry = api("POST", "/v1/scenarios/main/publish", **publish)
    assert first["statusCode"] == retry["statusCode"] == 201
    assert json.loads(retry["body"])["version"] == json.loads(first["body"])["version"] == 1
    versions = json.loads(api("GET", "/v1/scenarios/main/versions")["body"])["items"]
    assert [v["version"] for v in versions] == [1]


def test_retried_tenant_and_key_creations_replay_the_same_secrets(api: Callable[..., dict[str, Any]]) -> None:
    operator = {"tenant": "_platform", "role": "operator"}
    tenant = api("POST", "/v1/tenants", {"id": "acme", "name": "Acme"}, key="new-acme", **operator)
    tenant_again = api("POST", "/v1/tenants", {"id": "acme", "name": "Acme"}, key="new-acme", **operator)
    assert tenant["statusCode"] == tenant_again["statusCode"] == 201
    assert json.loads(tenant_again["body"])["admin_key"] == json.loads(tenant["body"])["admin_key"]
    body = {"role": "viewer", "name": "wallboard"}
    first = api("POST", "/v1/tenants/acme/keys", body, key="issue-wallboard")
    retry = api("POST", "/v1/tenants/acme/keys", body, key="issue-wallboard")
    assert first["statusCode"] == retry["statusCode"] == 201
    assert json.loads(retry["body"])["secret"] == json.loads(first["body"])["secret"]
    listed = json.loads(api("GET", "/v1/tenants/acme/keys")["body"])["items"]
    assert [key["name"] for key in listed].count("wallboard") == 1


@pytest.mark.parametrize("bad_key", ["with space", "x" * 256, "ключ"])
def test_a_malformed_key_is_a_located_422(api: Callable[..., dict[str, Any]], bad_key: str) -> None:
    response = api("POST", "/v1/schedules", OFFICE, key=bad_key)
    assert response["statusCode"] == 422
    details = json.loads(response["body"])["error"]["details"]
    assert [detail["loc"][:1] for detail in details] == [["header"]]
