"""A calls listing over write-sharded index partitions: a lazy newest-first merge and its exact, opaque cursor.

A listing (all calls, or one filter's value) is spread over partitions (keys.calls_listing_partitions), each ordered by
GSI1SK (`<started_at>#<call id>`), which is unique per call and totally ordered. A page merges the partitions' heads:
a partition is read (Limit: a fair share of the page, SHARD_READ_SLACK more) only when its buffer runs dry, so a page
costs one parallel round of Queries, rarely two, and reads about `limit + 2 × partitions` index entries.

The cursor is each partition's exclusive upper bound: the sort key of the page's last item (every newer entry of
every partition was returned, by the merge's order), or lower where a partition was read further (entries the expiry
filter dropped), or `done`. Resuming below these bounds is exact: no entry is returned twice or skipped, and calls
started after the first page (newer keys) cannot slip into later pages. The cursor names its tenant and a digest of
its partitions, so it is refused (InvalidInput) for any other listing.
"""

import hashlib
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from vpbx.store.paging import MAX_CURSOR_LENGTH, bad_cursor, clamp_limit, encode_payload, parse_payload

T = TypeVar("T")
SHARD_READ_SLACK = 2  # per partition above its fair share of a page: one round of Queries fills nearly every page
MAX_MERGE_ROUNDS = 8  # rounds of Queries per page; a page cut short by the expiry filter still has an exact cursor
MAX_SORT_KEY_LENGTH = 200


@dataclass
class Chunk(Generic[T]):
    """What one read of one partition returned: entries (sort key, item) newest first, and where it stopped: the
    sort key below which more may follow (DynamoDB's LastEvaluatedKey), None when the partition is exhausted."""

    entries: list[tuple[str, T]]
    evaluated: str | None


Bound = str | None  # exclusive upper bound of a partition's remaining entries; None: from the newest
ReadRound = Callable[[Sequence[tuple[int, Bound]], int], Mapping[int, Chunk[T]]]
"""Read partitions (index, bound) with a Limit; the DynamoDB store runs one round's Queries in parallel."""


@dataclass
class MergeState(Generic[T]):
    bounds: list[Bound]  # as the cursor gave them
    done: set[int]
    read_to: list[Bound] = field(default_factory=list)  # where each partition's reads stopped
    buffers: dict[int, deque[tuple[str, T]]] = field(default_factory=dict)
    more: dict[int, bool] = field(default_factory=dict)
    rounds: int = 0


@dataclass(frozen=True)
class MergedPage(Generic[T]):
    items: list[T]
    next_cursor: str | None
    rounds: int  # rounds of reads the page took (the listing's cost: rounds × partitions Queries at most)


def listing_digest(partitions: Sequence[str]) -> str:
    return hashlib.sha256("|".join(partitions).encode()).hexdigest()[:16]


def merged_page(
    tenant_id: str, partitions: Sequence[str], read_round: ReadRound[T], limit: int, cursor: str | None
) -> MergedPage[T]:
    """One newest-first page over `partitions` (InvalidInput for a cursor of another tenant or listing)."""
    size = clamp_limit(limit)
    bounds, done = decode_merge_cursor(cursor, tenant_id, partitions)
    state: MergeState[T] = MergeState(bounds=bounds, done=done, read_to=list(bounds))
    live = [i for i in range(len(partitions)) if i not in done]
    for i in live:
        state.buffers[i], state.more[i] = deque(), True
    per_read = -(-size // len(partitions)) + SHARD_READ_SLACK
    emitted: list[tuple[str, T]] = []
    while True:
        dry = [i for i in live if not state.buffers[i] and state.more[i]]
        if dry:
            if state.rounds == MAX_MERGE_ROUNDS:
                break
            _refill(state, dry, read_round, per_read)
            continue
        heads = [i for i in live if state.buffers[i]]
        if not heads or len(emitted) == size:
            break
        newest = max(heads, key=lambda i: state.buffers[i][0][0])
        entry = state.buffers[newest].popleft()
        if not emitted or entry[0] != emitted[-1][0]:  # a call briefly indexed twice (live and history items)
            emitted.append(entry)
    next_bounds = _next_bounds(state, live, emitted[-1][0] if emitted else None)
    exhausted = len(state.done) == len(partitions)
    next_cursor = None if exhausted else encode_merge_cursor(tenant_id, partitions, next_bounds, state.done)
    return MergedPage(items=[item for _, item in emitted], next_cursor=next_cursor, rounds=state.rounds)


def _refill(state: MergeState[T], dry: list[int], read_round: ReadRound[T], per_read: int) -> None:
    chunks = read_round([(i, state.read_to[i]) for i in dry], per_read)
    state.rounds += 1
    for i in dry:
        chunk = chunks[i]
        state.buffers[i].extend(chunk.entries)
        state.more[i] = chunk.evaluated is not None
        if chunk.evaluated is not None:
            state.read_to[i] = _lower(state.read_to[i], chunk.evaluated)


def _next_bounds(state: MergeState[T], live: list[int], last: str | None) -> list[Bound]:
    """Each live partition resumes below the page's last entry (the merge returned everything newer), or lower where
    its reads went further with nothing left to return (entries the expiry filter dropped)."""
    bounds = list(state.bounds)
    for i in live:
        if not state.buffers[i] and not state.more[i]:
            state.done.add(i)
            bounds[i] = None
        elif state.buffers[i]:  # read ahead of the page: its unreturned entries are all below `last`
            bounds[i] = _lower(state.bounds[i], last)
        else:
            bounds[i] = _lower(_lower(state.bounds[i], state.read_to[i]), last)
    return bounds


def _lower(bound: Bound, other: str | None) -> Bound:
    if other is None:
        return bound
    return other if bound is None else min(bound, other)


# ------------------------------------------------------------------------------------------------ the cursor
def encode_merge_cursor(tenant_id: str, partitions: Sequence[str], bounds: list[Bound], done: set[int]) -> str:
    """{"t": tenant, "l": listing digest, "b": the common bound, "p": {index: bound} where it differs, "d": done}."""
    live = [bounds[i] for i in range(len(bounds)) if i not in done]
    common = max(set(live), key=live.count) if live else None
    differing = {str(i): bound for i, bound in enumerate(bounds) if i not in done and bound != common}
    payload = {"t": tenant_id, "l": listing_digest(partitions), "b": common, "p": differing, "d": sorted(done)}
    return encode_payload(payload)


def decode_merge_cursor(cursor: str | None, tenant_id: str, partitions: Sequence[str]) -> tuple[list[Bound], set[int]]:
    """Per-partition bounds and the exhausted partitions; from the newest for the first page."""
    if cursor is None or cursor == "":
        return [None] * len(partitions), set()
    value = parse_payload(cursor) if len(cursor) <= MAX_CURSOR_LENGTH else None
    if value is None or value.get("t") != tenant_id or value.get("l") != listing_digest(partitions):
        raise bad_cursor()
    common, differing, done = value.get("b"), value.get("p"), value.get("d")
    if not (_is_bound(common) and isinstance(differing, dict) and isinstance(done, list)):
        raise bad_cursor()
    indexes = range(len(partitions))
    if not all(isinstance(i, int) and i in indexes for i in done):
        raise bad_cursor()
    if not all(k.isdigit() and int(k) in indexes and _is_bound(b) for k, b in differing.items()):
        raise bad_cursor()
    bounds: list[Bound] = [differing.get(str(i), common) for i in indexes]
    return bounds, set(done)


def _is_bound(value: object) -> bool:
    return value is None or (isinstance(value, str) and len(value) <= MAX_SORT_KEY_LENGTH)
