"""Cold start as a user meets it: the import of each function plus its first request, and the same request warm.

Usage: .venv/bin/python bench/first_request_bench.py [--quick] [--json]

cold_start_bench.py times the import alone. Several costs are deliberately left out of the import and paid by the
first request that needs them: pydantic builds a model's validator on first use (`LazyModel`, defer_build), the
DynamoDB repository and boto3's client are built on the first request, the executor loads on the first simulation.
This bench shows where that cost went. Each function (Lambda's layout and environment, the precompiled tree of
cold_start_bench.py) is imported by a fresh interpreter, which then handles one typical request against a moto server
on loopback (the table built from template.yaml, seeded with a tenant, a published scenario and a number), and the same
request again:
- authorizer: a REQUEST authorizer event with a valid X-Api-Key (one GetItem);
- admin: GET /v1/tenants/{id}; directory: GET /v1/subscribers; scenarios: GET /v1/scenarios/{id} (the draft and its
  validation summary against the directory); calls: POST /v1/calls (a call start: route, version, decision).
Floor, in another fresh interpreter: the function's dependency floor (cold_start_bench's), then a boto3 DynamoDB
client and one GetItem on the same server — what any DynamoDB-backed Python function pays on its first request.
Reported (medians, CPU time of the child, ms): import, first request and their sum against the floor's, and the
second (warm) request. No goal (the issue sets none): the figures show where the cost the import no longer pays went.
"""

import json
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: bench.common, tests.helpers

from bench.cold_start_bench import FUNCTIONS, lambda_environment, lambda_trees
from bench.common import ROOT, Row, fresh_interpreter, handler_repository, main, moto_endpoint, ratio_row, row
from tests.helpers.apigw import api_event, authorizer_context
from tests.helpers.scenarios import seed_scenario

TENANT = "bench"
NUMBER = "+74951234567"

# The child: import the function, then handle events[0] twice (calls: events[0] then events[1], another call id).
CHILD = """\
import json, sys, time
events = json.load(open(sys.argv[1]))

class Context:
    function_name, memory_limit_in_mb, aws_request_id = "bench", 512, "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    def get_remaining_time_in_millis(self): return 30000

def cpu_ms(work):
    started = time.process_time()
    result = work()
    return (time.process_time() - started) * 1000, result

import_ms, app = cpu_ms(lambda: __import__("app"))
results = []
for event in events:
    ms, response = cpu_ms(lambda: app.handler(event, Context()))
    status = response.get("statusCode", 200) if isinstance(response, dict) else 200
    if "policyDocument" not in response and status >= 300:
        sys.exit(f"{event.get('path')} answered {status}: {response.get('body')}")
    results.append(ms)
print(json.dumps({"import": import_ms, "first": results[0], "warm": results[1]}))
"""

# The floor of a cold start: the function's dependency floor (cold_start_bench's floor.py), then what any function
# backed by DynamoDB pays on its first request: a boto3 client and one GetItem.
FLOOR_CHILD = """\
import json, os, time

def cpu_ms(work):
    started = time.process_time()
    result = work()
    return (time.process_time() - started) * 1000, result

import_ms, _ = cpu_ms(lambda: __import__("floor"))

def first_request():
    import boto3
    client = boto3.client("dynamodb", endpoint_url=os.environ["DYNAMODB_ENDPOINT"])
    client.get_item(TableName=os.environ["TABLE_NAME"], Key={"PK": {"S": "floor"}, "SK": {"S": "floor"}})

first_ms, _ = cpu_ms(first_request)
print(json.dumps({"floor import": import_ms, "floor first": first_ms}))
"""


def seed(endpoint: str) -> tuple[str, str]:
    """A table with the tenant, two subscribers, a published scenario, a number and an admin key: (table, secret)."""
    from vpbx.domain.directory import Subscriber
    from vpbx.domain.scenario import Scenario
    from vpbx.service.admin import create_tenant
    from vpbx.service.scenarios import ScenarioService
    from vpbx.store.models import PhoneNumber

    repository = handler_repository(endpoint)
    now = datetime.now(UTC)
    _, issued = create_tenant(repository, "Bench", now, tenant_id=TENANT, sip_domain="bench.sip.example")
    for extension in ("101", "102"):
        repository.create_subscriber(TENANT, Subscriber(extension=extension, name=f"E{extension}"))
    draft = repository.create_scenario(TENANT, "main", Scenario.model_validate(seed_scenario()))
    snapshot = ScenarioService(repository, TENANT).snapshot(draft.item.scenario)
    repository.publish_scenario(TENANT, "main", draft.version, snapshot, now, None)
    repository.create_number(TENANT, PhoneNumber(number=NUMBER, scenario_id="main"))
    return repository.table_name, issued.secret


def events_for(function: str, secret: str, run: int) -> list[dict[str, Any]]:
    """The request the function handles cold, then warm (the same, or for a call start a new call id)."""
    admin = authorizer_context(TENANT, "bench-key")
    if function == "authorizer":
        sample = json.loads((ROOT / "events" / "authorizer_request.json").read_text())
        sample["headers"] = {"Host": "example", "X-Api-Key": secret}
        return [sample, sample]
    if function == "calls":
        telephony = authorizer_context(TENANT, "bench-key", role="telephony")
        return [
            api_event(
                "POST",
                "/v1/calls",
                body={"call_id": f"bench-{run}-{n}", "from": "+79161234567", "to": NUMBER},
                authorizer=telephony,
            )
            for n in (1, 2)
        ]
    path, resource = {
        "admin": (f"/v1/tenants/{TENANT}", "/v1/tenants/{tenant_id}"),
        "directory": ("/v1/subscribers", "/v1/subscribers"),
        "scenarios": ("/v1/scenarios/main", "/v1/scenarios/{scenario_id}"),
    }[function]
    event = api_event("GET", path, resource=resource, authorizer=admin)
    return [event, event]


def measure(quick: bool) -> dict[str, dict[str, float]]:
    runs = 1 if quick else 7
    samples: dict[str, dict[str, list[float]]] = {function: {} for function in FUNCTIONS}
    with moto_endpoint() as endpoint, lambda_trees() as trees, tempfile.TemporaryDirectory() as tmp:
        table, secret = seed(endpoint)
        for run in range(runs):
            for function in FUNCTIONS:
                events = Path(tmp) / f"{function}-{run}.json"
                events.write_text(json.dumps(events_for(function, secret, run)))
                for script in (CHILD, FLOOR_CHILD):
                    figures = child(script, trees["precompiled"], function, endpoint, table, events)
                    for figure, ms in figures.items():
                        samples[function].setdefault(figure, []).append(ms)
    return {f: {k: statistics.median(v) for k, v in by.items()} for f, by in samples.items()}


def child(script: str, tree: Path, function: str, endpoint: str, table: str, events: Path) -> dict[str, float]:
    task = tree / f"task-{function}"
    env = lambda_environment(task, function) | {
        "DYNAMODB_ENDPOINT": endpoint,
        "TABLE_NAME": table,
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here; tracing's own cost is in the import figures
        "POWERTOOLS_METRICS_DISABLED": "true",  # EMF lines on stdout would mix with the result line
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
    return fresh_interpreter(script, str(events), cwd=task, env=env, what=f"{function}'s first request")


def run(quick: bool) -> list[Row]:
    rows: list[Row] = []
    for function, ms in measure(quick).items():
        cold, floor = ms["import"] + ms["first"], ms["floor import"] + ms["floor first"]
        rows.append(ratio_row(f"{function}: import (CPU)", ms["import"], ms["floor import"], None, digits=1))
        rows.append(ratio_row(f"{function}: first request (CPU)", ms["first"], ms["floor first"], None, digits=1))
        rows.append(ratio_row(f"{function}: cold start, import + first request (CPU)", cold, floor, None, digits=1))
        rows.append(row(f"{function}: the same request warm (CPU)", ms["warm"], "ms", digits=1))
    return rows


if __name__ == "__main__":
    sys.exit(main(run, __doc__))
