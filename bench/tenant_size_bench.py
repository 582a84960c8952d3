"""Call path cost as a tenant grows: DynamoDB requests and read/write units per warm start and per event.

Usage: .venv/bin/python bench/tenant_size_bench.py [--quick] [--json]

Every figure comes from functions/calls/app.py's handler over a moto DynamoDB server (table from template.yaml), warm
(each number was called once before measuring), so whatever the service code does is what is counted:
- requests: a botocore `before-call.dynamodb` hook on the handler's client;
- read and write units: moto reports a constant ConsumedCapacity whatever the item (checked: 0.5 per GetItem, 1 per
  write), so units are computed by DynamoDB's published rules from the *stored* items each request touches, read
  beside the handler by a second, unhooked client: a read costs ceil(item / 4 KB) per item (half when eventually
  consistent; a projection does not reduce it; a Query sums the items it reads, filters do not reduce it either), a
  write ceil(max(old, new) / 1 KB) on the table and the same for each index entry it changes
  (tests/helpers/item_size.py), a transaction twice that, a failed condition still pays for the item it checked;
- rows: 1, 100 and 10,000 subscribers with 1 published scenario (the seed: ring two extensions); 1,000 published
  scenarios in one tenant with calls spread over all of them; a scenario naming 10,000 extensions (200 groups of
  50); a CRM scenario (external routing) in a 10,000-subscriber tenant;
- the CRM scenario's version item (bytes, read units) and a cache miss's load + compile time (version, directory,
  tenant, compile: a fresh cache, median), the figures of issue 19's compact compiled form.
Ratios are against the call-path goals of issue 19 (2 requests per start, 1 per tokened event): a ratio above 1 is
what is left to do. `--quick` shrinks the tenants (10 and 50 subscribers, 3 scenarios) and the call counts.
"""

import json
import math
import os
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: bench.common, tests.helpers

from bench.common import RequestCounter, Row, handler_repository, invoke, main, moto_endpoint, ms_since, row
from tests.helpers.apigw import api_event, authorizer_context
from tests.helpers.functions import load_function
from tests.helpers.item_size import index_entry, index_entry_size, item_size

GOAL_REQUESTS_PER_START = 2
GOAL_REQUESTS_PER_EVENT = 1
READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024
CRM_URL = "https://crm.example.com/route"
CRM_EXTENSION_COUNT = 10  # distinct extensions the bench's CRM answers with (a warm function has looked each up)
TABLE_KEYS = ("PK", "SK")


# ------------------------------------------------------------------------------------------------ capacity meter


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return units if consistent else units / 2


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


class CapacityMeter:
    """Read and write units of the requests a client sends, by DynamoDB's rules, from the items they touch."""

    def __init__(self, client: Any, side: Any, table_name: str) -> None:
        self.side, self.table_name = side, table_name
        table = side.describe_table(TableName=table_name)["Table"]
        self.indexes = [
            ([*TABLE_KEYS, *(k["AttributeName"] for k in index["KeySchema"])], index["Projection"])
            for index in table.get("GlobalSecondaryIndexes", [])
        ]
        self.rru = 0.0
        self.wru = 0.0
        self.active = False  # metered only while measuring (its side reads would slow the set-up down)
        self._before: dict[str, Any] = {}
        client.meta.events.register("before-parameter-build.dynamodb", self._params, unique_id="capacity-meter-params")
        client.meta.events.register("after-call.dynamodb", self._after, unique_id="capacity-meter-units")

    def reset(self) -> None:
        self.rru, self.wru = 0.0, 0.0

    def _item(self, key: dict[str, Any]) -> dict[str, Any]:
        return self.side.get_item(TableName=self.table_name, Key=key, ConsistentRead=True).get("Item") or {}

    def _key(self, item_or_key: dict[str, Any]) -> dict[str, Any]:
        return {name: item_or_key[name] for name in TABLE_KEYS}

    def _params(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        """Before a write, the items it may replace (their size counts too)."""
        name = model.name
        self._before = {"operation": name, "params": params}
        if not self.active:
            return
        if name in ("PutItem", "UpdateItem", "DeleteItem"):
            key = self._key(params.get("Item") or params["Key"])
            self._before["old"] = [(key, self._item(key))]
        elif name == "TransactWriteItems":
            self._before["old"] = [
                (key, self._item(key))
                for entry in params["TransactItems"]
                for body in entry.values()
                for key in [self._key(body.get("Item") or body["Key"])]
            ]

    def _after(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        name, params = model.name, self._before.get("params", {})
        if not self.active:
            return
        if name == "GetItem":
            self.rru += read_units(item_size(self._item(params["Key"])), bool(params.get("ConsistentRead")))
        elif name == "BatchGetItem":
            for request in params["RequestItems"].values():
                consistent = bool(request.get("ConsistentRead"))
                self.rru += sum(read_units(item_size(self._item(key)), consistent) for key in request["Keys"])
        elif name == "TransactGetItems":
            keys = [entry["Get"]["Key"] for entry in params["TransactItems"]]
            self.rru += sum(2 * read_units(item_size(self._item(key)), True) for key in keys)
        elif name == "Query":
            size = sum(item_size(item) for item in self._queried(params))
            units = math.ceil(size / READ_UNIT_BYTES) or 1
            self.rru += units if params.get("ConsistentRead") else units / 2
        elif name in ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"):
            factor = 2 if name == "TransactWriteItems" else 1
            for key, old in self._before.get("old", []):
                self.wru += factor * self._written(old, self._item(key))

    def _written(self, old: dict[str, Any], new: dict[str, Any]) -> int:
        units = write_units(max(item_size(old), item_size(new)))
        for key_attributes, projection in self.indexes:
            before = index_entry(old, key_attributes, projection)
            after = index_entry(new, key_attributes, projection)
            if before != after:  # an index entry is written only when it changes
                units += write_units(max(index_entry_size(before), index_entry_size(after)))
        return units

    def _queried(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The items a Query reads before any filter or projection (what it pays for)."""
        condition = params["KeyConditionExpression"]
        used = set(re.findall(r"[#:][A-Za-z0-9_]+", condition))
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": {k: v for k, v in params["ExpressionAttributeValues"].items() if k in used},
        }
        names = {k: v for k, v in params.get("ExpressionAttributeNames", {}).items() if k in used}
        if names:
            query["ExpressionAttributeNames"] = names
        for option in ("IndexName", "ExclusiveStartKey", "Limit", "ScanIndexForward"):
            if option in params:
                query[option] = params[option]
        yield from self.side.query(**query).get("Items", [])


# ------------------------------------------------------------------------------------------------ tenants


def seed_scenario(first: str, second: str) -> dict[str, Any]:
    ring = {"type": "internal_subscriber", "limit_wait": True, "wait_seconds": 20}
    return {
        "name": "Seed",
        "elements": [
            {"id": "start", "type": "incoming_call"},
            {"id": "mgr", **ring, "extension": first},
            {"id": "next", **ring, "extension": second},
        ],
        "connections": [{"from": "start", "to": "mgr"}, {"from": "mgr", "exit": "no_answer", "to": "next"}],
    }


def groups_naming(extensions: list[str]) -> dict[str, Any]:
    elements: list[dict[str, Any]] = [{"id": "start", "type": "incoming_call"}]
    connections: list[dict[str, Any]] = []
    previous, exit_name = "start", None
    for group in range(len(extensions) // 50):
        members = extensions[group * 50 : group * 50 + 50]
        elements.append({"id": f"g{group}", "type": "group", "members": members, "wait_seconds": 15})
        connections.append({"from": previous, "to": f"g{group}", **({"exit": exit_name} if exit_name else {})})
        previous, exit_name = f"g{group}", "no_answer"
    return {"name": f"{len(extensions)} references", "elements": elements, "connections": connections}


def crm_scenario() -> dict[str, Any]:
    return {
        "name": "CRM",
        "elements": [
            {"id": "start", "type": "incoming_call"},
            {"id": "crm", "type": "external_routing", "url": CRM_URL, "wait_seconds": 15},
            {"id": "vm", "type": "voicemail", "mailbox": "100000"},
        ],
        "connections": [
            {"from": "start", "to": "crm"},
            {"from": "crm", "exit": "not_found", "to": "vm"},
            {"from": "crm", "exit": "no_answer", "to": "vm"},
        ],
    }


@dataclass
class Tenant:
    tenant_id: str
    numbers: list[str] = field(default_factory=list)


class World:
    def __init__(self, endpoint: str) -> None:
        import boto3
        from botocore.config import Config

        self.repository = handler_repository(endpoint)
        # a loaded machine makes moto slower than the 10 s read timeout AWS warrants: a resent write would be
        # applied twice (a duplicate start, a refused create), so the bench waits instead
        patient = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=10, read_timeout=300)
        self.repository._client = boto3.client(
            "dynamodb", endpoint_url=endpoint, region_name="us-east-1", config=patient
        )
        self.client = self.repository.client
        self.table = self.repository.table_name
        self.side = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1", config=patient)
        from vpbx.api.deps import set_state_tokens
        from vpbx.service.state_tokens import StateTokenKeys, StateTokens

        set_state_tokens(StateTokens.of(StateTokenKeys.from_secret(StateTokenKeys.generate())))  # events echo them
        self.handler = load_function("CallsFunction").handler
        self.counter = RequestCounter(self.client, "tenant-size")
        self.tokens: dict[str, str | None] = {}  # call id -> the state token of its latest decision
        self.meter = CapacityMeter(self.client, self.side, self.table)
        self._install_crm()
        self.numbers = 0
        self.calls = 0

    def _install_crm(self) -> None:
        """The CRM answers with one of CRM_EXTENSION_COUNT extensions, in turn, without leaving the process."""
        from vpbx.api.deps import crm_client

        class Crm:
            answered = 0

            def lookup_or_refuse(self, request: Any) -> str:
                self.answered += 1
                return str(100_000 + self.answered % CRM_EXTENSION_COUNT)

        crm_client.install(Crm())  # type: ignore[arg-type]

    def tenant(self, tenant_id: str, subscribers: int) -> Tenant:
        from vpbx.store.models import Tenant as TenantRecord

        now = datetime.now(UTC)
        record = TenantRecord(id=tenant_id, name=tenant_id, sip_domain="x.example", created_at=now)
        self.repository.create_tenant(record)
        self._subscribers(tenant_id, subscribers)
        return Tenant(tenant_id)

    def _subscribers(self, tenant_id: str, count: int) -> None:
        from vpbx.domain.directory import Subscriber
        from vpbx.store import keys

        now = datetime.now(UTC)
        items = [
            self.repository._versioned_item(
                keys.tenant_pk(tenant_id),
                keys.SUBSCRIBER_PREFIX + str(100_000 + n),
                Subscriber(extension=str(100_000 + n), name=f"Employee {n}"),
                1,
                now,
            )
            for n in range(count)
        ]
        batches = [items[i : i + 25] for i in range(0, len(items), 25)]
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(self._write_batch, batches))

    def _write_batch(self, items: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {self.table: [{"PutRequest": {"Item": item}} for item in items]}
        while pending:
            pending = self.side.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    def publish(self, tenant: Tenant, scenario_id: str, body: dict[str, Any]) -> None:
        """Create, publish (through the service: what it stores is what the code decides) and give it a number."""
        from vpbx.domain.errors import VersionMismatch
        from vpbx.domain.scenario import Scenario
        from vpbx.service.scenarios import ScenarioService
        from vpbx.store.models import PhoneNumber

        draft = self.repository.create_scenario(tenant.tenant_id, scenario_id, Scenario.model_validate(body))
        try:
            ScenarioService(self.repository, tenant.tenant_id).publish(scenario_id, draft.version, by=None)
        except VersionMismatch:  # botocore resent a transaction moto had applied (a slow loopback under load)
            if self.repository.published_version_of(tenant.tenant_id, scenario_id) != 1:
                raise
        self.numbers += 1
        number = f"+7495{1_000_000 + self.numbers}"
        self.repository.create_number(tenant.tenant_id, PhoneNumber(number=number, scenario_id=scenario_id))
        tenant.numbers.append(number)

    def measured(self, event: dict[str, Any], call_id: str) -> tuple[int, float, float]:
        """(requests, RRU, WRU) of one invocation; keeps the call's state token for its next event."""
        self.counter.reset()
        self.meter.reset()
        self.meter.active = True
        try:
            response = invoke(self.handler, event)
        finally:
            self.meter.active = False
        self.tokens[call_id] = json.loads(response["body"]).get("state_token")
        return self.counter.requests, self.meter.rru, self.meter.wru

    def start(self, tenant: Tenant, number: str) -> tuple[str, tuple[int, float, float]]:
        self.calls += 1
        call_id = f"c{self.calls}"
        body = {"call_id": call_id, "from": "+79161234567", "to": number}
        auth = authorizer_context(tenant.tenant_id, key_id="bench-key", role="telephony")
        return call_id, self.measured(api_event("POST", "/v1/calls", body=body, authorizer=auth), call_id)

    def event(self, tenant: Tenant, call_id: str) -> tuple[int, float, float]:
        path, resource = f"/v1/calls/{call_id}/events", "/v1/calls/{call_id}/events"
        auth = authorizer_context(tenant.tenant_id, key_id="bench-key", role="telephony")
        body = {"seq": 1, "outcome": "no_answer", "state_token": self.tokens.pop(call_id)}  # as the reference switch
        return self.measured(api_event("POST", path, resource=resource, body=body, authorizer=auth), call_id)


@dataclass
class Figures:
    label: str
    start: list[tuple[int, float, float]] = field(default_factory=list)
    event: list[tuple[int, float, float]] = field(default_factory=list)


def warm_calls(world: World, tenant: Tenant, label: str, calls: int, rounds: int = 1) -> Figures:
    """Call every number `rounds` times (warm-up), then `calls` calls spread over all numbers: a start and one event
    each."""
    print(f"# {label}: {time.strftime('%H:%M:%S')}", file=sys.stderr)
    for _ in range(rounds):
        for number in tenant.numbers:
            world.start(tenant, number)
    figures = Figures(label)
    step = max(1, len(tenant.numbers) // calls)
    for n in range(calls):
        number = tenant.numbers[(n * step + n) % len(tenant.numbers)]
        call_id, started = world.start(tenant, number)
        figures.start.append(started)
        figures.event.append(world.event(tenant, call_id))
    return figures


def crm_version_figures(world: World, tenant: Tenant, scenario_id: str, rounds: int) -> dict[str, float]:
    """The published version item (bytes, read units) and a cache miss (load + compile, fresh cache) in ms."""
    from vpbx.service.version_cache import VersionCache
    from vpbx.store import keys

    key = {"PK": {"S": keys.tenant_pk(tenant.tenant_id)}, "SK": {"S": keys.scenario_version_sk(scenario_id, 1)}}
    size = item_size(world.side.get_item(TableName=world.table, Key=key, ConsistentRead=True)["Item"])
    revision = world.repository.directory_revision(tenant.tenant_id)
    timings = []
    for _ in range(rounds):
        cache = VersionCache(world.repository)
        started = time.perf_counter()
        cache.compiled(tenant.tenant_id, scenario_id, 1, revision)
        timings.append(ms_since(started))
    return {"bytes": size, "rru": read_units(size, True), "ms": statistics.median(timings)}


# ------------------------------------------------------------------------------------------------ the run


def one_tenant(build: Callable[[World], Figures]) -> Figures:
    """`build` in a table of its own: moto copies the whole table on every transaction, so tenants kept side by side
    would make each other's set-up slow (DynamoDB does no such thing)."""
    with moto_endpoint() as endpoint:
        return build(World(endpoint))


def measure(quick: bool) -> tuple[list[Figures], dict[str, float]]:
    # quick: CI only proves the bench runs (tests/test_bench_quick.py gives every bench 110 s in all)
    large = 50 if quick else int(os.environ.get("TENANT_SIZE_LARGE", 10_000))
    many = 3 if quick else int(os.environ.get("TENANT_SIZE_SCENARIOS", 1_000))
    calls = 1 if quick else 20
    version: dict[str, float] = {"subscribers": large}

    def subscribers(count: int) -> Callable[[World], Figures]:
        def build(world: World) -> Figures:
            tenant = world.tenant(f"subs{count}", count)
            world.publish(tenant, "main", seed_scenario("100000", "100001" if count > 1 else "100000"))
            return warm_calls(world, tenant, f"{count:,} subscribers, 1 scenario", calls)

        return build

    def spread(world: World) -> Figures:
        tenant = world.tenant("spread", 2)
        for n in range(many):
            world.publish(tenant, f"s{n}", seed_scenario("100000", "100001"))
        return warm_calls(world, tenant, f"{many:,} scenarios, calls spread over all", calls)

    def references(world: World) -> Figures:
        tenant = world.tenant("refs", large)
        world.publish(tenant, "refs", groups_naming([str(100_000 + n) for n in range(large)]))
        return warm_calls(world, tenant, f"a scenario naming {large:,} extensions", calls)

    def crm(world: World) -> Figures:
        tenant = world.tenant("crm", large)
        world.publish(tenant, "crm", crm_scenario())
        version.update(crm_version_figures(world, tenant, "crm", 2 if quick else 15))
        # warm: the function has looked up each extension the CRM answers with (a first one costs a GetItem more)
        label = f"CRM scenario, {large:,} subscribers"
        return warm_calls(world, tenant, label, calls, rounds=1 if quick else CRM_EXTENSION_COUNT)

    cases = [subscribers(1), subscribers(10 if quick else 100), subscribers(large), spread, references, crm]
    if quick:  # small tenants: one table (one moto server) for all
        with moto_endpoint() as endpoint:
            world = World(endpoint)
            return [case(world) for case in cases], version
    return [one_tenant(case) for case in cases], version


def run(quick: bool) -> list[Row]:
    results, version = measure(quick)
    rows: list[Row] = []
    for figures in results:
        for what, samples, goal in (
            ("start", figures.start, GOAL_REQUESTS_PER_START),
            ("event", figures.event, GOAL_REQUESTS_PER_EVENT),
        ):
            requests = max(sample[0] for sample in samples)
            rows += [
                row(
                    f"{figures.label}: DynamoDB requests per warm {what} (goal of issue 19)",
                    requests,
                    "requests",
                    floor=goal,
                    ratio=requests / goal,
                    digits=0,
                ),
                row(f"{figures.label}: read units per warm {what}", statistics.mean(s[1] for s in samples), "RRU"),
                row(f"{figures.label}: write units per warm {what}", statistics.mean(s[2] for s in samples), "WRU"),
            ]
    crm = f"CRM scenario at {version['subscribers']:,} subscribers"
    rows += [
        row(f"{crm}: published version item", version["bytes"], "bytes", digits=0),
        row(f"{crm}: read units to load the version", version["rru"], "RRU", digits=1),
        row(f"{crm}: cache miss, load + compile (moto)", version["ms"], "ms", digits=1),
    ]
    return rows


if __name__ == "__main__":
    sys.exit(main(run, __doc__))
