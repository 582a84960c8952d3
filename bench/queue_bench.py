"""Queues (the ACD): DynamoDB requests and capacity units per `waiting` report and per offer, by line length.

Usage: .venv/bin/python bench/queue_bench.py [--quick] [--json]

Through the real calls handler on moto, with a published scenario whose `queue` element names a one-agent queue:
the agent takes the first call, then N callers join (N = 1, 20, 200; --quick: 1, 20) and wait: the first and the
last through the handler, those between through the ACD directly (the line is what matters). Measured:
- `requests per waiting report`: the last caller's `waiting` report, which changes nothing in the queue (one read of
  the queue state, no write) — the call's own read and write included. Goal ≤ 3, whatever the line's length;
- `requests per offer`: the agent's call is completed with wrapup_seconds 0, then the head of the line reports and
  is offered the agent (the queue state's read, one TransactWriteItems of the state and the agent's hold, the call's
  read and write);
- `read units` / `write units` of those reports (the queue state and the agent hold; the call item's own units are
  calls_bench's figures): a consistent read costs a unit per started 4 KB, a write a unit per started KB of the larger
  of the old and new item, twice inside a transaction (DynamoDB's rules, tests/helpers/item_size.py);
- `queue state item`: its size in bytes with N callers in line.
"""

import math
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: bench.common, tests.helpers

from bench.common import RequestCounter, Row, count_row, handler_repository, invoke, main, moto_endpoint, row
from tests.helpers.apigw import api_event, authorizer_context
from tests.helpers.functions import load_function
from tests.helpers.item_size import item_size, write_units

GOAL_REQUESTS_PER_REPORT = 3
GOAL_REQUESTS_PER_OFFER = 4
TENANT = "qbench"
NUMBER = "+74951112233"
TELEPHONY = authorizer_context(TENANT, key_id="bench-key", role="telephony")
READ_UNIT_BYTES = 4096
ACD_PREFIXES = (f"TENANT#{TENANT}#QSTATE#", f"TENANT#{TENANT}#AGENT#")


class CapacityMeter:
    """Read and write units of the ACD's items (queue state, agent holds) in the requests a client sends."""

    def __init__(self, client: Any) -> None:
        self.sizes: dict[tuple[str, str], int] = {}
        self.read_units = 0.0
        self.write_units = 0
        events = client.meta.events
        events.register("after-call.dynamodb.GetItem", self._got, unique_id="queue-bench-get")
        events.register("before-parameter-build.dynamodb.PutItem", self._put, unique_id="queue-bench-put")
        transact = "before-parameter-build.dynamodb.TransactWriteItems"
        events.register(transact, self._transact, unique_id="queue-bench-tx")

    def reset(self) -> None:
        self.read_units, self.write_units = 0.0, 0

    @staticmethod
    def _key(item: dict[str, Any]) -> tuple[str, str] | None:
        pk = item.get("PK", {}).get("S", "")
        return (pk, item["SK"]["S"]) if pk.startswith(ACD_PREFIXES) else None

    def _got(self, parsed: dict[str, Any], **_: Any) -> None:
        item = parsed.get("Item")
        key = self._key(item) if item else None
        if item and key:
            self.sizes[key] = item_size(item)
            self.read_units += math.ceil(self.sizes[key] / READ_UNIT_BYTES)

    def _written(self, item: dict[str, Any], factor: int) -> None:
        key = self._key(item)
        if key is not None:
            new = item_size(item)
            self.write_units += factor * write_units(max(new, self.sizes.get(key, 0)))
            self.sizes[key] = new

    def _put(self, params: dict[str, Any], **_: Any) -> None:
        self._written(params["Item"], 1)

    def _transact(self, params: dict[str, Any], **_: Any) -> None:
        for entry in params["TransactItems"]:
            if "Put" in entry:
                self._written(entry["Put"]["Item"], 2)
            elif "Update" in entry:  # an agent hold: about 120 bytes, one unit (two in a transaction)
                self.write_units += 2


class Bench:
    def __init__(self, endpoint: str) -> None:
        from vpbx.domain.directory import Subscriber
        from vpbx.domain.queues import Queue, QueueMember
        from vpbx.domain.scenario import Scenario, references_of
        from vpbx.service.acd import StoredQueueDesk
        from vpbx.store.models import PhoneNumber, Tenant

        self.repository = handler_repository(endpoint)
        now = datetime.now(UTC)
        self.repository.create_tenant(Tenant(id=TENANT, name="Queue bench", created_at=now))
        self.repository.create_subscriber(TENANT, Subscriber(extension="201", name="Agent"))
        queue = Queue(
            id="support",
            name="Support",
            members=[QueueMember(extension="201")],
            max_waiting=200,
            wrapup_seconds=0,
            max_wait_seconds=3600,
        )
        self.repository.create_queue(TENANT, queue)
        self.queue = queue
        self.desk = StoredQueueDesk(self.repository, TENANT)
        scenario = Scenario.model_validate(
            {
                "name": "Queue bench",
                "elements": [
                    {"id": "start", "type": "incoming_call"},
                    {"id": "line", "type": "queue", "queue_id": "support"},
                    {"id": "end", "type": "hangup"},
                ],
                "connections": [
                    {"from": "start", "to": "line"},
                    *({"from": "line", "exit": name, "to": "end"} for name in ("timeout", "no_agents", "full")),
                ],
            }
        )
        draft = self.repository.create_scenario(TENANT, "main", scenario)
        snapshot = self.repository.resolve_directory(TENANT, references_of(scenario))
        self.repository.publish_scenario(TENANT, "main", draft.version, snapshot, now, None)
        self.repository.create_number(TENANT, PhoneNumber(number=NUMBER, scenario_id="main"))
        self.handler = load_function("CallsFunction").handler
        self.counter = RequestCounter(self.repository.client, "queue-bench")
        self.capacity = CapacityMeter(self.repository.client)

    def start(self) -> tuple[str, dict[str, Any]]:
        call_id = f"qb-{uuid.uuid4().hex}"  # a SIP Call-ID's typical length
        body = {"call_id": call_id, "from": "+79161234567", "to": NUMBER}
        response = invoke(self.handler, api_event("POST", "/v1/calls", body=body, authorizer=TELEPHONY))
        return call_id, _decision(response)

    def report(self, call_id: str, seq: int, outcome: str, **fields: Any) -> tuple[dict[str, Any], int, float, int]:
        """(decision, requests, read units, write units) of one event."""
        path, resource = f"/v1/calls/{call_id}/events", "/v1/calls/{call_id}/events"
        body = {"seq": seq, "outcome": outcome, **fields}
        self.counter.reset()
        self.capacity.reset()
        response = invoke(self.handler, api_event("POST", path, resource=resource, body=body, authorizer=TELEPHONY))
        return _decision(response), self.counter.requests, self.capacity.read_units, self.capacity.write_units

    def state_size(self) -> int:
        key = {"PK": {"S": f"TENANT#{TENANT}#QSTATE#support"}, "SK": {"S": "QSTATE"}}
        item = self.repository.client.get_item(TableName=self.repository.table_name, Key=key)["Item"]
        return item_size(item)

    def measure(self, waiting: int) -> list[Row]:
        first, decision = self.start()
        assert decision["action"]["type"] == "ring", decision
        answered, *_ = self.report(first, decision["seq"], "answered", extension="201")
        callers = dict([self.start()])  # call id -> its latest decision: the head of the line, then the last
        fillers = [f"filler-{waiting}-{n}" for n in range(max(0, waiting - 2))]
        for filler in fillers:  # callers between them join through the ACD itself: the line is what is measured
            self.desk.join(self.queue, filler, datetime.now(UTC))
        if waiting > 1:
            callers.update([self.start()])
        assert all(d["action"]["type"] == "enqueue" for d in callers.values())
        last_id, head_id = list(callers)[-1], next(iter(callers))
        callers[last_id], requests, reads, writes = self.report(last_id, callers[last_id]["seq"], "waiting")
        assert callers[last_id]["action"]["type"] == "enqueue", callers[last_id]
        assert callers[last_id]["action"]["position"] == waiting, callers[last_id]
        size = self.state_size()
        self.report(first, answered["seq"], "completed", duration_seconds=60, ended_by="caller")
        callers[head_id], offer_requests, offer_reads, offer_writes = self.report(
            head_id, callers[head_id]["seq"], "waiting"
        )
        assert callers[head_id]["action"]["type"] == "ring", callers[head_id]
        for call_id, decision in callers.items():  # empty the line for the next length
            self.report(call_id, decision["seq"], "caller_hangup")
        for filler in fillers:
            self.desk.leave(self.queue, filler, datetime.now(UTC))
        label = f"({waiting} in line)"
        return [
            count_row(f"requests per waiting report {label}", requests, "requests", GOAL_REQUESTS_PER_REPORT),
            row(f"read units per waiting report {label}", reads, "RCU"),
            count_row(f"write units per waiting report {label}", writes, "WCU", 0),
            count_row(f"requests per offer {label}", offer_requests, "requests", GOAL_REQUESTS_PER_OFFER),
            row(f"read units per offer {label}", offer_reads, "RCU"),
            row(f"write units per offer {label}", offer_writes, "WCU"),
            row(f"queue state item {label}", size, "bytes"),
        ]


def _decision(response: dict[str, Any]) -> dict[str, Any]:
    import json

    body: dict[str, Any] = json.loads(response["body"])
    return body


def run(quick: bool) -> list[Row]:
    with moto_endpoint() as endpoint:
        bench = Bench(endpoint)
        rows: list[Row] = []
        for waiting in (1, 20) if quick else (1, 20, 200):
            rows.extend(bench.measure(waiting))
        return rows


if __name__ == "__main__":
    sys.exit(main(run, __doc__))
