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
- the handler's time outside the store: the page's time minus the time from sending each DynamoDB request to its
  parsed response (botocore's before-send and response-received events) — what vpbx itself spends per page.
Requests interleave so that machine noise hits them alike; values are medians. Goals: large ÷ small ≤ 1.5 for the
first page, and for the deep page's time outside the store (the small tenant's first page is the reference);
1 request and ≤ 51 items per page.
The deep page's total time is reported without a goal: moto's Query scans every item of the table, sorts the
partition and walks it to the start key on every call (O(table) + O(partition)), which DynamoDB does not (it seeks
to the start key in its sorted partition and reads 51 items, the count rows show that is all a page asks for). The
bare-Query floors show how much of a page's time is moto's.
"""

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

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
)
from tests.helpers.apigw import api_event, authorizer_context
from tests.helpers.functions import load_function

PAGE = 50
GOAL_RATIO = 1.5
SMALL, LARGE = "small", "large"


class StoreTimer:
    """Milliseconds a client spends between sending DynamoDB requests and having their parsed responses."""

    def __init__(self, client: Any, name: str) -> None:
        self.ms = 0.0
        self._sent_at = 0.0
        client.meta.events.register("before-send.dynamodb", self._sent, unique_id=f"{name}-sent")
        client.meta.events.register("response-received.dynamodb", self._received, unique_id=f"{name}-received")

    def reset(self) -> None:
        self.ms = 0.0

    def _sent(self, **_: Any) -> None:
        self._sent_at = time.perf_counter()

    def _received(self, **_: Any) -> None:
        self.ms += ms_since(self._sent_at)


class Bench:
    def __init__(self, endpoint: str) -> None:
        from vpbx.store.models import Tenant

        self.repository = handler_repository(endpoint)
        self.table = self.repository.table_name
        self.client = self.repository.client
        now = datetime.now(UTC)
        for tenant in (SMALL, LARGE):
            record = Tenant(id=tenant, name=tenant, sip_domain=f"{tenant}.example", created_at=now)
            self.repository.create_tenant(record)
        self.handler = load_function("DirectoryFunction").handler
        self.counter = RequestCounter(self.client, "list-bench")
        self.store_timer = StoreTimer(self.client, "list-bench")

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
        query = urlencode({"limit": str(PAGE), **({"cursor": cursor} if cursor else {})})
        event = api_event("GET", f"/v1/subscribers?{query}", authorizer=authorizer_context(tenant_id, "bench-key"))
        self.counter.reset()
        self.store_timer.reset()
        started = time.perf_counter()
        response = invoke(self.handler, event)
        took = ms_since(started)
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
        return ms_since(started)


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
                took = bench.page(tenant, cursor)[0]
                samples.setdefault(name, []).append(took)
                samples.setdefault(f"outside store {name}", []).append(took - bench.store_timer.ms)
                requests.append(bench.counter.requests)
                items_read.append(bench.counter.items_read)
                samples.setdefault(f"floor {name}", []).append(bench.bare_query(tenant, cursor))
    return {
        **medians(samples),
        "requests": max(requests),
        "items_read": max(items_read),
        "large_count": large_count,
        "deep_page": deep_page,
        "seed_seconds": seed_seconds,
    }


def run(quick: bool) -> list[Row]:
    figures = measure(quick)
    large = f"{figures['large_count']:,}"
    print(f"# seeded {figures['large_count'] + 100:,} subscribers in {figures['seed_seconds']:.1f} s", file=sys.stderr)
    small, deep = figures["small"], f"page {figures['deep_page']}"
    floor_large, floor_deep = figures["floor large"], figures["floor deep"]
    outside_small = figures["outside store small"]
    return [
        ratio_row("list subscribers, first page, 100 (floor: bare Query)", small, figures["floor small"], None),
        ratio_row(f"list subscribers, first page, {large} (floor: 100)", figures["large"], small, GOAL_RATIO),
        ratio_row(f"list subscribers, {deep}, {large} (floor: 100; moto's O(n) walk)", figures["deep"], small, None),
        ratio_row(
            f"list subscribers, {deep}, {large}, handler outside the store (floor: 100's)",
            figures["outside store deep"],
            outside_small,
            GOAL_RATIO,
        ),
        ratio_row(
            f"list subscribers, first page, {large}, handler outside the store (floor: 100's)",
            figures["outside store large"],
            outside_small,
            None,
        ),
        ratio_row(f"list subscribers, first page, {large} (floor: bare Query)", figures["large"], floor_large, None),
        ratio_row(f"list subscribers, {deep}, {large} (floor: bare Query)", figures["deep"], floor_deep, None),
        count_row("DynamoDB requests per list page", figures["requests"], "requests", 1),
        count_row("DynamoDB items read per list page", figures["items_read"], "items", PAGE + 1),
    ]


if __name__ == "__main__":
    sys.exit(main(run, __doc__))
