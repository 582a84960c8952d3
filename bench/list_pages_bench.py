"""List endpoints: time per page (limit 50) of GET /v1/subscribers through the real directory handler on moto.

Usage: .venv/bin/python bench/list_pages_bench.py [--quick] [--json]

One moto DynamoDB server on loopback, the table built from template.yaml, two tenants: a small one (100 subscribers)
and a large one (10,000; 1,000 in quick mode). The tenants are seeded with BatchWriteItem directly, with items built
by the repository's own item builder (`DynamoRepository._versioned_item`, the store's key layout), so seeding takes
seconds, not the minutes 10,000 API calls would. Then, through functions/directory/app.py's handler (API Gateway
event in, proxy response out):
- the first page of each tenant;
- a deep page: the cursor of the page 90% of the way through the large tenant (reached by following next_cursor
  from the first page), requested again and again;
- the floor: one bare Query of 51 items (what a page reads) on the same server and client, at the same point (first
  page of each tenant; the deep page's start key), to show what the store itself costs on moto;
- DynamoDB requests and items read per page, counted by botocore hooks on the repository's client: what makes a page
  cost the same at any size and depth on DynamoDB (one Query, limit + 1 items).
Requests interleave so that machine noise hits them alike; values are medians. Goals: large ÷ small ≤ 1.5 for the
first page and for the deep page (the small tenant's first page is the reference); 1 request and ≤ 51 items per page.
moto's Query sorts the whole partition and walks to the start key on every call (O(partition)), which DynamoDB does
not; the bare-Query floors show how much of a deep page's time is moto's.
"""

import argparse
import contextlib
import importlib.util
import io
import json
import logging
import os
import statistics
import sys
import time
import uuid
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PAGE = 50
GOAL_RATIO = 1.5
SMALL, LARGE = "small", "large"
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


def load_function(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_function_{name}", ROOT / "functions" / name / "app.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load functions/{name}/app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def list_event(tenant_id: str, cursor: str | None) -> dict[str, Any]:
    query = {"limit": str(PAGE), **({"cursor": cursor} if cursor else {})}
    headers = {"Accept": "application/json"}
    return {
        "resource": "/v1/subscribers",
        "path": "/v1/subscribers",
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()},
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/v1/subscribers",
            "httpMethod": "GET",
            "path": "/v1/v1/subscribers",
            "stage": "v1",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "127.0.0.1"},
            "authorizer": {"tenant_id": tenant_id, "key_id": "bench-key", "role": "admin", "principalId": "bench"},
        },
        "body": None,
        "isBase64Encoded": False,
    }


class Context:
    function_name = "directory-bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:directory-bench"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@contextlib.contextmanager
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    for name, value in FAKE_AWS.items():
        os.environ.setdefault(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


class Bench:
    def __init__(self, endpoint: str) -> None:
        from vpbx.api.deps import set_repository
        from vpbx.store import schema
        from vpbx.store.dynamodb import DynamoRepository
        from vpbx.store.models import Tenant

        self.table = f"vpbx-bench-{uuid.uuid4().hex[:8]}"
        self.repository = DynamoRepository(self.table, endpoint_url=endpoint)
        self.client = self.repository.client
        schema.create_table(self.client, self.table)
        now = datetime.now(UTC)
        for tenant in (SMALL, LARGE):
            record = Tenant(id=tenant, name=tenant, sip_domain=f"{tenant}.example", created_at=now)
            self.repository.create_tenant(record)
        set_repository(self.repository)
        self.handler = load_function("directory").handler
        self.requests = 0
        self.items_read = 0
        self.client.meta.events.register("before-call.dynamodb", self._count_request, unique_id="list-bench-before")
        self.client.meta.events.register("after-call.dynamodb", self._count_items, unique_id="list-bench-after")

    def _count_request(self, **_: Any) -> None:
        self.requests += 1

    def _count_items(self, parsed: dict[str, Any], **_: Any) -> None:
        self.items_read += int(parsed.get("ScannedCount", 0))

    def seed(self, tenant_id: str, count: int) -> float:
        """Writes `count` subscribers (extensions 100000…) in batches of 25 on 4 threads; returns seconds taken."""
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
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(self._write_batch, batches))
        return time.perf_counter() - started

    def _write_batch(self, items: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {self.table: [{"PutRequest": {"Item": item}} for item in items]}
        while pending:
            pending = self.client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    def page(self, tenant_id: str, cursor: str | None) -> tuple[float, dict[str, Any]]:
        """(ms, body) of one GET /v1/subscribers?limit=50[&cursor=…] through the handler."""
        event = list_event(tenant_id, cursor)
        self.requests = self.items_read = 0
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():  # EMF blobs, "no metrics"
            warnings.simplefilter("ignore")
            response = self.handler(event, Context())
        took = (time.perf_counter() - started) * 1000
        if response["statusCode"] != 200:
            raise RuntimeError(f"handler answered {response['statusCode']}: {response['body']}")
        body: dict[str, Any] = json.loads(response["body"])
        if len(body["items"]) != PAGE:
            raise RuntimeError(f"a page of {len(body['items'])} items, expected {PAGE}")
        return took, body

    def cursor_at(self, tenant_id: str, page_number: int) -> str:
        """The cursor that asks for page `page_number` (1-based), found by following next_cursor."""
        cursor: str | None = None
        for _ in range(page_number - 1):
            cursor = self.page(tenant_id, cursor)[1]["next_cursor"]
            if cursor is None:
                raise RuntimeError(f"{tenant_id} has fewer than {page_number} pages")
        if cursor is None:
            raise RuntimeError("a deep page needs at least page 2")
        return cursor

    def bare_query(self, tenant_id: str, cursor: str | None = None) -> float:
        """ms of one Query of PAGE + 1 subscribers from where `cursor` points, without the handler."""
        from vpbx.store.keys import SUBSCRIBER_PREFIX, tenant_pk
        from vpbx.store.paging import ListScope, decode_cursor

        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "PK = :p AND begins_with(SK, :s)",
            "ExpressionAttributeValues": {":p": {"S": tenant_pk(tenant_id)}, ":s": {"S": SUBSCRIBER_PREFIX}},
            "ConsistentRead": True,
            "Limit": PAGE + 1,
        }
        start = decode_cursor(cursor, tenant_id, ListScope(tenant_pk(tenant_id), SUBSCRIBER_PREFIX))
        if start:
            params["ExclusiveStartKey"] = {name: {"S": value} for name, value in start.items()}
        started = time.perf_counter()
        self.client.query(**params)
        return (time.perf_counter() - started) * 1000


def measure(quick: bool) -> dict[str, Any]:
    large_count = 1_000 if quick else 10_000
    rounds = 10 if quick else 60
    with moto_endpoint() as endpoint:
        bench = Bench(endpoint)
        seed_seconds = bench.seed(SMALL, 100) + bench.seed(LARGE, large_count)
        deep_page = max(2, int(large_count / PAGE * 0.9))
        deep_cursor = bench.cursor_at(LARGE, deep_page)
        samples: dict[str, list[float]] = {}
        requests: list[int] = []
        items_read: list[int] = []
        for _ in range(5):  # warm-up: code paths, connections
            bench.page(SMALL, None)
            bench.page(LARGE, deep_cursor)
        for _ in range(rounds):
            for name, tenant, cursor in (("small", SMALL, None), ("large", LARGE, None), ("deep", LARGE, deep_cursor)):
                samples.setdefault(name, []).append(bench.page(tenant, cursor)[0])
                requests.append(bench.requests)
                items_read.append(bench.items_read)
                samples.setdefault(f"floor {name}", []).append(bench.bare_query(tenant, cursor))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return {
        **medians,
        "requests": max(requests),
        "items_read": max(items_read),
        "large_count": large_count,
        "deep_page": deep_page,
        "seed_seconds": seed_seconds,
    }


def run(quick: bool) -> list[dict[str, Any]]:
    figures = measure(quick)
    large = f"{figures['large_count']:,}"
    print(f"# seeded {figures['large_count'] + 100:,} subscribers in {figures['seed_seconds']:.1f} s", file=sys.stderr)

    def row(figure: str, value: float, floor: float | None, goal: float | None, unit: str = "ms") -> dict[str, Any]:
        ratio = value / floor if floor else None
        return {
            "figure": figure,
            "value": round(value, 2),
            "unit": unit,
            "floor": round(floor, 2) if floor else None,
            "ratio": round(ratio, 3) if ratio else None,
            "goal": f"ratio <= {goal}" if goal else None,
            "pass": ratio <= goal if goal and ratio else None,
        }

    small, deep, floor_large = figures["small"], f"page {figures['deep_page']}", figures["floor large"]
    return [
        row("list subscribers, first page, 100 (floor: bare Query)", small, figures["floor small"], None),
        row(f"list subscribers, first page, {large} (floor: 100)", figures["large"], small, GOAL_RATIO),
        row(f"list subscribers, {deep}, {large} (floor: 100)", figures["deep"], small, GOAL_RATIO),
        row(f"list subscribers, first page, {large} (floor: bare Query)", figures["large"], floor_large, None),
        row(f"list subscribers, {deep}, {large} (floor: bare Query)", figures["deep"], figures["floor deep"], None),
        count_row("DynamoDB requests per list page", figures["requests"], "requests", 1),
        count_row("DynamoDB items read per list page", figures["items_read"], "items", PAGE + 1),
    ]


def count_row(figure: str, value: int, unit: str, limit: int) -> dict[str, Any]:
    return {"figure": figure, "value": value, "unit": unit, "floor": None, "ratio": None, "goal": f"<= {limit}",
            "pass": value <= limit}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a small tenant and few rounds: prove the bench runs")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()
    rows = run(quick=args.quick)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for item in rows:
        verdict = "" if item["pass"] is None else ("  PASS" if item["pass"] else "  FAIL")
        ratio = f"  ratio {item['ratio']} (floor {item['floor']} ms)" if item["ratio"] is not None else ""
        print(f"{item['figure']:<60} {item['value']:>8} {item['unit']}{ratio}{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
