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

import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: bench.common, tests.helpers

from bench.common import (
    RequestCounter,
    Row,
    count_row,
    handler_repository,
    invoke,
    main,
    medians,
    moto_endpoint,
    ms_since,
    ratio_row,
    row,
)
from tests.helpers.apigw import api_event, authorizer_context
from tests.helpers.functions import load_function
from tests.helpers.scenarios import seed_scenario

GOAL_RATIO = 1.3
GOAL_REQUESTS_PER_EVENT = 2
GOAL_REQUESTS_PER_START = 3
TENANT = "bench"
NUMBER = "+74951234567"
TELEPHONY = authorizer_context(TENANT, key_id="bench-key", role="telephony")


class Bench:
    def __init__(self, endpoint: str) -> None:
        from vpbx.domain.directory import Subscriber
        from vpbx.domain.scenario import Scenario
        from vpbx.store.models import DirectorySnapshot, PhoneNumber, Tenant

        self.repository = handler_repository(endpoint)
        self.client = self.repository.client
        now = datetime.now(UTC)
        self.repository.create_tenant(Tenant(id=TENANT, name="Bench", sip_domain="bench.sip.example", created_at=now))
        self.repository.create_number(TENANT, PhoneNumber(number=NUMBER, scenario_id="main"))
        draft = self.repository.create_scenario(TENANT, "main", Scenario.model_validate(seed_scenario()))
        snapshot = DirectorySnapshot(subscribers=[Subscriber(extension=e, name=f"E{e}") for e in ("101", "102")])
        self.repository.publish_scenario(TENANT, "main", draft.version, snapshot, now, None)
        self.handler = load_function("CallsFunction").handler
        self.counter = RequestCounter(self.client, "calls-bench")
        self.calls = 0

    def timed(self, event: dict[str, Any]) -> tuple[float, int]:
        """(ms, DynamoDB requests) of one invocation."""
        self.counter.reset()
        started = time.perf_counter()
        invoke(self.handler, event)
        return ms_since(started), self.counter.requests

    def start(self) -> tuple[str, float, int]:
        self.calls += 1
        call_id = f"bench-{self.calls}-{uuid.uuid4().hex[:6]}"
        body = {"call_id": call_id, "from": "+79161234567", "to": NUMBER}
        return call_id, *self.timed(api_event("POST", "/v1/calls", body=body, authorizer=TELEPHONY))

    def event(self, call_id: str) -> tuple[float, int]:
        path, resource = f"/v1/calls/{call_id}/events", "/v1/calls/{call_id}/events"
        body = {"seq": 1, "outcome": "no_answer"}
        return self.timed(api_event("POST", path, resource=resource, body=body, authorizer=TELEPHONY))

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
        return ms_since(started)


def measure(quick: bool) -> dict[str, Any]:
    with moto_endpoint() as endpoint:
        bench = Bench(endpoint)
        _, _, cold_start_requests = bench.start()
        rounds = 15 if quick else 300
        for _ in range(5 if quick else 30):  # warm-up: caches, connections, code paths
            call_id, _, _ = bench.start()
            bench.event(call_id)
            bench.floor(bench.start()[0])
        samples: dict[str, list[float]] = {"event_ms": [], "start_ms": [], "floor_ms": []}
        event_requests: list[int] = []
        start_requests: list[int] = []
        for _ in range(rounds):
            call_id, started_ms, started_requests = bench.start()
            samples["start_ms"].append(started_ms)
            start_requests.append(started_requests)
            floor_call, _, _ = bench.start()
            took, requests = bench.event(call_id)
            samples["event_ms"].append(took)
            event_requests.append(requests)
            samples["floor_ms"].append(bench.floor(floor_call))
        return {
            **medians(samples),
            "event_requests": max(event_requests),
            "start_requests": max(start_requests),
            "cold_start_requests": cold_start_requests,
            "rounds": rounds,
        }


def run(quick: bool) -> list[Row]:
    figures = measure(quick)
    return [
        ratio_row(
            "call event decision latency (handler on moto)",
            figures["event_ms"],
            figures["floor_ms"],
            GOAL_RATIO,
            digits=3,
        ),
        row("call start decision latency (handler on moto)", figures["start_ms"], "ms", digits=3),
        count_row("DynamoDB requests per call event", figures["event_requests"], "requests", GOAL_REQUESTS_PER_EVENT),
        count_row(
            "DynamoDB requests per call start (warm)", figures["start_requests"], "requests", GOAL_REQUESTS_PER_START
        ),
        count_row(
            "DynamoDB requests per call start (cold version cache)", figures["cold_start_requests"], "requests", None
        ),
    ]


if __name__ == "__main__":
    sys.exit(main(run, __doc__))
