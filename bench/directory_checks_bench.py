"""Directory checks of the largest draft: DynamoDB requests and time to create, validate and publish it.

Usage: .venv/bin/python bench/directory_checks_bench.py [--quick] [--json]

The draft is the largest the API accepts (MAX_SERIALIZED_BYTES, 256 KB) with the most distinct extensions it can
name: a chain of `group` elements of 50 distinct members each (the most a group takes), as many as fit, every
extension a subscriber of the tenant (so the draft is valid and publishes). Each operation goes through
functions/scenarios/app.py's handler against a moto server on loopback (table from template.yaml); DynamoDB requests
are counted by a botocore hook on the repository's client:
- create: `POST /v1/scenarios` (store the draft, then answer it with its validation against the directory);
- validate: `POST /v1/scenarios/{id}/validate`;
- publish: `POST /v1/scenarios/{id}/publish` (validate, snapshot, write the version).
Goal: each stays within a fixed number of requests however many extensions the draft names (MAX_REQUESTS: the
directory is read with one BatchGetItem for up to 100 names of all families together, else one Query of a family's
key range, whose 1 MB pages grow with the tenant's directory, not with the draft). Times are reported without a goal,
in total and outside the DynamoDB requests: moto answers a Query by scanning the whole partition for every 1 MB page
(~6 s a page with 10,000 subscribers), where DynamoDB takes milliseconds, so on moto the requests, not the handler,
dominate.
`--quick` uses a draft of 10 groups (500 extensions): the same code path, in seconds.
"""

import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: bench.common, tests.helpers

from bench.common import RequestCounter, Row, count_row, handler_repository, invoke, main, moto_endpoint, row
from tests.helpers.apigw import api_event, authorizer_context, response_header

TENANT = "bench"
EDITOR = authorizer_context(TENANT, key_id="bench-key", role="editor")
MEMBERS_PER_GROUP = 50
QUICK_GROUPS = 10
MAX_REQUESTS = 12  # a few GetItems, the revision, and the directory Query's pages (22,000 subscribers: ~6)
FIRST_EXTENSION = 100_000  # six digits, so every member has the same length


def group(index: int) -> dict[str, Any]:
    first = FIRST_EXTENSION + index * MEMBERS_PER_GROUP
    members = [str(first + k) for k in range(MEMBERS_PER_GROUP)]
    return {"id": f"g{index:04d}", "type": "group", "members": members, "strategy": "simultaneous", "wait_seconds": 30}


def draft(groups: int) -> dict[str, Any]:
    elements = [
        {"id": "start", "type": "incoming_call"},
        *(group(i) for i in range(groups)),
        {"id": "bye", "type": "hangup"},
    ]
    chain = ["start", *(f"g{i:04d}" for i in range(groups)), "bye"]
    connections = [{"from": chain[0], "to": chain[1]}]
    connections += [{"from": a, "exit": "no_answer", "to": b} for a, b in itertools.pairwise(chain[1:])]
    return {"id": "big", "name": "Largest draft", "elements": elements, "connections": connections}


def serialized_size(body: dict[str, Any]) -> int:
    """The size the API limits (service.scenarios._check_size: the parsed scenario's dump, compact JSON)."""
    from vpbx.domain.scenario import Scenario

    scenario = Scenario.model_validate({key: value for key, value in body.items() if key != "id"})
    return len(json.dumps(scenario.dump(), separators=(",", ":")).encode())


def largest_draft() -> dict[str, Any]:
    from vpbx.domain.scenario import MAX_SERIALIZED_BYTES

    groups = MAX_SERIALIZED_BYTES // len(json.dumps(group(0)))  # an upper bound: the dump adds defaults
    while serialized_size(draft(groups)) > MAX_SERIALIZED_BYTES:
        groups -= 1
    return draft(groups)


def add_subscribers(client: Any, table_name: str, extensions: list[str]) -> None:
    """Every extension as a subscriber item (the store's layout), 25 per BatchWriteItem: seeding is not measured."""
    now = "2026-01-01T00:00:00+00:00"
    for start in range(0, len(extensions), 25):
        requests = [
            {
                "PutRequest": {
                    "Item": {
                        "PK": {"S": f"TENANT#{TENANT}"},
                        "SK": {"S": f"SUB#{extension}"},
                        "data": {"S": json.dumps({"extension": extension, "name": f"Employee {extension}"})},
                        "version": {"N": "1"},
                        "created_at": {"S": now},
                        "updated_at": {"S": now},
                    }
                }
            }
            for extension in extensions[start : start + 25]
        ]
        client.batch_write_item(RequestItems={table_name: requests})


def time_in_requests(repository: Any) -> list[float]:
    """Milliseconds of each DynamoDB request the repository sends from now on (its `_request`, timed)."""
    spent: list[float] = []
    send = repository._request

    def timed_request(operation: str, **params: Any) -> Any:
        started = time.perf_counter()
        try:
            return send(operation, **params)
        finally:
            spent.append((time.perf_counter() - started) * 1000)

    repository._request = timed_request
    return spent


def measure(quick: bool) -> dict[str, Any]:
    from tests.helpers.functions import load_function

    body = draft(QUICK_GROUPS) if quick else largest_draft()
    groups = [element for element in body["elements"] if element["type"] == "group"]
    extensions = sorted({member for element in groups for member in element["members"]})
    with moto_endpoint() as endpoint:
        repository = handler_repository(endpoint)
        add_subscribers(repository.client, repository.table_name, extensions)
        handler = load_function("ScenariosFunction").handler
        counter = RequestCounter(repository.client, "directory-checks")
        in_dynamodb = time_in_requests(repository)

        def timed(method: str, path: str, resource: str, payload: Any = None, if_match: str | None = None) -> Any:
            headers = {"If-Match": if_match} if if_match else None
            event = api_event(method, path, resource=resource, body=payload, authorizer=EDITOR, headers=headers)
            counter.reset()
            in_dynamodb.clear()
            started = time.perf_counter()
            response = invoke(handler, event)
            took = (time.perf_counter() - started) * 1000
            return took, counter.requests, response, took - sum(in_dynamodb)

        create = timed("POST", "/v1/scenarios", "/v1/scenarios", body)
        item = "/v1/scenarios/{scenario_id}"
        validate = timed("POST", "/v1/scenarios/big/validate", f"{item}/validate")
        publish = timed(
            "POST", "/v1/scenarios/big/publish", f"{item}/publish", if_match=response_header(create[2], "ETag")
        )
    operations = {"create": create, "validate": validate, "publish": publish}
    return {
        "bytes": serialized_size(body),
        "groups": len(groups),
        "extensions": len(extensions),
        **{f"{name}_ms": figures[0] for name, figures in operations.items()},
        **{f"{name}_requests": figures[1] for name, figures in operations.items()},
        **{f"{name}_outside_ms": figures[3] for name, figures in operations.items()},
    }


def run(quick: bool) -> list[Row]:
    figures = measure(quick)
    size = f"{figures['bytes'] // 1024} KB, {figures['groups']} groups, {figures['extensions']} extensions"
    rows = [row(f"largest draft: {size}", figures["extensions"], "extensions", digits=0)]
    for name in ("create", "validate", "publish"):
        requests = figures[f"{name}_requests"]
        rows += [
            count_row(f"DynamoDB requests to {name} the largest draft", requests, "requests", MAX_REQUESTS),
            row(f"time to {name} the largest draft (handler on moto)", figures[f"{name}_ms"], "ms", digits=0),
            row(f"  of which outside DynamoDB requests ({name})", figures[f"{name}_outside_ms"], "ms", digits=0),
        ]
    return rows


if __name__ == "__main__":
    sys.exit(main(run, __doc__))
