"""Single-table key layout (DESIGN.md §5). Every tenant-owned item lives in the partition `TENANT#<id>`.

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
| call               | TENANT#<t>       | CALL#<call id>            | TENANT#<t>#CALLS / <started_at>#<call id>|
| call history       | TENANT#<t>#CALL#<call id> | HISTORY          | GSI1 as the call, + the filter indexes   |
| call statistics    | TENANT#<t>#STATS#<scenario> | <yyyy-mm-dd>#<shard> |                                     |
| queue live state   | TENANT#<t>#QSTATE#<queue id> | QSTATE               |                                          |
| agent hold         | TENANT#<t>#AGENT#<extension> | AGENT                |                                          |

Calls are listed from GSI1 and filtered through one index per filter (CALL_INDEXES: partition
`TENANT#<t>#CALLS#<filter>#<value>`, sort key GSI1SK): a call item carries the index keys while the call is routed;
once routing is over it drops them and its history item (own partition, the tenant's call_history_days TTL) carries
them, so every call is listed once. The result and extension keys exist only on history items.

The scenario counter keeps a deleted scenario's latest_version, so a scenario re-created under the same id numbers
its versions after it: a (tenant, scenario, version) triple names one content forever (callers cache by it).

The ACD (store/dynamodb/acd.py, docs/CALLS.md Queues): each queue's live state (line, members, version) is one item in
its own partition, so one busy queue does not slow another; each agent's hold (which queue and call hold it, until
when) is one item shared by the tenant's queues, claimed in the same transaction as the queue's state.

The directory revision is advanced by every write that adds or removes a reference between aggregates (ports.py).

Ids never contain `#` (ResourceId, Extension and E.164 forbid it), so a prefix never matches a longer id.
"""

from datetime import UTC, date, datetime

TENANT_SK = "TENANT"
API_KEY_HASH_SK = "APIKEY"
NUMBER_GUARD_SK = "NUMBER"
DIRECTORY_REVISION_SK = "DIRREV"
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


def scenario_versions_prefix(scenario_id: str) -> str:
    return f"{SCENARIO_VERSION_PREFIX}{scenario_id}#"


def scenario_version_sk(scenario_id: str, number: int) -> str:
    return f"{scenario_versions_prefix(scenario_id)}{number:08d}"


def scenario_counter_sk(scenario_id: str) -> str:
    return f"{SCENARIO_COUNTER_PREFIX}{scenario_id}"


def calls_gsi_pk(tenant_id: str) -> str:
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


def calls_index_pk(tenant_id: str, kind: str, value: str) -> str:
    return f"TENANT#{tenant_id}#CALLS#{kind}#{value}"


def call_stats_pk(tenant_id: str, scenario_id: str) -> str:
    return f"TENANT#{tenant_id}#STATS#{scenario_id}"


def call_stats_sk(day: date, shard: int) -> str:
    return f"{day.isoformat()}#{shard}"


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
