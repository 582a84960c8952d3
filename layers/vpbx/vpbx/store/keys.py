"""Single-table key layout (DESIGN.md §5). Every tenant-owned item lives in the partition `TENANT#<id>`.

| item               | PK               | SK                        | GSI1PK / GSI1SK                          |
|--------------------|------------------|---------------------------|------------------------------------------|
| tenant             | TENANT#<t>       | TENANT                    |                                          |
| API key (listing)  | TENANT#<t>       | KEY#<key id>              |                                          |
| API key (by hash)  | APIKEY#<sha256>  | APIKEY                    |                                          |
| subscriber         | TENANT#<t>       | SUB#<extension>           |                                          |
| schedule           | TENANT#<t>       | SCHED#<id>                |                                          |
| caller list        | TENANT#<t>       | LIST#<id>                 |                                          |
| phone number       | TENANT#<t>       | NUM#<e164>                |                                          |
| number guard/route | NUMBER#<e164>    | NUMBER                    |                                          |
| scenario draft     | TENANT#<t>       | SCENARIO#<id>             |                                          |
| scenario version   | TENANT#<t>       | SCNVER#<id>#<8-digit n>   |                                          |
| scenario counter   | TENANT#<t>       | SCNSEQ#<id>               |                                          |
| directory revision | TENANT#<t>       | DIRREV                    |                                          |
| call               | TENANT#<t>       | CALL#<call id>            | TENANT#<t>#CALLS / <started_at>#<call id>|

The scenario counter keeps a deleted scenario's latest_version, so a scenario re-created under the same id numbers
its versions after it: a (tenant, scenario, version) triple names one content forever (callers cache by it).

The directory revision is advanced by every write that adds or removes a reference between aggregates (ports.py).

Ids never contain `#` (ResourceId, Extension and E.164 forbid it), so a prefix never matches a longer id.
"""

from datetime import UTC, datetime

TENANT_SK = "TENANT"
API_KEY_HASH_SK = "APIKEY"
NUMBER_GUARD_SK = "NUMBER"
DIRECTORY_REVISION_SK = "DIRREV"
GSI1 = "GSI1"

SUBSCRIBER_PREFIX = "SUB#"
SCHEDULE_PREFIX = "SCHED#"
CALLER_LIST_PREFIX = "LIST#"
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


def sortable_time(at: datetime) -> str:
    """Fixed-width UTC timestamp, so string order is time order (naive datetimes are taken as UTC)."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def calls_gsi_sk(started_at: datetime, call_id: str) -> str:
    return f"{sortable_time(started_at)}#{call_id}"


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
