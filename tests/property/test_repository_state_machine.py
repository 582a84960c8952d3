"""The in-memory repository and DynamoDB (moto) repository driven by the same random operations, side by side.

A hypothesis RuleBasedStateMachine runs every step on both and requires the same result or the same error type, over
three tenants that share extension and number spaces (so a slip in tenant scoping shows up as a difference or a
leak). Invariants after every step: each tenant lists exactly the subscribers the model says it owns, in the same
order in both stores; a number routes to the tenant that owns it or to nobody.

Bounded (max_examples, steps) to stay well under a minute on moto. Every example gets fresh tenant ids and numbers,
so one table serves the whole run. The executor's own property test (2,000 random cyclic graphs always ending
within the step cap) is tests/unit/test_executor_properties.py.
"""

import itertools
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from vpbx.domain.directory import Subscriber
from vpbx.domain.errors import VpbxError
from vpbx.domain.scenario import Scenario
from vpbx.store.dynamodb import DynamoRepository
from vpbx.store.memory import InMemoryRepository
from vpbx.store.models import DirectorySnapshot, PhoneNumber
from vpbx.store.ports import Repository

from tests.conftest import dynamodb_client
from tests.security.figures import report

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
EXTENSIONS = st.sampled_from(["101", "102", "103", "7"])
TENANT = st.integers(min_value=0, max_value=2)
NUMBER = st.integers(min_value=0, max_value=2)
VERSION = st.integers(min_value=0, max_value=4)
SCENARIO_IDS = st.sampled_from(["main", "night"])
NAMES = st.sampled_from(["Anna", "Boris", "Chen"])
STATS: Counter[str] = Counter()
_examples = itertools.count()


def clock() -> datetime:
    return NOW


def scenario(extension: str) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "Main",
            "elements": [
                {"id": "start", "type": "incoming_call"},
                {"id": "ring", "type": "internal_subscriber", "extension": extension},
            ],
            "connections": [{"from": "start", "to": "ring"}],
        }
    )


def outcome(call: Callable[[Repository], Any], repository: Repository) -> tuple[str, Any]:
    try:
        result = call(repository)
    except VpbxError as error:
        return "error", type(error).__name__
    return "ok", comparable(result)


def comparable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [comparable(item) for item in value]
    return value


def listing_of(tenant_id: str) -> Callable[[Repository], Any]:
    return lambda repository: repository.list_subscribers(tenant_id, 100, None)


def route_of(number: str) -> Callable[[Repository], Any]:
    return lambda repository: repository.route_number(number)


class TwoRepositories(RuleBasedStateMachine):
    table_name: str = ""
    endpoint: str = ""

    def __init__(self) -> None:
        super().__init__()
        example = next(_examples)
        prefix = uuid.uuid4().hex[:6]
        self.tenants = [f"prop-{prefix}-{index}" for index in range(3)]
        self.numbers = [f"+7495{example % 100_000:05d}{index:02d}" for index in range(3)]
        self.memory = InMemoryRepository(clock=clock)
        self.dynamo = DynamoRepository(self.table_name, endpoint_url=self.endpoint, clock=clock)
        self.owned: dict[str, set[str]] = {tenant: set() for tenant in self.tenants}  # tenant -> extensions
        STATS["examples"] += 1

    def both(self, operation: str, call: Callable[[Repository], Any]) -> tuple[str, Any]:
        in_memory, in_dynamo = outcome(call, self.memory), outcome(call, self.dynamo)
        assert in_memory == in_dynamo, f"{operation}: memory {in_memory} != dynamodb {in_dynamo}"
        STATS["steps"] += 1
        STATS[f"{operation}:{in_memory[0]}"] += 1
        return in_memory

    # ------------------------------------------------------------------------------------------ subscribers
    @rule(tenant=TENANT, extension=EXTENSIONS, name=NAMES)
    def create_subscriber(self, tenant: int, extension: str, name: str) -> None:
        tenant_id = self.tenants[tenant]
        subscriber = Subscriber(extension=extension, name=name)
        status, _ = self.both("create_subscriber", lambda r: r.create_subscriber(tenant_id, subscriber))
        assert (status == "ok") == (extension not in self.owned[tenant_id])
        self.owned[tenant_id].add(extension)

    @rule(tenant=TENANT, extension=EXTENSIONS)
    def get_subscriber(self, tenant: int, extension: str) -> None:
        tenant_id = self.tenants[tenant]
        status, _ = self.both("get_subscriber", lambda r: r.get_subscriber(tenant_id, extension))
        assert (status == "ok") == (extension in self.owned[tenant_id])

    @rule(tenant=TENANT, extension=EXTENSIONS, name=NAMES, version=VERSION)
    def update_subscriber(self, tenant: int, extension: str, name: str, version: int) -> None:
        tenant_id = self.tenants[tenant]
        subscriber = Subscriber(extension=extension, name=name)
        self.both("update_subscriber", lambda r: r.update_subscriber(tenant_id, subscriber, version))

    @rule(tenant=TENANT, extension=EXTENSIONS, version=VERSION)
    def delete_subscriber(self, tenant: int, extension: str, version: int) -> None:
        tenant_id = self.tenants[tenant]
        status, _ = self.both("delete_subscriber", lambda r: r.delete_subscriber(tenant_id, extension, version))
        if status == "ok":
            self.owned[tenant_id].discard(extension)

    # ------------------------------------------------------------------------------------------ numbers
    @rule(tenant=TENANT, number=NUMBER, scenario_id=SCENARIO_IDS)
    def create_number(self, tenant: int, number: int, scenario_id: str) -> None:
        record = PhoneNumber(number=self.numbers[number], scenario_id=scenario_id)
        self.both("create_number", lambda r: r.create_number(self.tenants[tenant], record))

    @rule(tenant=TENANT, number=NUMBER, version=VERSION)
    def delete_number(self, tenant: int, number: int, version: int) -> None:
        self.both("delete_number", lambda r: r.delete_number(self.tenants[tenant], self.numbers[number], version))

    @rule(tenant=TENANT, number=NUMBER)
    def get_number(self, tenant: int, number: int) -> None:
        self.both("get_number", lambda r: r.get_number(self.tenants[tenant], self.numbers[number]))

    # ------------------------------------------------------------------------------------------ scenarios
    @rule(tenant=TENANT, scenario_id=SCENARIO_IDS, extension=EXTENSIONS)
    def create_scenario(self, tenant: int, scenario_id: str, extension: str) -> None:
        tenant_id = self.tenants[tenant]
        self.both("create_scenario", lambda r: r.create_scenario(tenant_id, scenario_id, scenario(extension)))

    @rule(tenant=TENANT, scenario_id=SCENARIO_IDS, extension=EXTENSIONS, version=VERSION)
    def update_scenario(self, tenant: int, scenario_id: str, extension: str, version: int) -> None:
        tenant_id = self.tenants[tenant]
        self.both("update_scenario", lambda r: r.update_scenario(tenant_id, scenario_id, scenario(extension), version))

    @rule(tenant=TENANT, scenario_id=SCENARIO_IDS, version=VERSION)
    def publish_scenario(self, tenant: int, scenario_id: str, version: int) -> None:
        tenant_id = self.tenants[tenant]
        snapshot = DirectorySnapshot()
        self.both(
            "publish_scenario",
            lambda r: r.publish_scenario(tenant_id, scenario_id, version, snapshot, NOW, "k-prop"),
        )

    @rule(tenant=TENANT, scenario_id=SCENARIO_IDS, number=st.integers(min_value=1, max_value=3))
    def get_scenario_version(self, tenant: int, scenario_id: str, number: int) -> None:
        tenant_id = self.tenants[tenant]
        self.both("get_scenario_version", lambda r: r.get_scenario_version(tenant_id, scenario_id, number))

    @rule(tenant=TENANT, scenario_id=SCENARIO_IDS)
    def published_version_of(self, tenant: int, scenario_id: str) -> None:
        tenant_id = self.tenants[tenant]
        self.both("published_version_of", lambda r: r.published_version_of(tenant_id, scenario_id))

    # ------------------------------------------------------------------------------------------ invariants
    @invariant()
    def each_tenant_lists_only_its_own_subscribers(self) -> None:
        for tenant_id in self.tenants:
            _, page = self.both("list_subscribers", listing_of(tenant_id))
            listed = {row["item"]["extension"] for row in page["items"]}
            assert listed == self.owned[tenant_id], f"{tenant_id} lists {listed}, owns {self.owned[tenant_id]}"

    @invariant()
    def numbers_route_to_their_owner_in_both_stores(self) -> None:
        for number in self.numbers:
            _, route = self.both("route_number", route_of(number))
            assert route is None or route[0] in self.tenants


@pytest.fixture(scope="module")
def shared_table(moto_server: str) -> Any:
    client = dynamodb_client(moto_server)
    from vpbx.store import schema

    table_name = f"vpbx-prop-{uuid.uuid4().hex[:10]}"
    schema.create_table(client, table_name)
    yield moto_server, table_name
    client.delete_table(TableName=table_name)


def test_memory_and_dynamodb_repositories_agree_step_by_step(shared_table: tuple[str, str]) -> None:
    TwoRepositories.endpoint, TwoRepositories.table_name = shared_table
    started = time.monotonic()
    bounded = settings(
        max_examples=30,
        stateful_step_count=25,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    run_state_machine_as_test(TwoRepositories, settings=bounded)
    elapsed = time.monotonic() - started
    errors = sum(count for name, count in STATS.items() if name.endswith(":error"))
    report(
        f"Repository state machine: {STATS['examples']} examples, {STATS['steps']} compared operations "
        f"({errors} expected errors, identical in both stores) in {elapsed:.0f} s, 0 differences, 0 cross-tenant rows"
    )
    assert STATS["examples"] >= 30
    assert STATS["steps"] > 0
