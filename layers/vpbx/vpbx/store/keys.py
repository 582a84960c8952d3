"""Single-table key layout (DESIGN.md §5). A tenant's directory lives in the partition `TENANT#<id>`; what the call
path writes (calls, their history, their listing entries, statistics) is spread over many partitions, so a single busy
tenant is never capped by one partition's throughput (docs/PERFORMANCE.md, "Capacity model").

| item               | PK               | SK                        | GSI1PK / GSI1SK                          |
|--------------------|------------------|---------------------------|------------------------------------------|
| tenant             | TENANT#<t>       | TENANT                    |                                          |
| API key (listing)  | TENANT#<t>       | KEY#<key id>              |                                          |
| API key (by hash)  | APIKEY#<sha256>  | APIKEY                    |                                          |
| subscriber         | TENANT#<t>       | SUB#<extension>           |                                          |
| schedule           | TENANT#<t>       | SCHED#<id>                |                                          |
| caller list        | TENANT#<t>       | LIST#<id>                 |                                          |
| queue              | TENANT#<t>       | QUEUE#<id>                |                                          |
| phone number       | TENANT#<t>       | NUM#<e164>                |                                          |
| number guard/route | NUMBER#<e164>    | NUMBER                    |                                          |
| scenario draft     | TENANT#<t>       | SCENARIO#<id>             |                                          |
| scenario version   | TENANT#<t>       | SCNVER#<id>#<8-digit n>   |                                          |
| scenario counter   | TENANT#<t>       | SCNSEQ#<id>               |                                          |
| directory revision | TENANT#<t>       | DIRREV                    |                                          |
| its call-path copy | TENANT#<t>#DIRREV#<k> | DIRREV (k < DIRECTORY_REVISION_COPIES) |                     |
| call               | TENANT#<t>#CALL#<call id> | CALL#<call id>   | TENANT#<t>#CALLS#<nn> / <started_at>#<call id> |
| call history       | TENANT#<t>#CALL#<call id> | HISTORY          | GSI1 as the call, + the filter indexes   |
| call statistics    | TENANT#<t>#STATS#<scenario>#<nn> | <yyyy-mm-dd>  |                                          |
| queue live state   | TENANT#<t>#QSTATE#<queue id> | QSTATE               |                                          |
| agent hold         | TENANT#<t>#AGENT#<extension> | AGENT                |                                          |

A call's live item and its history item share the call's own partition (the tenant is part of it: another tenant's
call id names another partition, hence 404). Calls are listed from GSI1 and filtered through one index per filter
(CALL_INDEXES: partition `TENANT#<t>#CALLS#<filter>#<value>`, sort key GSI1SK): a call item carries the index keys
while the call is routed; once routing is over it drops them and its history item (the tenant's call_history_days
TTL) carries them, so every call is listed once. The result and extension keys exist only on history items.

Write sharding: GSI1 and the filters that one value can make hot (SHARDED_CALL_FILTERS) spread a listing over
CALL_LISTING_SHARDS partitions `…#<nn>`, nn = call_shard(call id); a listing reads every shard and merges them
newest first (store/call_listing.py). Statistics counters spread a scenario over its own shard partitions the same
way. Items written before sharding keep their unsharded keys (`TENANT#<t>#CALLS…`, `TENANT#<t>` / `CALL#<id>`,
`TENANT#<t>#STATS#<scenario>` with `<day>#<shard>`): readers include them (LEGACY_* below, docs/PERFORMANCE.md,
"Migration").

The scenario counter keeps a deleted scenario's latest_version, so a scenario re-created under the same id numbers
its versions after it: a (tenant, scenario, version) triple names one content forever (callers cache by it).

The ACD (store/dynamodb/acd.py, docs/CALLS.md Queues): each queue's live state (line, members, version) is one item in
its own partition, so one busy queue does not slow another; each agent's hold (which queue and call hold it, until
when) is one item shared by the tenant's queues, claimed in the same transaction as the queue's state.

The directory revision is advanced by every write that adds or removes a reference between aggregates (ports.py),
and by every edit of a subscriber, schedule, caller list or the tenant's settings. Reference checks condition on the
one item `DIRREV`; call starts never read it. Every write that advances it advances DIRECTORY_REVISION_COPIES copies
in the same transaction, each in its own partition, and a start reads one at random: a tenant's starts spread over
the copies instead of one item's partition (about 3,000 consistent reads/s). The copies are equal to each other; they
count from COPY_REVISION_BASE, so a copy's value never equals a revision a call recorded from `DIRREV` before the
copies existed (the two counters are never compared, docs/PERFORMANCE.md).

The number's route item (`NUMBER#<e164>`) is all a call start reads besides a revision copy: `tenant_id`,
`scenario_id` and the scenario's `published_version` (NULL when unpublished), written by number writes and by every
publish and rollback of the scenario, in the same transaction as the source of truth. At most
MAX_NUMBERS_PER_SCENARIO numbers point at one scenario, so a publish's transaction holds every route it changes.

Ids never contain `#` (ResourceId, Extension and E.164 forbid it), so a prefix never matches a longer id.
"""

import zlib
from datetime import UTC, date, datetime

TENANT_SK = "TENANT"
API_KEY_HASH_SK = "APIKEY"
NUMBER_GUARD_SK = "NUMBER"
DIRECTORY_REVISION_SK = "DIRREV"
DIRECTORY_REVISION_COPIES = 4  # partitions a tenant's call starts spread their revision reads over
COPY_REVISION_BASE = 10**12  # the copies' first value: above any revision the single item ever reached
MAX_NUMBERS_PER_SCENARIO = 90  # a publish's transaction: version, draft, revision + copies, and this many routes
GSI1 = "GSI1"

SUBSCRIBER_PREFIX = "SUB#"
SCHEDULE_PREFIX = "SCHED#"
CALLER_LIST_PREFIX = "LIST#"
QUEUE_PREFIX = "QUEUE#"
NUMBER_PREFIX = "NUM#"
API_KEY_PREFIX = "KEY#"
SCENARIO_PREFIX = "SCENARIO#"
SCENARIO_VERSION_PREFIX = "SCNVER#"
SCENARIO_COUNTER_PREFIX = "SCNSEQ#"
CALL_PREFIX = "CALL#"


def tenant_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def api_key_hash_pk(key_hash: str) -> str:
    return f"APIKEY#{key_hash}"


def number_guard_pk(number: str) -> str:
    return f"NUMBER#{number}"


def directory_revision_copy_pk(tenant_id: str, copy: int) -> str:
    return f"TENANT#{tenant_id}#DIRREV#{copy}"


def scenario_versions_prefix(scenario_id: str) -> str:
    return f"{SCENARIO_VERSION_PREFIX}{scenario_id}#"


def scenario_version_sk(scenario_id: str, number: int) -> str:
    return f"{scenario_versions_prefix(scenario_id)}{number:08d}"


def scenario_counter_sk(scenario_id: str) -> str:
    return f"{SCENARIO_COUNTER_PREFIX}{scenario_id}"


CALL_LISTING_SHARDS = 16  # write shards of a listing partition (docs/PERFORMANCE.md, "Capacity model")
STATS_SHARDS = 16  # write shards of a scenario's statistics counters
SHARDED_CALL_FILTERS = frozenset({"result", "scenario_id", "number"})  # one value can carry a whole tenant's calls
LEGACY_UNSHARDED_READS = True  # listings and statistics also read the pre-sharding partitions (see "Migration")


def call_shard(call_id: str, shards: int = CALL_LISTING_SHARDS) -> int:
    """A call's shard: stable (every write of the call lands in the same partitions) and uniform over call ids."""
    return zlib.crc32(call_id.encode()) % shards


def call_pk(tenant_id: str, call_id: str) -> str:
    """The call's own partition: its live item and its history item."""
    return call_history_pk(tenant_id, call_id)


def call_sk(call_id: str) -> str:
    return CALL_PREFIX + call_id  # the stream filter and stream_events.py select calls by this prefix


def legacy_call_key(tenant_id: str, call_id: str) -> tuple[str, str]:
    """Where a call started before calls had their own partition lived (read for its last 24 h, see "Migration")."""
    return tenant_pk(tenant_id), CALL_PREFIX + call_id


def calls_gsi_pk(tenant_id: str, shard: int) -> str:
    return f"TENANT#{tenant_id}#CALLS#{shard:02d}"


def legacy_calls_gsi_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}#CALLS"


CALL_HISTORY_SK = "HISTORY"
# filter → (index name, partition attribute); every index's sort key is GSI1SK (template.yaml)
CALL_INDEXES: dict[str, tuple[str, str]] = {
    "result": ("CallsByResult", "CALLS_RESULT_PK"),
    "scenario_id": ("CallsByScenario", "CALLS_SCENARIO_PK"),
    "extension": ("CallsByExtension", "CALLS_EXTENSION_PK"),
    "number": ("CallsByNumber", "CALLS_NUMBER_PK"),
    "caller": ("CallsByCaller", "CALLS_CALLER_PK"),
}
LIVE_CALL_FILTERS = ("scenario_id", "number", "caller")  # known at the start, so indexed while the call is routed


def call_history_pk(tenant_id: str, call_id: str) -> str:
    return f"TENANT#{tenant_id}#CALL#{call_id}"


def legacy_calls_index_pk(tenant_id: str, kind: str, value: str) -> str:
    return f"TENANT#{tenant_id}#CALLS#{kind}#{value}"


def calls_index_pk(tenant_id: str, kind: str, value: str, shard: int) -> str:
    """A filter index's partition: per shard for SHARDED_CALL_FILTERS, one per value for the others."""
    base = legacy_calls_index_pk(tenant_id, kind, value)
    return f"{base}#{shard:02d}" if kind in SHARDED_CALL_FILTERS else base


def calls_listing_partitions(tenant_id: str, kind: str | None, value: str) -> list[str]:
    """The index partitions one listing reads (all calls: kind None), shard order, then the pre-sharding one."""
    if kind is None:
        partitions = [calls_gsi_pk(tenant_id, shard) for shard in range(CALL_LISTING_SHARDS)]
        return [*partitions, legacy_calls_gsi_pk(tenant_id)] if LEGACY_UNSHARDED_READS else partitions
    if kind not in SHARDED_CALL_FILTERS:
        return [legacy_calls_index_pk(tenant_id, kind, value)]
    partitions = [calls_index_pk(tenant_id, kind, value, shard) for shard in range(CALL_LISTING_SHARDS)]
    return [*partitions, legacy_calls_index_pk(tenant_id, kind, value)] if LEGACY_UNSHARDED_READS else partitions


def call_stats_pk(tenant_id: str, scenario_id: str, shard: int) -> str:
    return f"TENANT#{tenant_id}#STATS#{scenario_id}#{shard:02d}"


def call_stats_sk(day: date) -> str:
    return day.isoformat()


def legacy_call_stats_pk(tenant_id: str, scenario_id: str) -> str:
    """Before sharding: one partition per scenario, sort keys `<day>#<shard>` (read for as long as stats are asked)."""
    return f"TENANT#{tenant_id}#STATS#{scenario_id}"


def sortable_time(at: datetime) -> str:
    """Fixed-width UTC timestamp, so string order is time order (naive datetimes are taken as UTC)."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def calls_gsi_sk(started_at: datetime, call_id: str) -> str:
    return f"{sortable_time(started_at)}#{call_id}"


QUEUE_STATE_SK = "QSTATE"
AGENT_HOLD_SK = "AGENT"


def queue_state_pk(tenant_id: str, queue_id: str) -> str:
    return f"TENANT#{tenant_id}#QSTATE#{queue_id}"


def agent_hold_pk(tenant_id: str, extension: str) -> str:
    return f"TENANT#{tenant_id}#AGENT#{extension}"


# Webhooks (store/dynamodb/webhooks.py): WEBHOOK#<id> (versioned, its signing secrets in their own attribute), the
# tenant's webhook count WEBHOOKS (the limit, kept in the same transaction as each create and delete), and one
# delivery per (webhook, event) WHDLV#<webhook id>#<event time>#<event id> with a TTL (newest first by time).
WEBHOOK_PREFIX = "WEBHOOK#"
WEBHOOK_COUNT_SK = "WEBHOOKS"
DELIVERY_PREFIX = "WHDLV#"


def deliveries_prefix(webhook_id: str) -> str:
    return f"{DELIVERY_PREFIX}{webhook_id}#"


def delivery_sk(webhook_id: str, created: datetime, event_id: str) -> str:
    return f"{deliveries_prefix(webhook_id)}{sortable_time(created)}#{event_id}"
