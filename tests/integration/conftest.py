"""The `repository` fixture: every contract test runs against the in-memory fake and DynamoDB (moto)."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from vpbx.store.dynamodb import DynamoRepository
from vpbx.store.memory import InMemoryRepository
from vpbx.store.ports import Repository


class ManualClock:
    """A clock the test moves by hand (call expiry, timestamps)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2025, 3, 14, 9, 30, tzinfo=UTC))


@pytest.fixture(params=["memory", "dynamodb"])
def repository(request: pytest.FixtureRequest, clock: ManualClock) -> Iterator[Repository]:
    if request.param == "memory":
        yield InMemoryRepository(clock=clock)
        return
    endpoint, table_name = request.getfixturevalue("dynamo_table")
    yield DynamoRepository(table_name, endpoint_url=endpoint, clock=clock)
