"""NumberStore contract (platform-wide uniqueness, routing), on both implementations."""

from functools import partial
from typing import TYPE_CHECKING

import pytest
from vpbx.domain.errors import AlreadyExists, NotFound
from vpbx.store.models import (
    PhoneNumber,
)

if TYPE_CHECKING:  # conftest is loaded by pytest itself; import it for the annotation only
    pass

from vpbx.store.ports import NumberStore, Repository

from tests.integration.store_contract import A, B, run_concurrently, scenario


def test_number_is_unique_across_tenants_and_routes_to_its_owner(repository: Repository) -> None:
    for scenario_id in ("main", "night"):  # a number may only point at an existing scenario
        repository.create_scenario(A, scenario_id, scenario(scenario_id))
    number = PhoneNumber(number="+74951234567", scenario_id="main")
    repository.create_number(A, number)
    with pytest.raises(AlreadyExists):
        repository.create_number(B, PhoneNumber(number="+74951234567"))
    assert repository.route_number("+74951234567") == (A, number)
    assert repository.route_number("+74950000000") is None

    rerouted = PhoneNumber(number="+74951234567", scenario_id="night")
    repository.update_number(A, rerouted, 1)
    assert repository.route_number("+74951234567") == (A, rerouted)

    repository.delete_number(A, "+74951234567", 2)
    assert repository.route_number("+74951234567") is None
    repository.create_number(B, PhoneNumber(number="+74951234567"))
    assert repository.route_number("+74951234567") == (B, PhoneNumber(number="+74951234567"))


def test_foreign_tenant_cannot_touch_a_number(repository: NumberStore) -> None:
    repository.create_number(A, PhoneNumber(number="+74951234567"))
    with pytest.raises(NotFound):
        repository.update_number(B, PhoneNumber(number="+74951234567", scenario_id="x"), 1)
    with pytest.raises(NotFound):
        repository.delete_number(B, "+74951234567", 1)
    assert repository.route_number("+74951234567") == (A, PhoneNumber(number="+74951234567"))


# ------------------------------------------------------------------------------------------------------ locking


def test_concurrent_claims_of_one_number_exactly_one_tenant_wins(repository: NumberStore) -> None:
    tenants = [f"tenant-{i}" for i in range(5)]
    outcomes = run_concurrently(
        [partial(repository.create_number, t, PhoneNumber(number="+74951234567")) for t in tenants]
    )
    winners = [tenants[i] for i, outcome in enumerate(outcomes) if outcome is None]
    assert len(winners) == 1
    assert all(isinstance(o, AlreadyExists) for o in outcomes if o is not None)
    routed = repository.route_number("+74951234567")
    assert routed is not None
    assert routed[0] == winners[0]
