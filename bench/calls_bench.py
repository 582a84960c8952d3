"""Live call routing: decision latency through the real calls handler vs the bare DynamoDB floor, and request counts.

Usage: .venv/bin/python bench/calls_bench.py [--quick] [--json]

Everything runs against one moto DynamoDB server on loopback, with the table built from template.yaml:
- `event latency`: one `POST /v1/calls/{id}/events` through functions/calls/app.py's handler (API Gateway event in,
  proxy response out: resolver, validation, authorizer context, executor, metrics) — median ms;
- `floor`: what the event must cost at least on the same server and the same boto3 client: one GetItem of the call
  item plus one conditional PutItem on its seq — median ms. Goal: event ÷ floor ≤ 1.3;
- `requests per event` / `per start`: DynamoDB requests counted by a botocore `before-call.dynamodb` hook on the
  repository's client, warm function (goals ≤ 2 and ≤ 3); `per cold start` is reported without a goal (the first
  call of a version also reads the version and the tenant's SIP domain).
Rounds interleave handler and floor so that machine noise hits both alike.
"""

import argparse
import contextlib
import importlib.util
import io
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOAL_RATIO = 1.3
GOAL_REQUESTS_PER_EVENT = 2
GOAL_REQUESTS_PER_START = 3
TENANT = "bench"
NUMBER = "+74951234567"
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_TRACE_DISABLED": "true",
}
SEED_SCENARIO = {
    "name": "Seed",
    "elements": [
        {"id": "start", "type": "incoming_call"},
        {"id": "mgr", "type": "internal_subscriber", "extension": "101", "limit_wait": True, "wait_seconds": 20},
        {"id": "next", "type": "internal_subscriber", "extension": "102"},
    ],
    "connections": [{"from": "start", "to": "mgr"}, {"from": "mgr", "exit": "no_answer", "to": "next"}],
}


def load_function(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_function_{name}", ROOT / "functions" / name / "app.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load functions/{name}/app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def api_event(method: str, path: str, resource: str, body: dict[str, Any], params: dict[str, str] | None) -> Any:
    headers = {"Content-Type": "application/json"}
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": params,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/v1{path}",
            "stage": "v1",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "127.0.0.1"},
            "authorizer": {"tenant_id": TENANT, "key_id": "bench-key", "role": "telephony", "principalId": "bench"},
        },
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


class Context:
    function_name = "calls-bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:calls-bench"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


class Bench:
    def __init__(self, endpoint: str) -> None:
        from vpbx.api.deps import set_repository
        from vpbx.domain.directory import Subscriber
        from vpbx.domain.scenario import Scenario
        from vpbx.store import schema
        from vpbx.store.dynamodb import DynamoRepository
        from vpbx.store.models import DirectorySnapshot, PhoneNumber, Tenant

        table = f"vpbx-bench-{uuid.uuid4().hex[:8]}"
        self.repository = DynamoRepository(table, endpoint_url=endpoint)
        self.client = self.repository.client
        schema.create_table(self.client, table)
        now = datetime.now(UTC)
        self.repository.create_tenant(Tenant(id=TENANT, name="Bench", sip_domain="bench.sip.example", created_at=now))
        self.repository.create_number(TENANT, PhoneNumber(number=NUMBER, scenario_id="main"))
        draft = self.repository.create_scenario(TENANT, "main", Scenario.model_validate(SEED_SCENARIO))
        snapshot = DirectorySnapshot(subscribers=[Subscriber(extension=e, name=f"E{e}") for e in ("101", "102")])
        self.repository.publish_scenario(TENANT, "main", draft.version, snapshot, now, None)
        set_repository(self.repository)
        self.handler = load_function("calls").handler
        self.operations: list[str] = []
        self.client.meta.events.register("before-call.dynamodb", self._count, unique_id="calls-bench")
        self.calls = 0

    def _count(self, model: Any, **_: Any) -> None:
        self.operations.append(model.name)

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        with contextlib.redirect_stdout(io.StringIO()):  # EMF metrics blobs
            response: dict[str, Any] = self.handler(event, Context())
        if response["statusCode"] >= 300:
            raise RuntimeError(f"handler answered {response['statusCode']}: {response['body']}")
        return response

    def start(self) -> tuple[str, float, int]:
        self.calls += 1
        call_id = f"bench-{self.calls}-{uuid.uuid4().hex[:6]}"
        event = api_event(
            "POST", "/v1/calls", "/v1/calls", {"call_id": call_id, "from": "+79161234567", "to": NUMBER}, None
        )
        self.operations.clear()
        started = time.perf_counter()
        self.invoke(event)
        return call_id, (time.perf_counter() - started) * 1000, len(self.operations)

    def event(self, call_id: str) -> tuple[float, int]:
        event = api_event(
            "POST",
            f"/v1/calls/{call_id}/events",
            "/v1/calls/{call_id}/events",
            {"seq": 1, "outcome": "no_answer"},
            {"call_id": call_id},
        )
        self.operations.clear()
        started = time.perf_counter()
        self.invoke(event)
        return (time.perf_counter() - started) * 1000, len(self.operations)

    def floor(self, call_id: str) -> float:
        """One consistent GetItem of a call item and one PutItem conditional on its seq: the least an event costs."""
        key = {"PK": {"S": f"TENANT#{TENANT}"}, "SK": {"S": f"CALL#{call_id}"}}
        started = time.perf_counter()
        item = self.client.get_item(TableName=self.repository.table_name, Key=key, ConsistentRead=True)["Item"]
        seq = item["seq"]["N"]
        self.client.put_item(
            TableName=self.repository.table_name,
            Item={**item, "seq": {"N": str(int(seq) + 1)}},
            ConditionExpression="#seq = :seq",
            ExpressionAttributeNames={"#seq": "seq"},
            ExpressionAttributeValues={":seq": {"N": seq}},
        )
        return (time.perf_counter() - started) * 1000


def measure(quick: bool) -> dict[str, Any]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    for name, value in FAKE_AWS.items():
        os.environ.setdefault(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        bench = Bench(f"http://{host}:{port}")
        _, _, cold_start_requests = bench.start()
        rounds = 15 if quick else 300
        for _ in range(5 if quick else 30):  # warm-up: caches, connections, code paths
            call_id, _, _ = bench.start()
            bench.event(call_id)
            bench.floor(bench.start()[0])
        event_ms: list[float] = []
        start_ms: list[float] = []
        floor_ms: list[float] = []
        event_requests: list[int] = []
        start_requests: list[int] = []
        for _ in range(rounds):
            call_id, started_ms, started_requests = bench.start()
            start_ms.append(started_ms)
            start_requests.append(started_requests)
            floor_call, _, _ = bench.start()
            took, requests = bench.event(call_id)
            event_ms.append(took)
            event_requests.append(requests)
            floor_ms.append(bench.floor(floor_call))
        return {
            "event_ms": statistics.median(event_ms),
            "start_ms": statistics.median(start_ms),
            "floor_ms": statistics.median(floor_ms),
            "event_requests": max(event_requests),
            "start_requests": max(start_requests),
            "cold_start_requests": cold_start_requests,
            "rounds": rounds,
        }
    finally:
        server.stop()


def run(quick: bool) -> list[dict[str, Any]]:
    figures = measure(quick)
    ratio = figures["event_ms"] / figures["floor_ms"]
    return [
        {
            "figure": "call event decision latency (handler on moto)",
            "value": round(figures["event_ms"], 3),
            "unit": "ms",
            "floor": round(figures["floor_ms"], 3),
            "ratio": round(ratio, 3),
            "goal": f"ratio <= {GOAL_RATIO}",
            "pass": ratio <= GOAL_RATIO,
        },
        {
            "figure": "call start decision latency (handler on moto)",
            "value": round(figures["start_ms"], 3),
            "unit": "ms",
            "floor": None,
            "ratio": None,
            "goal": None,
            "pass": None,
        },
        {
            "figure": "DynamoDB requests per call event",
            "value": figures["event_requests"],
            "unit": "requests",
            "floor": None,
            "ratio": None,
            "goal": f"<= {GOAL_REQUESTS_PER_EVENT}",
            "pass": figures["event_requests"] <= GOAL_REQUESTS_PER_EVENT,
        },
        {
            "figure": "DynamoDB requests per call start (warm)",
            "value": figures["start_requests"],
            "unit": "requests",
            "floor": None,
            "ratio": None,
            "goal": f"<= {GOAL_REQUESTS_PER_START}",
            "pass": figures["start_requests"] <= GOAL_REQUESTS_PER_START,
        },
        {
            "figure": "DynamoDB requests per call start (cold version cache)",
            "value": figures["cold_start_requests"],
            "unit": "requests",
            "floor": None,
            "ratio": None,
            "goal": None,
            "pass": None,
        },
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="few rounds: prove the benchmark runs")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()
    rows = run(quick=args.quick)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            ratio = f"  ratio {row['ratio']} (floor {row['floor']} {row['unit']})" if row["ratio"] is not None else ""
            verdict = "" if row["pass"] is None else ("  PASS" if row["pass"] else "  FAIL")
            print(f"{row['figure']}: {row['value']} {row['unit']}{ratio}{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
