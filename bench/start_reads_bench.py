"""What a warm call start reads: DynamoDB requests and read units, for a small scenario and a 10,000-reference one.

Usage: .venv/bin/python bench/start_reads_bench.py [--quick] [--json]

Through the calls handler on moto (table from template.yaml). A botocore `before-parameter-build.dynamodb` hook
records the keys each request of a warm start reads; each of those items is then read whole and sized by DynamoDB's
rules (tests/helpers/item_size.py): a strongly consistent read costs ceil(size / 4 KB) units per item, whatever the
projection. The large scenario is published with a snapshot of 10,000 subscribers (a CRM scenario's: the draft then
carries them all in its reference set, ~160 KB). Goals: 2 requests and at most 2 read units per warm start, for both.
"""

import math
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: bench.common, tests.helpers

from bench.common import Row, count_row, handler_repository, invoke, main, moto_endpoint
from tests.helpers.apigw import api_event, authorizer_context
from tests.helpers.functions import load_function
from tests.helpers.item_size import item_size
from tests.helpers.scenarios import seed_scenario

TENANT = "bench"
NUMBERS = {"small": "+74951234567", "10,000 references": "+74951234568"}
TELEPHONY = authorizer_context(TENANT, key_id="bench-key", role="telephony")
GOAL_REQUESTS = 2
GOAL_READ_UNITS = 2
READ_UNIT = 4096


def keys_of(params: dict[str, Any]) -> list[dict[str, Any]]:
    if "Key" in params:
        return [params["Key"]]
    if "RequestItems" in params and "Keys" in next(iter(params["RequestItems"].values())):
        return [key for request in params["RequestItems"].values() for key in request["Keys"]]
    return []


def measure() -> dict[str, dict[str, int]]:
    from vpbx.domain.directory import Subscriber
    from vpbx.domain.scenario import Scenario
    from vpbx.store.models import DirectorySnapshot, PhoneNumber, Tenant

    with moto_endpoint() as endpoint:
        repository = handler_repository(endpoint)
        client, table = repository.client, repository.table_name
        now = datetime.now(UTC)
        repository.create_tenant(Tenant(id=TENANT, name="Bench", sip_domain="bench.sip.example", created_at=now))
        for extension in ("101", "102"):
            repository.create_subscriber(TENANT, Subscriber(extension=extension, name=f"E{extension}"))
        crowd = [Subscriber(extension=str(100_000 + n), name=f"Subscriber {n}") for n in range(10_000)]
        for scenario_id, subscribers in (("small", []), ("large", crowd)):
            draft = repository.create_scenario(TENANT, scenario_id, Scenario.model_validate(seed_scenario()))
            snapshot = DirectorySnapshot(subscribers=[Subscriber(extension="101", name="E101"), *subscribers])
            repository.publish_scenario(TENANT, scenario_id, draft.version, snapshot, now, None)
        for number, scenario_id in zip(NUMBERS.values(), ("small", "large"), strict=True):
            repository.create_number(TENANT, PhoneNumber(number=number, scenario_id=scenario_id))
        handler = load_function("CallsFunction").handler
        requests: list[tuple[str, list[dict[str, Any]]]] = []

        def record(params: dict[str, Any], model: Any, **_: Any) -> None:
            requests.append((model.name, keys_of(params)))

        figures = {}
        for name, number in NUMBERS.items():
            for _ in range(3):  # warm: the version cache, the tenant's settings, connections
                body = {"call_id": f"c-{uuid.uuid4().hex[:8]}", "from": "+79161234567", "to": number}
                requests.clear()
                client.meta.events.register("before-parameter-build.dynamodb", record, unique_id="start-reads")
                invoke(handler, api_event("POST", "/v1/calls", body=body, authorizer=TELEPHONY))
                client.meta.events.unregister("before-parameter-build.dynamodb", unique_id="start-reads")
            read = [key for operation, keys in requests if operation in ("GetItem", "BatchGetItem") for key in keys]
            sizes = [item_size(client.get_item(TableName=table, Key=key).get("Item", {})) for key in read]
            figures[name] = {
                "requests": len(requests),
                "read_units": sum(max(1, math.ceil(size / READ_UNIT)) for size in sizes),
                "largest_item_read": max(sizes, default=0),
            }
        return figures


def run(quick: bool) -> list[Row]:
    rows: list[Row] = []
    for name, figure in measure().items():
        rows += [
            count_row(f"DynamoDB requests per warm call start ({name})", figure["requests"], "requests", GOAL_REQUESTS),
            count_row(f"read units per warm call start ({name})", figure["read_units"], "RRU", GOAL_READ_UNITS),
            count_row(f"largest item a warm start reads ({name})", figure["largest_item_read"], "bytes", None),
        ]
    return rows


if __name__ == "__main__":
    sys.exit(main(run, __doc__))
