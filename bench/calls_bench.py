"""Live call routing: decision latency through the real calls handler vs the bare DynamoDB floor, and request counts.

Usage: .venv/bin/python bench/calls_bench.py [--quick] [--json]

Everything runs against one moto DynamoDB server on loopback, with the table built from template.yaml:
- `event latency`: one `POST /v1/calls/{id}/events` through functions/calls/app.py's handler (API Gateway event in,
  proxy response out: resolver, validation, authorizer context, executor, metrics) — median ms;
- `floor`: what the event must cost at least on the same server and the same boto3 client: one GetItem of the call
  item plus one conditional PutItem on its seq — median ms. Goal: event ÷ floor ≤ 1.3;
- `requests per event` / `per start`: DynamoDB requests counted by a botocore `before-call.dynamodb` hook on the
  repository's client, warm function (goals ≤ 2 and ≤ 2: a start is one BatchGetItem of the number's route, which
  carries the published version, and a copy of the tenant's directory revision, and the call's write); `per cold
  start` and `per start after a directory edit` are reported without a goal (the first call of a version also reads
  the version; the first call after an edit resolves the directory the version names and reads the tenant: the live
  directory);
- `write units per call start` / `per call event`, for the table and for GSI1: from the PutItem requests the handler
  sends (captured by a botocore `before-parameter-build.dynamodb.PutItem` hook), sized by DynamoDB's rules
  (tests/helpers/item_size.py): a put that replaces an item costs ceil(max(old, new) / 1 KB) on the table; the index
  entry (table keys + index keys + the projection DescribeTable reports, + 100 B) costs the same way on GSI1. One
  call is measured: a start, then `no_answer` and `answered` (the event figure is the larger of the two).
- `tokened event`: the same event with the decision's `state_token` echoed (docs/CALLS.md, State tokens): its
  latency, requests (goal 1: one conditional UpdateItem, no read), and units: read units 0, write units from the call
  item's size before and after (an UpdateItem costs ceil(max(old, new) / 1 KB), and so does each index entry the update
  rewrites), beside the untokened event's read units (a consistent GetItem: ceil(size / 4 KB)). Also the requests of a
  repeated start (answered from the failed PutItem's ALL_OLD), and of two deliveries of one tokened event.
Rounds interleave handler and floor so that machine noise hits both alike.
"""

import json
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
from tests.helpers.item_size import index_entry, index_entry_size, item_size, read_units, write_units
from tests.helpers.scenarios import seed_scenario

GOAL_RATIO = 1.3
GOAL_REQUESTS_PER_EVENT = 2
GOAL_REQUESTS_PER_TOKENED_EVENT = 1
GOAL_REQUESTS_PER_START = 2
TENANT = "bench"
NUMBER = "+74951234567"
TELEPHONY = authorizer_context(TENANT, key_id="bench-key", role="telephony")
TABLE_KEYS = ("PK", "SK")


class WriteMeter:
    """Write units of the PutItems a client sends, on the table and on each global secondary index."""

    def __init__(self, client: Any, table_name: str) -> None:
        table = client.describe_table(TableName=table_name)["Table"]
        self.indexes = {
            index["IndexName"]: ([*TABLE_KEYS, *(k["AttributeName"] for k in index["KeySchema"])], index["Projection"])
            for index in table.get("GlobalSecondaryIndexes", [])
        }
        self.stored: dict[tuple[str, ...], dict[str, Any]] = {}  # the last item put under each key
        self.units: dict[str, int] = {}
        self.sizes: dict[str, int] = {}  # of the last item put, per table / index
        client.meta.events.register("before-parameter-build.dynamodb.PutItem", self._put, unique_id="calls-bench-wru")

    def reset(self) -> None:
        self.units = {"table": 0, **dict.fromkeys(self.indexes, 0)}

    def _put(self, params: dict[str, Any], **_: Any) -> None:
        item = params["Item"]
        key = tuple(item[name]["S"] for name in TABLE_KEYS)
        before = self.stored.get(key, {})
        self.stored[key] = item
        self.sizes["table"] = item_size(item)
        self.units["table"] = self.units.get("table", 0) + write_units(max(item_size(before), self.sizes["table"]))
        for name, (key_attributes, projection) in self.indexes.items():
            old = index_entry_size(index_entry(before, key_attributes, projection))
            self.sizes[name] = index_entry_size(index_entry(item, key_attributes, projection))
            self.units[name] = self.units.get(name, 0) + write_units(max(old, self.sizes[name]))


class Bench:
    def __init__(self, endpoint: str) -> None:
        from vpbx.domain.directory import Subscriber
        from vpbx.domain.scenario import Scenario
        from vpbx.store.models import DirectorySnapshot, PhoneNumber, Tenant

        self.repository = handler_repository(endpoint)
        self.client = self.repository.client
        now = datetime.now(UTC)
        self.repository.create_tenant(Tenant(id=TENANT, name="Bench", sip_domain="bench.sip.example", created_at=now))
        draft = self.repository.create_scenario(TENANT, "main", Scenario.model_validate(seed_scenario()))
        subscribers = [Subscriber(extension=e, name=f"E{e}") for e in ("101", "102")]
        for subscriber in subscribers:  # calls ring the live directory
            self.repository.create_subscriber(TENANT, subscriber)
        snapshot = DirectorySnapshot(subscribers=subscribers)
        self.repository.publish_scenario(TENANT, "main", draft.version, snapshot, now, None)
        self.repository.create_number(TENANT, PhoneNumber(number=NUMBER, scenario_id="main"))
        from vpbx.api.deps import set_state_tokens
        from vpbx.service.state_tokens import StateTokenKeys, StateTokens

        set_state_tokens(StateTokens.of(StateTokenKeys.from_secret(StateTokenKeys.generate())))
        self.handler = load_function("CallsFunction").handler
        self.counter = RequestCounter(self.client, "calls-bench")
        self.writes = WriteMeter(self.client, self.repository.table_name)
        self.calls = 0

    def timed(self, event: dict[str, Any]) -> tuple[float, int]:
        """(ms, DynamoDB requests) of one invocation."""
        self.counter.reset()
        started = time.perf_counter()
        self.last = invoke(self.handler, event)
        return ms_since(started), self.counter.requests

    def start(self, call_id: str | None = None) -> tuple[str, float, int]:
        self.calls += 1
        call_id = call_id or f"bench-{self.calls}-{uuid.uuid4().hex[:6]}"
        body = {"call_id": call_id, "from": "+79161234567", "to": NUMBER}
        return call_id, *self.timed(api_event("POST", "/v1/calls", body=body, authorizer=TELEPHONY))

    def event(
        self, call_id: str, seq: int = 1, outcome: str = "no_answer", token: str | None = None
    ) -> tuple[float, int]:
        path, resource = f"/v1/calls/{call_id}/events", "/v1/calls/{call_id}/events"
        body: dict[str, Any] = {"seq": seq, "outcome": outcome}
        if token is not None:
            body["state_token"] = token
        return self.timed(api_event("POST", path, resource=resource, body=body, authorizer=TELEPHONY))

    def token(self) -> str:
        """The state token of the last decision answered."""
        return str(json.loads(self.last["body"])["state_token"])

    def call_item(self, call_id: str) -> dict[str, Any]:
        from vpbx.store import keys

        key = {"PK": {"S": keys.call_pk(TENANT, call_id)}, "SK": {"S": keys.call_sk(call_id)}}  # its own partition
        item: dict[str, Any] = self.client.get_item(TableName=self.repository.table_name, Key=key)["Item"]
        return item

    def floor(self, call_id: str) -> float:
        """One consistent GetItem of a call item and one PutItem conditional on its seq: the least an event costs."""
        key = {"PK": {"S": f"TENANT#{TENANT}#CALL#{call_id}"}, "SK": {"S": f"CALL#{call_id}"}}
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


def write_units_of_a_call(bench: Bench) -> dict[str, Any]:
    """Write units of a start and of each event of one call (no answer, then answered), table and GSI1."""
    bench.writes.reset()
    call_id, _, _ = bench.start()
    start_units, start_bytes, steps = dict(bench.writes.units), dict(bench.writes.sizes), []
    for seq, outcome in enumerate(("no_answer", "answered"), start=1):
        bench.writes.reset()
        bench.event(call_id, seq, outcome)
        steps.append(dict(bench.writes.units))
    return {
        "start_wru": start_units,
        "event_wru": {name: max(step[name] for step in steps) for name in start_units},
        "start_bytes": start_bytes,
        "item_bytes": dict(bench.writes.sizes),
    }


def units_of_a_tokened_event(bench: Bench) -> dict[str, Any]:
    """Units of one tokened `no_answer` (an UpdateItem, sized from the call item before and after it), and the read
    units the untokened event's GetItem costs on the same item."""
    call_id, _, _ = bench.start()
    token = bench.token()
    before = bench.call_item(call_id)
    _, requests = bench.event(call_id, 1, "no_answer", token)
    after = bench.call_item(call_id)
    units = {"table": write_units(max(item_size(before), item_size(after)))}
    for name, (key_attributes, projection) in bench.writes.indexes.items():
        old = index_entry_size(index_entry(before, key_attributes, projection))
        new = index_entry_size(index_entry(after, key_attributes, projection))
        units[name] = write_units(max(old, new))
    return {
        "tokened_event_requests_measured": requests,
        "tokened_event_wru": units,
        "untokened_event_rru": read_units(item_size(before)),
        "token_bytes": len(token),
    }


def failed_condition_requests(bench: Bench) -> dict[str, int]:
    """A repeated start, and a second delivery of one tokened event: each answered from its failed write's ALL_OLD."""
    call_id, _, _ = bench.start()
    token = bench.token()
    _, _, repeated_start = bench.start(call_id)
    _, first = bench.event(call_id, 1, "no_answer", token)
    _, duplicate = bench.event(call_id, 1, "no_answer", token)
    return {"repeated_start_requests": repeated_start, "duplicate_delivery_requests": first + duplicate}


def start_after_a_directory_edit(bench: Bench) -> int:
    """Requests of the first start after a subscriber edit (a new directory revision), then warm again."""
    from vpbx.domain.directory import Subscriber

    stored = bench.repository.get_subscriber(TENANT, "102")
    renamed = Subscriber(extension="102", name=f"E102 edited {stored.version}")
    bench.repository.update_subscriber(TENANT, renamed, stored.version)
    _, _, requests = bench.start()
    return int(requests)


def measure(quick: bool) -> dict[str, Any]:
    with moto_endpoint() as endpoint:
        bench = Bench(endpoint)
        _, _, cold_start_requests = bench.start()
        writes = write_units_of_a_call(bench)
        rounds = 15 if quick else 300
        for _ in range(5 if quick else 30):  # warm-up: caches, connections, code paths
            call_id, _, _ = bench.start()
            bench.event(call_id)
            bench.floor(bench.start()[0])
        edited_start_requests = start_after_a_directory_edit(bench)
        samples: dict[str, list[float]] = {"event_ms": [], "start_ms": [], "floor_ms": [], "tokened_event_ms": []}
        event_requests: list[int] = []
        start_requests: list[int] = []
        tokened_requests: list[int] = []
        for _ in range(rounds):
            call_id, started_ms, started_requests = bench.start()
            samples["start_ms"].append(started_ms)
            start_requests.append(started_requests)
            tokened_call, _, _ = bench.start()
            tokened_token = bench.token()
            floor_call, _, _ = bench.start()
            took, requests = bench.event(call_id)
            samples["event_ms"].append(took)
            event_requests.append(requests)
            took, requests = bench.event(tokened_call, 1, "no_answer", tokened_token)
            samples["tokened_event_ms"].append(took)
            tokened_requests.append(requests)
            samples["floor_ms"].append(bench.floor(floor_call))
        return {
            **medians(samples),
            **units_of_a_tokened_event(bench),
            **failed_condition_requests(bench),
            "tokened_event_requests": max(tokened_requests),
            "event_requests": max(event_requests),
            "start_requests": max(start_requests),
            "cold_start_requests": cold_start_requests,
            "edited_start_requests": edited_start_requests,
            "rounds": rounds,
            **writes,
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
        row("tokened call event decision latency (handler on moto)", figures["tokened_event_ms"], "ms", digits=3),
        count_row("DynamoDB requests per call event", figures["event_requests"], "requests", GOAL_REQUESTS_PER_EVENT),
        count_row(
            "DynamoDB requests per tokened call event",
            figures["tokened_event_requests"],
            "requests",
            GOAL_REQUESTS_PER_TOKENED_EVENT,
        ),
        row("DynamoDB read units per tokened call event", 0, "RRU", digits=0),
        row("DynamoDB read units per call event without a token", figures["untokened_event_rru"], "RRU", digits=0),
        row("state token length", figures["token_bytes"], "bytes", digits=0),
        count_row("DynamoDB requests per repeated call start", figures["repeated_start_requests"], "requests", None),
        count_row(
            "DynamoDB requests for two deliveries of one tokened event",
            figures["duplicate_delivery_requests"],
            "requests",
            2,
        ),
        count_row(
            "DynamoDB requests per call start (warm)", figures["start_requests"], "requests", GOAL_REQUESTS_PER_START
        ),
        count_row(
            "DynamoDB requests per call start (cold version cache)", figures["cold_start_requests"], "requests", None
        ),
        count_row(
            "DynamoDB requests per call start after a directory edit",
            figures["edited_start_requests"],
            "requests",
            None,
        ),
        *write_unit_rows(figures),
    ]


def write_unit_rows(figures: dict[str, Any]) -> list[Row]:
    rows = []
    for name in figures["start_wru"]:
        where = "table" if name == "table" else f"index {name}"
        rows += [
            row(f"DynamoDB write units per call start ({where})", figures["start_wru"][name], "WRU", digits=0),
            row(f"DynamoDB write units per call event ({where})", figures["event_wru"][name], "WRU", digits=0),
            row(
                f"DynamoDB write units per tokened call event ({where})",
                figures["tokened_event_wru"][name],
                "WRU",
                digits=0,
            ),
            row(f"call item size after the start ({where})", figures["start_bytes"][name], "bytes", digits=0),
            row(f"call item size after 2 events ({where})", figures["item_bytes"][name], "bytes", digits=0),
        ]
    return rows


if __name__ == "__main__":
    sys.exit(main(run, __doc__))
