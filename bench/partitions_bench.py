"""Hot partitions in a burst: writes per partition key (table and index partitions) while one tenant takes a burst of
calls through the real calls service, and the hottest key against DynamoDB's per-partition limit.

Usage: .venv/bin/python bench/partitions_bench.py [--calls 2000] [--rate 166.7] [--json]
       .venv/bin/python bench/partitions_bench.py --tree /tmp/base   # the same burst through another checkout's code

The burst: 10,000 calls a minute (`--rate` 166.7 calls/s) to one number of one tenant; `--calls` of them are run
(default 2,000, 12 simulated seconds; `--calls 10000` runs the whole minute, ~5x longer). Each call: start (rings
101), half of them `no_answer` (then rings 102) at +20 s, `answered` at +25 s, `completed` at +85 s — start, 2–3
events, completed — in simulated time order through CallsService (the code the Lambda runs) on a DynamoRepository over
an in-process moto table built from the tree's template.yaml.

A recorder wraps the repository's client and, for every successful write, adds to each partition key it touches:
the table item's partition (write units by the item's size, the larger of before and after) and every global
secondary index partition as DynamoDB writes it (an entry added, removed, moved — two writes, one per partition —
or rewritten because a projected attribute changed; index definitions from the template). Reads are counted per
partition key too (GetItem, BatchGetItem keys).

`--listing`: the price of the sharded listing instead: 500 calls stored, then GET /v1/calls pages (limit 50, all
calls and by number) through the store, each Query delayed by `--latency-ms` (a network round trip; moto answers in
microseconds): Queries, merge rounds and index entries read per page, and ms per page with the shards queried in
parallel (the store's thread pool) and one after another.

Rates against 1,000 WCU/s, the documented per-partition write limit: a key's sustained rate while calls keep arriving
at `--rate` is its write units per call × the rate (a key many calls share: the listing, index and counter
partitions); a call's own partition is written only during that call, so its rate is its busiest simulated second.
Shares and sustained rates do not depend on `--calls` once the shards have evened out (a few hundred calls).
"""

import argparse
import contextlib
import heapq
import json
import math
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PARTITION_WRITE_LIMIT = 1000  # WCU/s per partition (DynamoDB documentation)
PARTITION_READ_LIMIT = 3000  # RCU/s per partition
TENANT = "burst"
NUMBER = "+74951234567"
Item = dict[str, Any]


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=10_000 / 60, help="calls started per simulated second")
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout whose layers/vpbx and template.yaml to run")
    parser.add_argument("--top", type=int, default=8)
    parser.add_argument("--listing", action="store_true", help="measure listing pages instead of the burst")
    parser.add_argument("--latency-ms", type=float, default=5.0, help="per Query, in --listing")
    parser.add_argument("--json", action="store_true")
    return parser.parse_args()


def item_size(item: Mapping[str, Any]) -> int:
    from tests.helpers.item_size import item_size as size

    return size(item)


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


class Recorder:
    """A DynamoDB client proxy: every request passes through; successful writes and reads are counted per key."""

    def __init__(self, client: Any, table_name: str, clock: Callable[[], datetime]) -> None:
        self._client = client
        self._clock = clock
        table = client.describe_table(TableName=table_name)["Table"]
        self.indexes = [
            (
                index["IndexName"],
                [k["AttributeName"] for k in index["KeySchema"]],
                set(index["Projection"].get("NonKeyAttributes", [])),
            )
            for index in table.get("GlobalSecondaryIndexes", [])
        ]
        self.shadow: dict[tuple[str, str], Item] = {}
        self.writes: Counter[str] = Counter()  # write requests landing on a partition key
        self.units: Counter[str] = Counter()  # write units
        self.per_second: dict[str, Counter[int]] = defaultdict(Counter)  # write units per simulated second
        self.reads: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    # ---------------------------------------------------------------------------------------- recording
    def _record(self, key: str, units: int) -> None:
        self.writes[key] += 1
        self.units[key] += units
        self.per_second[key][int(self._clock().timestamp())] += units

    def _written(self, key: tuple[str, str], new: Item | None) -> None:
        old = self.shadow.get(key)
        size = max(item_size(old or {}), item_size(new or {}))
        self._record("table " + key[0], write_units(size))
        for name, (hash_attr, *range_attr), projected in self.indexes:
            before, after = _index_key(old, hash_attr, range_attr), _index_key(new, hash_attr, range_attr)
            if before is not None and before != after:
                self._record(f"{name} {before[0]}", 1)
            if after is not None and (before != after or _projected(old, projected) != _projected(new, projected)):
                self._record(f"{name} {after[0]}", 1)
        if new is None:
            self.shadow.pop(key, None)
        else:
            self.shadow[key] = new

    def _current(self, key: Item) -> Item | None:
        item: Item | None = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        return item

    # ---------------------------------------------------------------------------------------- the writes
    def put_item(self, **params: Any) -> Any:
        self.requests["PutItem"] += 1
        response = self._client.put_item(**params)
        self._table = params["TableName"]
        item = params["Item"]
        self._written((item["PK"]["S"], item["SK"]["S"]), item)
        return response

    def update_item(self, **params: Any) -> Any:
        self.requests["UpdateItem"] += 1
        response = self._client.update_item(**params)
        self._table = params["TableName"]
        key = params["Key"]
        self._written((key["PK"]["S"], key["SK"]["S"]), self._current(key))
        return response

    def delete_item(self, **params: Any) -> Any:
        self.requests["DeleteItem"] += 1
        response = self._client.delete_item(**params)
        key = params["Key"]
        self._written((key["PK"]["S"], key["SK"]["S"]), None)
        return response

    def transact_write_items(self, **params: Any) -> Any:
        self.requests["TransactWriteItems"] += 1
        try:
            response = self._client.transact_write_items(**params)
        except Exception as failed:
            raise SystemExit(f"a transaction failed ({failed}); this bench's moto keeps no rollback") from None
        for entry in params["TransactItems"]:
            (operation, body), *_ = entry.items()
            self._table = body["TableName"]
            if operation == "Put":
                item = body["Item"]
                self._written((item["PK"]["S"], item["SK"]["S"]), item)
            elif operation == "Update":
                key = body["Key"]
                self._written((key["PK"]["S"], key["SK"]["S"]), self._current(key))
            elif operation == "Delete":
                key = body["Key"]
                self._written((key["PK"]["S"], key["SK"]["S"]), None)
        return response

    # ---------------------------------------------------------------------------------------- the reads
    def get_item(self, **params: Any) -> Any:
        self.requests["GetItem"] += 1
        self.reads["table " + params["Key"]["PK"]["S"]] += 1
        return self._client.get_item(**params)

    def batch_get_item(self, **params: Any) -> Any:
        self.requests["BatchGetItem"] += 1
        for request in params["RequestItems"].values():
            for key in request["Keys"]:
                self.reads["table " + key["PK"]["S"]] += 1
        return self._client.batch_get_item(**params)

    def query(self, **params: Any) -> Any:
        self.requests["Query"] += 1
        return self._client.query(**params)


def _index_key(item: Item | None, hash_attr: str, range_attr: list[str]) -> tuple[str, ...] | None:
    if item is None or hash_attr not in item or any(name not in item for name in range_attr):
        return None
    return (item[hash_attr]["S"], *(item[name]["S"] for name in range_attr))


def _projected(item: Item | None, names: set[str]) -> dict[str, Any]:
    return {name: value for name, value in (item or {}).items() if name in names}


# -------------------------------------------------------------------------------------------------- the burst
class SimulatedClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def setup(repository: Any, now: datetime) -> None:
    from vpbx.domain.directory import Subscriber
    from vpbx.domain.scenario import Scenario
    from vpbx.store.models import DirectorySnapshot, PhoneNumber, Tenant

    from tests.helpers.scenarios import seed_scenario

    repository.create_tenant(Tenant(id=TENANT, name="Burst", sip_domain="burst.sip.example", created_at=now))
    draft = repository.create_scenario(TENANT, "main", Scenario.model_validate(seed_scenario()))
    subscribers = [Subscriber(extension=e, name=f"E{e}") for e in ("101", "102")]
    for subscriber in subscribers:
        repository.create_subscriber(TENANT, subscriber)
    repository.publish_scenario(TENANT, "main", draft.version, DirectorySnapshot(subscribers=subscribers), now, None)
    repository.create_number(TENANT, PhoneNumber(number=NUMBER, scenario_id="main"))


def burst_steps(calls: int, rate: float, start: datetime) -> list[tuple[datetime, int, str]]:
    """(when, call index, step) for every step of every call, in time order."""
    steps: list[tuple[datetime, int, str]] = []
    for i in range(calls):
        began = start + timedelta(seconds=i / rate)
        steps.append((began, i, "start"))
        if i % 2:
            steps.append((began + timedelta(seconds=20), i, "no_answer"))
        steps.append((began + timedelta(seconds=25), i, "answered"))
        steps.append((began + timedelta(seconds=85), i, "completed"))
    heapq.heapify(steps)
    return [heapq.heappop(steps) for _ in range(len(steps))]


@contextlib.contextmanager
def _without_transaction_backups() -> Iterator[None]:
    """moto backs up the whole table before each transaction (for its rollback): quadratic over a 10,000-call burst.
    The burst's transactions never fail (each call's steps are sequential), so the backup is skipped for the block; a
    failed one stops the bench rather than leave half a transaction counted."""
    import copy
    import types

    from moto.dynamodb import models

    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, models.Table) else copy.deepcopy(value, memo)

    models.copy = types.SimpleNamespace(deepcopy=deepcopy, copy=copy.copy)  # type: ignore[assignment]
    try:
        yield
    finally:
        models.copy = copy


def run_burst(calls: int, rate: float, template: Path) -> tuple[Recorder, float, int]:
    from moto import mock_aws

    with _without_transaction_backups(), mock_aws():
        import boto3
        from vpbx.service.calls import CallEvent, CallsService, CallStart
        from vpbx.store import schema
        from vpbx.store.dynamodb import DynamoRepository

        start = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
        clock = SimulatedClock(start)
        client = boto3.client("dynamodb", region_name="us-east-1")
        schema.create_table(client, "burst", template)
        setup(DynamoRepository("burst", client=client, clock=clock), start)
        recorder = Recorder(client, "burst", clock)
        repository = DynamoRepository("burst", client=recorder, clock=clock)
        service = CallsService(repository, clock=clock)
        seqs: dict[int, int] = {}
        began = time.perf_counter()
        for when, i, step in burst_steps(calls, rate, start):
            clock.now = when
            call_id = f"call-{i:06d}"
            if step == "start":
                decision = service.start(TENANT, CallStart.model_validate({"call_id": call_id, "to": NUMBER}))
                seqs[i] = decision.seq
                continue
            event: dict[str, Any] = {"seq": seqs[i], "outcome": step}
            if step == "completed":
                event.update(duration_seconds=60, ended_by="caller")
            seqs[i] = service.handle_event(TENANT, call_id, CallEvent.model_validate(event)).seq
        return recorder, time.perf_counter() - began, len(seqs)


# -------------------------------------------------------------------------------------------------- the listing
class DelayedQueries:
    """A client whose Queries answer what moto answered the first time, after `latency` seconds (moto's own Query
    time grows with the table and the machine's load; a DynamoDB Query's is a few ms), counted with the index entries
    they read."""

    def __init__(self, client: Any, latency: float, answers: dict[str, Any]) -> None:
        self._client, self._latency, self._answers = client, latency, answers
        self.queries = 0
        self.scanned = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def query(self, **params: Any) -> Any:
        request = json.dumps(params, sort_keys=True, default=str)
        if request not in self._answers:
            self._answers[request] = self._client.query(**params)
        else:
            time.sleep(self._latency)
        response = self._answers[request]
        self.queries += 1
        self.scanned += int(response.get("ScannedCount", 0))
        return response


def run_listing(template: Path, latency_ms: float, stored: int = 500, pages: int = 5) -> list[dict[str, Any]]:
    from moto import mock_aws

    with mock_aws():
        import boto3
        from vpbx.domain.calls import CallInfo, CallState
        from vpbx.store import schema
        from vpbx.store.dynamodb import DynamoRepository
        from vpbx.store.models import CallRecord, StoredDecision

        start = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
        client = boto3.client("dynamodb", region_name="us-east-1")
        schema.create_table(client, "listing", template)
        writer = DynamoRepository("listing", client=client, clock=lambda: start)
        for i in range(stored):
            info = CallInfo(call_id=f"c{i:05d}", caller="+79161234567", dialed=NUMBER, started_at=start)
            info = info.model_copy(update={"started_at": start + timedelta(seconds=i * 0.006)})
            state = CallState(call=info, scenario_id="main", version=1, seq=1, status="in_progress", element_id="x")
            decision = StoredDecision(seq=1, action=None, status="in_progress")
            expires = int((start + timedelta(days=1)).timestamp())
            writer.create_call(
                TENANT, CallRecord(tenant_id=TENANT, state=state, last_decision=decision, expires_at=expires)
            )
        rows: list[dict[str, Any]] = []
        answers: dict[str, Any] = {}
        for threads in (8, 1):
            for number in (None, NUMBER):
                for _walk in (False, True):  # the first walk asks moto, the timed one replays with the latency
                    delayed = DelayedQueries(client, latency_ms / 1000, answers)
                    reader = DynamoRepository("listing", client=delayed, clock=lambda: start)
                    reader.listing_threads = threads  # absent before sharding: one Query per page anyway
                    cursor, began = None, time.perf_counter()
                    for _ in range(pages):
                        page = reader.list_calls(TENANT, 50, cursor, number=number)
                        cursor = page.next_cursor
                    elapsed = time.perf_counter() - began
                rows.append(
                    {
                        "listing": "by number" if number else "all calls",
                        "threads": threads,
                        "queries_per_page": delayed.queries / pages,
                        "entries_read_per_page": delayed.scanned / pages,
                        "ms_per_page": round(elapsed * 1000 / pages, 1),
                        "query_latency_ms": latency_ms,
                    }
                )
        return rows


# -------------------------------------------------------------------------------------------------- the report
def key_class(key: str) -> str:
    """A key with its call id and its shard masked, so per-call partitions and the shards of one partition group."""
    kind, _, partition = key.partition(" ")
    parts = partition.split("#")
    if "CALL" in parts and parts.index("CALL") + 1 < len(parts):
        parts[parts.index("CALL") + 1] = "<call>"
    if len(parts) > 2 and len(parts[-1]) == 2 and parts[-1].isdigit():
        parts[-1] = "<nn>"
    return f"{kind} {'#'.join(parts)}"


def report(recorder: Recorder, calls: int, rate: float) -> dict[str, Any]:
    total_units = sum(recorder.units.values())
    rows: list[dict[str, Any]] = []
    for key, units in recorder.units.items():
        shared = "<call>" not in key_class(key)
        wcu_s = round(units / calls * rate, 1) if shared else max(recorder.per_second[key].values())
        rows.append(
            {
                "key": key,
                "writes": recorder.writes[key],
                "units": units,
                "share": units / total_units,
                "wcu_s": wcu_s,
                "of_limit": round(wcu_s / PARTITION_WRITE_LIMIT, 3),
            }
        )
    rows.sort(key=lambda row: -row["wcu_s"])
    classes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        classes[key_class(row["key"])].append(row)
    hottest = rows[0]
    return {
        "calls": calls,
        "rate": round(rate, 1),
        "partition_keys_written": len(rows),
        "write_units": total_units,
        "write_units_per_call": round(total_units / calls, 2),
        "requests": dict(recorder.requests),
        "write_units_per_call_by_index": _per_call_by_index(recorder, calls),
        "hottest": hottest,
        "above_limit": [row["key"] for row in rows if row["wcu_s"] > PARTITION_WRITE_LIMIT],
        "classes": [
            {
                "class": name,
                "keys": len(members),
                "units": sum(m["units"] for m in members),
                "hottest_wcu_s": max(m["wcu_s"] for m in members),
                "hottest_share": round(max(m["share"] for m in members), 4),
            }
            for name, members in sorted(classes.items(), key=lambda kv: -max(m["wcu_s"] for m in kv[1]))
        ],
        "top": rows[:8],
        "reads_hottest": recorder.reads.most_common(3),
    }


def _per_call_by_index(recorder: Recorder, calls: int) -> dict[str, float]:
    totals: Counter[str] = Counter()
    for key, units in recorder.units.items():
        totals[key.partition(" ")[0]] += units
    return {name: round(units / calls, 2) for name, units in totals.most_common()}


def print_report(result: dict[str, Any], tree: Path, elapsed: float, top: int) -> None:
    print(f"burst through {tree}: {result['calls']} calls at {result['rate']} calls/s ({elapsed:.0f} s run)")
    print(f"requests: {result['requests']}")
    print(
        f"write units: {result['write_units']} ({result['write_units_per_call']} per call) "
        f"over {result['partition_keys_written']} partition keys"
    )
    print(f"write units per call by table/index: {result['write_units_per_call_by_index']}")
    hot = result["hottest"]
    print(
        f"hottest key: {hot['key']}  share {hot['share']:.1%} of write units  {hot['wcu_s']} WCU/s = "
        f"{hot['of_limit']:.2f} x the {PARTITION_WRITE_LIMIT} WCU/s partition limit"
    )
    print(f"keys above the limit: {len(result['above_limit'])}")
    print(f"\n{'key class (hottest first)':66} {'keys':>6} {'WCU':>8} {'top share':>9} {'WCU/s':>8}")
    for row in result["classes"][:top]:
        print(
            f"{row['class'][:66]:66} {row['keys']:>6} {row['units']:>8} "
            f"{row['hottest_share']:>9.2%} {row['hottest_wcu_s']:>8}"
        )
    print(f"most read keys: {result['reads_hottest']}")


def run(quick: bool) -> list[dict[str, Any]]:
    """The rows `bench/run_all.py` collects: the burst through this tree (10 calls with --quick, else 600)."""
    from bench.common import count_row, row

    calls = 10 if quick else 600
    recorder, _, calls = run_burst(calls, 10_000 / 60, ROOT / "template.yaml")
    result = report(recorder, calls, 10_000 / 60)
    hot = result["hottest"]
    return [
        row(
            "burst 10k calls/min, one tenant: write units per call (table + indexes)",
            result["write_units_per_call"],
            "WRU",
        ),
        row("burst: hottest partition key's share of write units", round(hot["share"] * 100, 2), "%"),
        row(
            "burst: hottest partition key's sustained write rate",
            hot["wcu_s"],
            "WCU/s",
            goal=f"<= {PARTITION_WRITE_LIMIT}",
            passed=hot["wcu_s"] <= PARTITION_WRITE_LIMIT,
        ),
        count_row("burst: partition keys above 1,000 WCU/s", len(result["above_limit"]), "keys", 0),
    ]


def main() -> None:
    args = _arguments()
    tree = args.tree.resolve()
    sys.path.insert(0, str(tree / "layers" / "vpbx"))  # before the installed package: the tree's code runs
    sys.path.insert(1, str(ROOT))  # tests.helpers
    for name, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    import logging

    logging.disable(logging.INFO)
    if args.listing:
        rows = run_listing(tree / "template.yaml", args.latency_ms)
        print(json.dumps(rows, indent=2) if args.json else "\n".join(str(row) for row in rows))
        return
    recorder, elapsed, calls = run_burst(args.calls, args.rate, tree / "template.yaml")
    result = report(recorder, calls, args.rate)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print_report(result, tree, elapsed, args.top)


if __name__ == "__main__":
    main()
