"""The calls function's handler, driven by API Gateway events, on a DynamoDB table (moto) built from template.yaml."""

import io
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from vpbx.api.deps import set_repository
from vpbx.domain.directory import Subscriber
from vpbx.domain.errors import AlreadyExists
from vpbx.domain.scenario import Scenario
from vpbx.store.dynamodb import DynamoRepository
from vpbx.store.models import DirectorySnapshot, PhoneNumber, Tenant

from tests.helpers.apigw import FakeLambdaContext, api_event, authorizer_context, response_json
from tests.integration.test_directory_api import load_function

TENANT, OTHER_TENANT = "acme", "globex"
NUMBER, OTHER_NUMBER = "+74951234567", "+74957654321"
CALLER = "+79161234567"
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

SEED_SCENARIO = {
    "name": "Seed",
    "elements": [
        {"id": "start", "type": "incoming_call"},
        {"id": "mgr", "type": "internal_subscriber", "extension": "101", "limit_wait": True, "wait_seconds": 20},
        {"id": "next", "type": "internal_subscriber", "extension": "102"},
    ],
    "connections": [{"from": "start", "to": "mgr"}, {"from": "mgr", "exit": "no_answer", "to": "next"}],
}

Call = Callable[..., dict[str, Any]]

RESOURCES = {"events": "/v1/calls/{call_id}/events", "call": "/v1/calls/{call_id}"}


def save_draft(repository: DynamoRepository, tenant: str, scenario: dict[str, Any], scenario_id: str = "main") -> Any:
    """Create the draft, or replace it (the fixture creates "main" first: a number may only point at a scenario)."""
    parsed = Scenario.model_validate(scenario)
    try:
        return repository.create_scenario(tenant, scenario_id, parsed)
    except AlreadyExists:
        current = repository.get_scenario(tenant, scenario_id)
        return repository.update_scenario(tenant, scenario_id, parsed, current.version)


def publish(repository: DynamoRepository, tenant: str, scenario: dict[str, Any], scenario_id: str = "main") -> int:
    draft = save_draft(repository, tenant, scenario, scenario_id)
    snapshot = DirectorySnapshot(subscribers=[Subscriber(extension=e, name=f"E{e}") for e in ("101", "102")])
    return repository.publish_scenario(tenant, scenario_id, draft.version, snapshot, NOW, None).number


@pytest.fixture
def repository(dynamo_table: tuple[str, str]) -> Iterator[DynamoRepository]:
    endpoint, table_name = dynamo_table
    repository = DynamoRepository(table_name, endpoint_url=endpoint)
    for tenant, number in ((TENANT, NUMBER), (OTHER_TENANT, OTHER_NUMBER)):
        repository.create_tenant(Tenant(id=tenant, name=tenant.title(), created_at=NOW))
        repository.create_scenario(tenant, "main", Scenario.model_validate(SEED_SCENARIO))
        repository.create_number(tenant, PhoneNumber(number=number, scenario_id="main"))
        for extension in ("101", "102"):  # calls ring the live directory
            repository.create_subscriber(tenant, Subscriber(extension=extension, name=f"E{extension}"))
    set_repository(repository)
    yield repository
    set_repository(None)


@pytest.fixture
def api(repository: DynamoRepository) -> Call:
    handler = load_function("calls").handler

    def call(
        method: str,
        path: str,
        body: Any = None,
        *,
        role: str = "telephony",
        tenant: str = TENANT,
        raw: str | None = None,
    ) -> dict[str, Any]:
        resource = None
        if path.startswith("/v1/calls/"):
            resource = RESOURCES["events"] if path.split("?")[0].endswith("/events") else RESOURCES["call"]
        event = api_event(
            method, path, resource=resource, body=body, raw_body=raw, authorizer=authorizer_context(tenant, role=role)
        )
        response: dict[str, Any] = handler(event, FakeLambdaContext())
        return response

    return call


def start_body(call_id: str = "call-1", **changes: Any) -> dict[str, Any]:
    return {"call_id": call_id, "from": CALLER, "to": NUMBER, **changes}


def error_code(response: dict[str, Any]) -> str:
    return str(response_json(response)["error"]["code"])


# ---------------------------------------------------------------------------------------------- routing


def test_seed_route_through_the_handler(api: Call, repository: DynamoRepository) -> None:
    publish(repository, TENANT, SEED_SCENARIO)
    started = api("POST", "/v1/calls", start_body())
    assert started["statusCode"] == 201
    first = response_json(started)
    assert (first["call_id"], first["seq"], first["status"]) == ("call-1", 1, "in_progress")
    assert first["action"]["type"] == "ring"
    assert first["action"]["targets"][0]["extension"] == "101"
    assert first["action"]["timeout_seconds"] == 20

    second = api("POST", "/v1/calls/call-1/events", {"seq": 1, "outcome": "no_answer"})
    assert second["statusCode"] == 200
    assert response_json(second)["action"]["targets"][0]["extension"] == "102"
    third = response_json(api("POST", "/v1/calls/call-1/events", {"seq": 2, "outcome": "answered"}))
    assert third == {"call_id": "call-1", "seq": 3, "action": None, "status": "connected", "state_token": None}

    detail = api("GET", "/v1/calls/call-1", role="viewer")
    assert detail["statusCode"] == 200
    call = response_json(detail)
    assert (call["from"], call["to"], call["status"], call["result"], call["version"]) == (
        CALLER,
        NUMBER,
        "connected",
        "connected",
        1,
    )
    assert [(s["element_id"], s["outcome"], s["exit"]) for s in call["trace"]] == [
        ("start", None, "next"),
        ("mgr", None, None),
        ("mgr", "no_answer", "no_answer"),
        ("next", None, None),
        ("next", "answered", None),
    ]


def test_call_item_carries_a_ttl(api: Call, repository: DynamoRepository) -> None:
    publish(repository, TENANT, SEED_SCENARIO)
    before = datetime.now(UTC).timestamp()
    api("POST", "/v1/calls", start_body())
    item = repository.client.get_item(
        TableName=repository.table_name, Key={"PK": {"S": f"TENANT#{TENANT}#CALL#call-1"}, "SK": {"S": "CALL#call-1"}}
    )["Item"]
    expires_at = int(item["expires_at"]["N"])
    assert before + 23.9 * 3600 < expires_at < before + 24.1 * 3600


def test_unpublished_scenario_answers_a_hangup(api: Call, repository: DynamoRepository) -> None:
    save_draft(repository, TENANT, SEED_SCENARIO)
    response = api("POST", "/v1/calls", start_body())
    assert response["statusCode"] == 201
    assert response_json(response)["action"] == {"type": "hangup", "reason": "not_published"}
    assert response_json(response)["status"] == "ended"


# ---------------------------------------------------------------------------------------------- idempotency


def test_replays_duplicates_and_conflicts(api: Call, repository: DynamoRepository) -> None:
    publish(repository, TENANT, SEED_SCENARIO)
    first = api("POST", "/v1/calls", start_body())
    again = api("POST", "/v1/calls", start_body())
    assert (again["statusCode"], response_json(again)) == (201, response_json(first))
    other_body = api("POST", "/v1/calls", start_body(**{"from": "+79990001122"}))
    assert (other_body["statusCode"], error_code(other_body)) == (409, "conflict")

    answered = api("POST", "/v1/calls/call-1/events", {"seq": 1, "outcome": "no_answer"})
    replay = api("POST", "/v1/calls/call-1/events", {"seq": 1, "outcome": "no_answer"})
    assert (replay["statusCode"], response_json(replay)) == (200, response_json(answered))

    different = api("POST", "/v1/calls/call-1/events", {"seq": 1, "outcome": "busy"})
    assert different["statusCode"] == 409
    [detail] = response_json(different)["error"]["details"]
    assert (detail["loc"], detail["current_seq"], detail["status"]) == (["body", "seq"], 2, "in_progress")
    future = api("POST", "/v1/calls/call-1/events", {"seq": 5, "outcome": "no_answer"})
    assert (future["statusCode"], error_code(future)) == (409, "conflict")


# ---------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"call_id": "c", "from": CALLER, "to": "84951234567"}, "to"),
        ({"call_id": "c", "from": CALLER}, "to"),
        ({"call_id": "has space", "to": NUMBER}, "call_id"),
        ({"call_id": "c", "to": NUMBER, "tenant_id": "globex"}, "tenant_id"),
    ],
)
def test_bad_start_bodies_are_located_422s(api: Call, body: dict[str, Any], field: str) -> None:
    response = api("POST", "/v1/calls", body)
    assert response["statusCode"] == 422
    error = response_json(response)["error"]
    assert error["code"] == "validation_error"
    assert any(detail["loc"][-1] == field for detail in error["details"])
    assert "Traceback" not in response["body"]


@pytest.mark.parametrize(
    "body",
    [
        {"seq": 1, "outcome": "exploded"},
        {"seq": 0, "outcome": "answered"},
        {"outcome": "answered"},
        {"seq": 1, "outcome": "digits"},
        {"seq": 1, "outcome": "answered", "digits": "5"},
        {"seq": "one", "outcome": "answered"},
    ],
)
def test_bad_events_are_422s(api: Call, repository: DynamoRepository, body: dict[str, Any]) -> None:
    publish(repository, TENANT, SEED_SCENARIO)
    api("POST", "/v1/calls", start_body())
    response = api("POST", "/v1/calls/call-1/events", body)
    assert (response["statusCode"], error_code(response)) == (422, "validation_error")


def test_malformed_json_is_a_400(api: Call) -> None:
    response = api("POST", "/v1/calls", raw='{"call_id": ')
    assert (response["statusCode"], error_code(response)) == (400, "invalid_json")


# ---------------------------------------------------------------------------------------------- tenancy and roles


def test_tenant_isolation(api: Call, repository: DynamoRepository) -> None:
    publish(repository, TENANT, SEED_SCENARIO)
    publish(repository, OTHER_TENANT, SEED_SCENARIO)
    assert api("POST", "/v1/calls", start_body())["statusCode"] == 201

    intruder = api("POST", "/v1/calls", start_body("call-2"), tenant=OTHER_TENANT)  # acme's number
    assert (intruder["statusCode"], error_code(intruder)) == (404, "not_found")
    assert api("GET", "/v1/calls/call-1", role="admin", tenant=OTHER_TENANT)["statusCode"] == 404
    event = api("POST", "/v1/calls/call-1/events", {"seq": 1, "outcome": "answered"}, tenant=OTHER_TENANT)
    assert event["statusCode"] == 404
    listed = response_json(api("GET", "/v1/calls", role="admin", tenant=OTHER_TENANT))
    assert listed["items"] == []
    assert api("GET", "/v1/calls/call-1", role="viewer")["statusCode"] == 200


@pytest.mark.parametrize(
    ("method", "path", "role", "status"),
    [
        ("POST", "/v1/calls", "viewer", 403),
        ("POST", "/v1/calls", "admin", 403),
        ("POST", "/v1/calls/call-1/events", "editor", 403),
        ("GET", "/v1/calls", "telephony", 403),
        ("GET", "/v1/calls/call-1", "telephony", 403),
        ("GET", "/v1/calls", "editor", 200),
    ],
)
def test_roles(api: Call, repository: DynamoRepository, method: str, path: str, role: str, status: int) -> None:
    body = start_body() if path == "/v1/calls" and method == "POST" else {"seq": 1, "outcome": "answered"}
    response = api(method, path, body if method == "POST" else None, role=role)
    assert response["statusCode"] == status


# ---------------------------------------------------------------------------------------------- listing


def test_list_calls_with_filters_and_pages(api: Call, repository: DynamoRepository) -> None:
    publish(repository, TENANT, SEED_SCENARIO)
    for index in range(3):
        assert api("POST", "/v1/calls", start_body(f"c{index}"))["statusCode"] == 201
    first = response_json(api("GET", "/v1/calls?limit=2", role="viewer"))
    assert [c["call_id"] for c in first["items"]] == ["c2", "c1"]
    rest = response_json(api("GET", f"/v1/calls?limit=2&cursor={first['next_cursor']}", role="viewer"))
    assert [c["call_id"] for c in rest["items"]] == ["c0"]
    assert set(first["items"][0]) >= {"call_id", "from", "to", "status", "started_at", "version"}
    assert "trace" not in first["items"][0]
    by_number = response_json(api("GET", "/v1/calls?number=%2B74951234567", role="viewer"))
    assert len(by_number["items"]) == 3
    assert response_json(api("GET", "/v1/calls?number=%2B74957654321", role="viewer"))["items"] == []
    future = response_json(api("GET", "/v1/calls?since=2999-01-01T00:00:00Z", role="viewer"))
    assert future["items"] == []
    bad = api("GET", "/v1/calls?number=12345", role="viewer")
    assert bad["statusCode"] == 400
    assert api("GET", "/v1/calls?since=yesterday", role="viewer")["statusCode"] == 422


def test_listed_call_is_its_detail_without_action_and_trace(api: Call, repository: DynamoRepository) -> None:
    """The listing reads GSI1's summaries, the detail the whole call item: both show the same fields, the same JSON."""
    publish(repository, TENANT, SEED_SCENARIO)
    api("POST", "/v1/calls", start_body("c1"))
    api("POST", "/v1/calls/c1/events", {"seq": 1, "outcome": "no_answer"})
    api("POST", "/v1/calls", start_body("c2", **{"from": None}))

    listed = response_json(api("GET", "/v1/calls", role="viewer"))["items"]
    details = [response_json(api("GET", f"/v1/calls/{call_id}", role="viewer")) for call_id in ("c2", "c1")]
    summaries = [{name: value for name, value in d.items() if name not in ("action", "trace")} for d in details]
    assert json.dumps(listed) == json.dumps(summaries)
    assert [(c["call_id"], c["seq"], c["from"]) for c in listed] == [("c2", 1, None), ("c1", 2, CALLER)]


# ---------------------------------------------------------------------------------------------- request budget


def test_dynamodb_requests_per_start_and_per_event(api: Call, repository: DynamoRepository) -> None:
    publish(repository, TENANT, SEED_SCENARIO)
    operations: list[str] = []
    repository.client.meta.events.register(
        "before-call.dynamodb", lambda model, **_: operations.append(model.name), unique_id="count-calls"
    )
    try:
        api("POST", "/v1/calls", start_body("warmup"))  # fills the version cache (and the tenant's SIP domain)
        operations.clear()
        api("POST", "/v1/calls", start_body("measured"))
        assert operations == ["BatchGetItem", "PutItem"]  # the route + a directory revision copy, the call
        assert len(operations) <= 2
        operations.clear()
        api("POST", "/v1/calls/measured/events", {"seq": 1, "outcome": "no_answer"})
        assert operations == ["GetItem", "PutItem"]
        assert len(operations) <= 2

        repository.update_subscriber(TENANT, Subscriber(extension="102", name="E102", enabled=False), 1)
        operations.clear()
        api("POST", "/v1/calls", start_body("after-an-edit"))  # a new revision: the directory and tenant are read
        assert operations == ["BatchGetItem", "BatchGetItem", "GetItem", "PutItem"]
        operations.clear()
        api("POST", "/v1/calls/measured/events", {"seq": 2, "outcome": "no_answer"})  # keeps its own revision
        # the route ends: the call, its history and its counters in one transaction, still 2 requests
        assert operations == ["GetItem", "TransactWriteItems"]
        operations.clear()
        api("POST", "/v1/calls", start_body("warm-again"))
        assert operations == ["BatchGetItem", "PutItem"]
    finally:
        repository.client.meta.events.unregister("before-call.dynamodb", unique_id="count-calls")


# ---------------------------------------------------------------------------------------------- observability


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_logs_carry_tenant_and_call_ids_and_decisions_become_metrics(
    api: Call, repository: DynamoRepository, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(repository, TENANT, SEED_SCENARIO)
    log_stream = io.StringIO()
    for log_handler in logging.getLogger("calls").handlers:  # the function logger's handler, shared with vpbx.*
        monkeypatch.setattr(log_handler, "stream", log_stream)
    capsys.readouterr()
    api("POST", "/v1/calls", start_body("call-logs"))
    api("POST", "/v1/calls/call-logs/events", {"seq": 1, "outcome": "no_answer"})

    logs = json_lines(log_stream.getvalue())
    assert [r["message"] for r in logs] == ["call started", "call advanced"]
    assert all((r.get("tenant_id"), r.get("call_id")) == (TENANT, "call-logs") for r in logs)
    emf = [d for r in json_lines(capsys.readouterr().out) if "_aws" in r for d in r["_aws"]["CloudWatchMetrics"]]
    metric_names = {m["Name"] for d in emf for m in d["Metrics"]}
    assert {"Decisions", "DecisionLatency"} <= metric_names


# ---------------------------------------------------------------------------------------------- call end, history


def test_dynamodb_requests_of_a_whole_call_to_completed(api: Call, repository: DynamoRepository) -> None:
    """Warm: a start stays at 2 requests, every event at 2, the end of routing and `completed` included (the call,
    its history item and the statistics counters are one TransactWriteItems)."""
    publish(repository, TENANT, SEED_SCENARIO)
    operations: list[str] = []
    repository.client.meta.events.register(
        "before-call.dynamodb", lambda model, **_: operations.append(model.name), unique_id="count-end"
    )
    try:
        api("POST", "/v1/calls", start_body("warmup"))  # the version cache and the tenant's settings
        api("POST", "/v1/calls/warmup/events", {"seq": 1, "outcome": "answered"})
        operations.clear()
        measured: list[list[str]] = []
        for method, path, body in (
            ("POST", "/v1/calls", start_body("measured")),
            ("POST", "/v1/calls/measured/events", {"seq": 1, "outcome": "no_answer"}),
            ("POST", "/v1/calls/measured/events", {"seq": 2, "outcome": "answered", "extension": "102"}),
            ("POST", "/v1/calls/measured/events", {"seq": 3, "outcome": "completed", **COMPLETED}),
        ):
            assert api(method, path, body)["statusCode"] in (200, 201)
            measured.append(list(operations))
            operations.clear()
        assert measured == [
            ["BatchGetItem", "PutItem"],
            ["GetItem", "PutItem"],
            ["GetItem", "TransactWriteItems"],
            ["GetItem", "TransactWriteItems"],
        ]
    finally:
        repository.client.meta.events.unregister("before-call.dynamodb", unique_id="count-end")


COMPLETED = {"duration_seconds": 42, "ended_by": "callee"}


def test_completed_over_http(api: Call, repository: DynamoRepository) -> None:
    publish(repository, TENANT, SEED_SCENARIO)
    api("POST", "/v1/calls", start_body("c1"))
    early = api("POST", "/v1/calls/c1/events", {"seq": 1, "outcome": "completed", **COMPLETED})
    assert (early["statusCode"], error_code(early)) == (409, "conflict")
    assert response_json(early)["error"]["details"][0]["status"] == "in_progress"
    api("POST", "/v1/calls/c1/events", {"seq": 1, "outcome": "answered"})
    ended = api("POST", "/v1/calls/c1/events", {"seq": 2, "outcome": "completed", **COMPLETED})
    assert (ended["statusCode"], response_json(ended)) == (
        200,
        {"call_id": "c1", "seq": 3, "action": None, "status": "ended", "state_token": None},
    )
    again = api("POST", "/v1/calls/c1/events", {"seq": 2, "outcome": "completed", **COMPLETED})
    assert response_json(again) == response_json(ended)
    lonely = api("POST", "/v1/calls/c1/events", {"seq": 2, "outcome": "completed", "duration_seconds": 1})
    assert lonely["statusCode"] == 422
    detail = response_json(api("GET", "/v1/calls/c1", role="viewer"))
    assert {k: detail[k] for k in ("result", "answered_extension", "duration_seconds", "ended_by", "path")} == {
        "result": "completed",
        "answered_extension": "101",
        "duration_seconds": 42,
        "ended_by": "callee",
        "path": ["start", "mgr"],
    }


def test_calls_filters_over_http(api: Call, repository: DynamoRepository) -> None:
    publish(repository, TENANT, SEED_SCENARIO)
    api("POST", "/v1/calls", start_body("missed"))
    api("POST", "/v1/calls/missed/events", {"seq": 1, "outcome": "no_answer"})
    api("POST", "/v1/calls/missed/events", {"seq": 2, "outcome": "no_answer"})
    api("POST", "/v1/calls", start_body("answered"))
    api("POST", "/v1/calls/answered/events", {"seq": 1, "outcome": "answered"})

    def ids(query: str) -> list[str]:
        return [c["call_id"] for c in response_json(api("GET", f"/v1/calls?{query}", role="viewer"))["items"]]

    assert ids("result=missed") == ["missed"]
    assert ids("result=connected") == ["answered"]
    assert ids("extension=101") == ["answered"]
    assert ids("scenario_id=main") == ["answered", "missed"]
    assert ids("caller=%2B79161234567&since=2020-01-01T00:00:00Z") == ["answered", "missed"]
    assert ids("result=voicemail") == []
    assert api("GET", "/v1/calls?direction=in", role="viewer")["statusCode"] == 400  # unknown filter
    two = api("GET", "/v1/calls?result=missed&extension=101", role="viewer")
    assert (two["statusCode"], error_code(two)) == (400, "invalid_input")
    for bad in ("result=lost", "extension=abc", "scenario_id=a%20b", "caller="):
        response = api("GET", f"/v1/calls?{bad}", role="viewer")
        assert response["statusCode"] == 422, bad
        assert set(response_json(response)["error"]["details"][0]) >= {"loc", "msg", "type"}


def test_scenario_stats_over_http(api: Call, repository: DynamoRepository) -> None:
    publish(repository, TENANT, SEED_SCENARIO)
    api("POST", "/v1/calls", start_body("c1"))
    api("POST", "/v1/calls/c1/events", {"seq": 1, "outcome": "answered"})
    api("POST", "/v1/calls/c1/events", {"seq": 2, "outcome": "completed", **COMPLETED})
    stats = response_json(api("GET", "/v1/scenarios/main/stats", role="viewer"))
    assert (stats["calls"], stats["results"], stats["average_talk_seconds"]) == (
        1,
        {"connected": 1, "completed": 1},
        42.0,
    )
    assert len(stats["days"]) == 30
    assert stats["days"][-1]["calls"] == 1
    ring = next(e for e in stats["elements"] if e["element_id"] == "mgr")["ring"]
    assert (ring["offered"], ring["answered"], ring["answer_rate"]) == (1, 1, 1.0)
    assert api("GET", "/v1/scenarios/main/stats", role="viewer", tenant=OTHER_TENANT)["statusCode"] == 200
    assert response_json(api("GET", "/v1/scenarios/main/stats", role="viewer", tenant=OTHER_TENANT))["calls"] == 0
    assert api("GET", "/v1/scenarios/nope/stats", role="viewer")["statusCode"] == 404
    assert api("GET", "/v1/scenarios/main/stats?since=2026-03-02&until=2026-03-01", role="viewer")["statusCode"] == 400
    assert api("GET", "/v1/scenarios/main/stats?since=1", role="viewer")["statusCode"] == 422
    assert api("GET", "/v1/scenarios/main/stats?since=2026-3-1", role="viewer")["statusCode"] == 422
    edge = api("GET", "/v1/scenarios/main/stats?since=0001-01-01&until=0001-01-02", role="viewer")
    assert (edge["statusCode"], response_json(edge)["calls"]) == (200, 0)
    assert api("GET", "/v1/scenarios/main/stats?until=0001-01-03", role="viewer")["statusCode"] == 200
