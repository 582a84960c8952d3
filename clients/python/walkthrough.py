"""The README walk-through through the Python client generated from openapi.json (make clients).

    PYTHONPATH=clients/generated/python .venv-clients/bin/python clients/python/walkthrough.py \
        --base-url http://127.0.0.1:3000 --api-key "$ADMIN_KEY"

Creates two subscribers, office hours and a scenario, validates, publishes and simulates it, checking each answer;
prints one line per step and exits 1 on the first surprise. Run it against an empty tenant.
"""

import argparse
import sys
import uuid
from http import HTTPStatus
from typing import Any

from vpbx_client import AuthenticatedClient
from vpbx_client.api.scenarios import create_scenario, publish_scenario, simulate_scenario, validate_scenario
from vpbx_client.api.schedules import create_schedule
from vpbx_client.api.subscribers import create_subscriber, list_subscribers
from vpbx_client.models import (
    RingAction,
    ScenarioCreate,
    ScenarioOut,
    ScheduleCreate,
    SimulateRequest,
    SimulationOut,
    SubscriberCreate,
    SubscriberOut,
    ValidationOut,
    VersionOut,
)
from vpbx_client.types import Response

SEED_SCENARIO = {
    "id": "main",
    "name": "Main line",
    "elements": [
        {"id": "start", "type": "incoming_call"},
        {"id": "mgr", "type": "internal_subscriber", "extension": "101", "limit_wait": True, "wait_seconds": 20},
        {"id": "sales", "type": "internal_subscriber", "extension": "102"},
    ],
    "connections": [{"from": "start", "to": "mgr"}, {"from": "mgr", "exit": "no_answer", "to": "sales"}],
}
OFFICE_HOURS = {
    "id": "office",
    "name": "Office hours",
    "timezone": "Europe/Moscow",
    "holidays": {"country": "RU"},
    "weekly": {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
}


def check(condition: object, problem: object) -> None:
    if not condition:
        sys.exit(f"unexpected: {problem}")


def expect(response: Response[Any], status: HTTPStatus, model: type) -> Any:
    """The parsed body of a response that must have `status` and be a `model`."""
    if response.status_code != status or not isinstance(response.parsed, model):
        sys.exit(f"expected {status} {model.__name__}, got {response.status_code}: {response.content[:300]!r}")
    return response.parsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True, help="an admin or editor key of an empty tenant")
    args = parser.parse_args()
    api = AuthenticatedClient(base_url=args.base_url, token=args.api_key, prefix="", auth_header_name="X-Api-Key")

    for extension, name in (("101", "Anna Petrova"), ("102", "Boris Sokolov")):
        body = SubscriberCreate(extension=extension, name=name)
        retry_safe = f"walkthrough-{extension}-{uuid.uuid4()}"  # the same key on a retry replays the first answer
        created = create_subscriber.sync_detailed(client=api, body=body, idempotency_key=retry_safe)
        subscriber = expect(created, HTTPStatus.CREATED, SubscriberOut)
        check(created.headers["etag"] == '"1"', created.headers)
        print(f"subscriber {subscriber.extension} {subscriber.name}: ETag {created.headers['etag']}")
    page = list_subscribers.sync(client=api, limit=1)
    check(page is not None and [s.extension for s in page.items] == ["101"] and page.next_cursor, page)
    print(f"listSubscribers limit=1: {page.items[0].extension}, next_cursor set")

    schedule = create_schedule.sync_detailed(client=api, body=ScheduleCreate.from_dict(OFFICE_HOURS))
    print(f"schedule {expect(schedule, HTTPStatus.CREATED, object).id}")

    draft = create_scenario.sync_detailed(client=api, body=ScenarioCreate.from_dict(SEED_SCENARIO))
    scenario = expect(draft, HTTPStatus.CREATED, ScenarioOut)
    check(scenario.validation and scenario.validation.ok, scenario.validation)
    check(draft.headers["location"] == "/v1/scenarios/main", draft.headers)
    print(f"scenario {scenario.id}: version {scenario.version}, valid")

    report = expect(validate_scenario.sync_detailed("main", client=api), HTTPStatus.OK, ValidationOut)
    check(report.ok and report.version == 1, report)
    version = publish_scenario.sync_detailed("main", client=api, if_match=f'"{report.version}"')
    published = expect(version, HTTPStatus.CREATED, VersionOut)
    check(published.version == 1 and published.current, published)
    print(f"published version {published.version} (Location {version.headers['location']})")

    request = SimulateRequest.from_dict({"version": 1, "at": "2026-11-23T10:00:00+03:00", "outcomes": {"mgr": "busy"}})
    run = expect(simulate_scenario.sync_detailed("main", client=api, body=request), HTTPStatus.OK, SimulationOut)
    rings = [step.action for step in run.steps if isinstance(step.action, RingAction)]
    check(run.path == ["start", "mgr", "sales"], run.path)
    check([ring.targets[0].extension for ring in rings] == ["101", "102"], rings)
    print(f"simulated: {' → '.join(run.path)}, ended {run.result.status} ({run.result.reason})")


if __name__ == "__main__":
    main()
