"""The sharded calls listing's merge against a brute-force sort: every page order, every cursor, any shard layout."""

import base64
import json
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vpbx.domain.errors import InvalidInput
from vpbx.store.call_listing import Bound, Chunk, merged_page

TENANT = "acme"
Entry = tuple[str, bool]  # (sort key, live)


class FakeShards:
    """Partitions as DynamoDB Queries see them: newest first, Limit counts entries the expiry filter then drops."""

    def __init__(self, shards: list[list[Entry]]) -> None:
        self.shards = shards
        self.queries = 0

    def insert(self, shard: int, key: str) -> None:
        self.shards[shard].append((key, True))

    def read_round(self, requests: Sequence[tuple[int, Bound]], per_read: int) -> Mapping[int, Chunk[str]]:
        chunks = {}
        for index, bound in requests:
            self.queries += 1
            below = sorted((e for e in self.shards[index] if bound is None or e[0] < bound), reverse=True)
            evaluated = below[:per_read]
            live = [(key, key) for key, alive in evaluated if alive]
            chunks[index] = Chunk(live, evaluated[-1][0] if len(below) > per_read else None)
        return chunks

    def brute_force(self) -> list[str]:
        return sorted((key for shard in self.shards for key, alive in shard if alive), reverse=True)


def walk(shards: FakeShards, partitions: list[str], limit: int, between_pages: object = None) -> tuple[list[str], int]:
    items: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = merged_page(TENANT, partitions, shards.read_round, limit, cursor)
        items.extend(page.items)
        pages += 1
        assert pages < 10_000
        if page.next_cursor is None:
            return items, pages
        cursor = page.next_cursor
        if callable(between_pages):
            between_pages(pages)


keys_strategy = st.lists(st.integers(min_value=0, max_value=10**6), unique=True, max_size=120)


@st.composite
def layouts(draw: st.DrawFn) -> list[list[Entry]]:
    """Unique keys dealt to 1–17 shards, some of them expired (dropped by the filter after the Limit)."""
    count = draw(st.integers(min_value=1, max_value=17))
    shards: list[list[Entry]] = [[] for _ in range(count)]
    for number in draw(keys_strategy):
        shard = draw(st.integers(min_value=0, max_value=count - 1))
        alive = draw(st.booleans()) or draw(st.booleans())  # three in four live
        shards[shard].append((f"{number:08d}", alive))
    return shards


@settings(max_examples=300, deadline=None)
@given(layout=layouts(), limit=st.integers(min_value=1, max_value=60))
def test_pages_concatenate_to_the_brute_force_order(layout: list[list[Entry]], limit: int) -> None:
    shards = FakeShards(layout)
    partitions = [f"p{i}" for i in range(len(layout))]
    items, _ = walk(shards, partitions, limit)
    assert items == shards.brute_force()  # newest first, no duplicate, no gap


@settings(max_examples=200, deadline=None)
@given(layout=layouts(), limit=st.integers(min_value=1, max_value=20), data=st.data())
def test_newer_calls_inserted_between_pages_never_enter_the_walk(
    layout: list[list[Entry]], limit: int, data: st.DataObject
) -> None:
    shards = FakeShards(layout)
    partitions = [f"p{i}" for i in range(len(layout))]
    expected = shards.brute_force()
    newer = iter(range(10**7, 10**7 + 10_000))

    def insert_newer(page: int) -> None:
        for _ in range(data.draw(st.integers(min_value=0, max_value=3))):
            shards.insert(data.draw(st.integers(min_value=0, max_value=len(layout) - 1)), f"{next(newer):08d}")

    items, _ = walk(shards, partitions, limit, insert_newer)
    assert items == expected


def test_a_page_costs_one_round_of_queries_when_shards_are_even() -> None:
    layout: list[list[Entry]] = [[(f"{n:08d}", True) for n in range(i, 1600, 16)] for i in range(16)]
    shards = FakeShards(layout)
    page = merged_page(TENANT, [f"p{i}" for i in range(16)], shards.read_round, 50, None)
    assert (len(page.items), page.rounds, shards.queries) == (50, 1, 16)


def decoded(cursor: str) -> dict[str, object]:
    payload: dict[str, object] = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return payload


def encoded(payload: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_the_cursor_is_bound_to_its_tenant_and_listing() -> None:
    shards = FakeShards([[(f"{n:08d}", True) for n in range(i, 100, 4)] for i in range(4)])
    partitions = ["p0", "p1", "p2", "p3"]
    cursor = merged_page(TENANT, partitions, shards.read_round, 10, None).next_cursor
    assert cursor is not None
    payload = decoded(cursor)
    with pytest.raises(InvalidInput):
        merged_page("other", partitions, shards.read_round, 10, cursor)
    with pytest.raises(InvalidInput):
        merged_page(TENANT, ["p0", "p1", "p2", "q3"], shards.read_round, 10, cursor)
    for tampered in (
        {**payload, "p": {"9": None}},
        {**payload, "d": ["x"]},
        {**payload, "b": 7},
        {**payload, "b": "x" * 500},
    ):
        with pytest.raises(InvalidInput):
            merged_page(TENANT, partitions, shards.read_round, 10, encoded(tampered))
    with pytest.raises(InvalidInput):
        merged_page(TENANT, partitions, shards.read_round, 10, "not a cursor")
