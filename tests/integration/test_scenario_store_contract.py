"""ScenarioStore contract (drafts, versions, the published pointer, references), on both implementations."""

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from vpbx.domain.directory import CallerList, Subscriber
from vpbx.domain.errors import AlreadyExists, InvalidInput, NotFound, VersionMismatch
from vpbx.domain.scenario import InternalSubscriber
from vpbx.service.version_cache import VersionCache
from vpbx.store.models import (
    DirectorySnapshot,
    Tenant,
)

if TYPE_CHECKING:  # conftest is loaded by pytest itself; import it for the annotation only
    pass

from vpbx.store.ports import Repository, ScenarioStore

from tests.integration.store_contract import T0, A, B, all_pages, run_concurrently, scenario


# ------------------------------------------------------------------------------------------------------ scenarios
def test_scenario_draft_crud(repository: ScenarioStore) -> None:
    created = repository.create_scenario(A, "main", scenario("Main"))
    assert (created.version, created.item.id, created.item.scenario.name) == (1, "main", "Main")
    assert (created.item.published_version, created.item.latest_version) == (None, 0)
    with pytest.raises(AlreadyExists):
        repository.create_scenario(A, "main", scenario("Other"))
    updated = repository.update_scenario(A, "main", scenario("Main v2"), 1)
    assert (updated.version, updated.item.scenario.name) == (2, "Main v2")
    assert repository.get_scenario(A, "main") == updated
    with pytest.raises(VersionMismatch):
        repository.update_scenario(A, "main", scenario("Stale"), 1)
    with pytest.raises(NotFound):
        repository.get_scenario(B, "main")
    with pytest.raises(NotFound):
        repository.update_scenario(B, "main", scenario("Theirs"), 2)
    with pytest.raises(VersionMismatch):
        repository.delete_scenario(A, "main", 1)
    repository.delete_scenario(A, "main", 2)
    with pytest.raises(NotFound):
        repository.get_scenario(A, "main")


def test_list_scenarios_pages_and_isolates(repository: ScenarioStore) -> None:
    for i in range(5):
        repository.create_scenario(A, f"s{i}", scenario(f"S{i}"))
    repository.create_scenario(B, "theirs", scenario())
    listed, pages = all_pages(lambda cursor: repository.list_scenarios(A, 2, cursor))
    assert ([d.item.id for d in listed], pages) == ([f"s{i}" for i in range(5)], 3)
    assert [d.item.id for d in repository.list_scenarios(B, 10, None).items] == ["theirs"]


def test_publish_rollback_and_immutable_versions(repository: ScenarioStore) -> None:
    repository.create_scenario(A, "main", scenario("First", extension="101"))
    assert repository.published_version_of(A, "main") is None
    snapshot = DirectorySnapshot(subscribers=[Subscriber(extension="101", name="Anna")])
    v1 = repository.publish_scenario(A, "main", 1, snapshot, T0, "k1")
    assert (v1.number, v1.scenario.name, v1.published_by, v1.directory) == (1, "First", "k1", snapshot)
    assert repository.published_version_of(A, "main") == 1

    repository.update_scenario(A, "main", scenario("Second", extension="102"), 1)
    with pytest.raises(VersionMismatch):
        repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None)
    v2 = repository.publish_scenario(A, "main", 2, DirectorySnapshot(), T0 + timedelta(hours=1), None)
    assert (v2.number, v2.scenario.name) == (2, "Second")
    draft = repository.get_scenario(A, "main").item
    assert (draft.published_version, draft.latest_version) == (2, 2)
    assert repository.get_scenario_version(A, "main", 1) == v1  # editing the draft did not touch version 1

    rolled = repository.rollback_scenario(A, "main", 1, 2)
    assert (rolled.item.published_version, rolled.item.latest_version, rolled.version) == (1, 2, 2)
    assert repository.published_version_of(A, "main") == 1
    with pytest.raises(NotFound):
        repository.rollback_scenario(A, "main", 9, 2)
    with pytest.raises(VersionMismatch):
        repository.rollback_scenario(A, "main", 2, 1)
    v3 = repository.publish_scenario(A, "main", 2, DirectorySnapshot(), T0, None)
    assert v3.number == 3  # numbering continues after a rollback; no version is ever rewritten
    assert repository.get_scenario_version(A, "main", 2) == v2

    listed, pages = all_pages(lambda cursor: repository.list_scenario_versions(A, "main", 1, cursor))
    assert ([v.number for v in listed], pages) == ([3, 2, 1], 3)


def test_scenario_versions_are_tenant_scoped(repository: ScenarioStore) -> None:
    repository.create_scenario(A, "main", scenario())
    repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None)
    with pytest.raises(NotFound):
        repository.get_scenario_version(B, "main", 1)
    with pytest.raises(NotFound):
        repository.published_version_of(B, "main")
    with pytest.raises(NotFound):
        repository.list_scenario_versions(B, "main", 10, None)
    with pytest.raises(NotFound):
        repository.publish_scenario(B, "main", 1, DirectorySnapshot(), T0, None)
    with pytest.raises(NotFound):
        repository.rollback_scenario(B, "main", 1, 1)
    assert repository.scenarios_using(B, "extension", "101") == []


def test_concurrent_publishes_never_share_a_version_number(repository: ScenarioStore) -> None:
    """Publishing does not change the draft, so overlapping publishes race only for the next number: one takes it."""
    repository.create_scenario(A, "main", scenario())
    published: list[int] = []
    outcomes = run_concurrently(
        [
            lambda: published.append(repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None).number)
            for _ in range(4)
        ]
    )
    assert all(isinstance(o, VersionMismatch) for o in outcomes if o is not None)
    assert sorted(published) == list(range(1, len(published) + 1))
    listed = [v.number for v in repository.list_scenario_versions(A, "main", 10, None).items]
    assert listed == sorted(published, reverse=True)
    assert repository.get_scenario(A, "main").item.latest_version == len(published)


def test_scenarios_using_follows_the_published_version(repository: ScenarioStore) -> None:
    repository.create_scenario(A, "day", scenario(extension="101", schedule="office"))
    repository.create_scenario(A, "night", scenario(extension="102"))
    repository.create_scenario(A, "draft-only", scenario(extension="101"))
    assert repository.scenarios_using(A, "extension", "101") == []

    repository.publish_scenario(A, "day", 1, DirectorySnapshot(), T0, None)
    snapshot = DirectorySnapshot(caller_lists=[CallerList(id="vip", name="VIP")])
    repository.publish_scenario(A, "night", 1, snapshot, T0, None)
    assert repository.scenarios_using(A, "extension", "101") == ["day"]
    assert repository.scenarios_using(A, "schedule", "office") == ["day"]
    assert repository.scenarios_using(A, "caller_list", "vip") == ["night"]
    assert repository.scenarios_using(A, "extension", "999") == []

    repository.update_scenario(A, "day", scenario(extension="102"), 1)
    repository.publish_scenario(A, "day", 2, DirectorySnapshot(), T0, None)
    assert repository.scenarios_using(A, "extension", "101") == []
    assert repository.scenarios_using(A, "extension", "102") == ["day", "night"]

    repository.rollback_scenario(A, "day", 1, 2)
    assert repository.scenarios_using(A, "extension", "101") == ["day"]
    assert repository.scenarios_using(A, "schedule", "office") == ["day"]

    repository.delete_scenario(A, "day", 2)
    assert repository.scenarios_using(A, "extension", "101") == []
    with pytest.raises(InvalidInput):
        repository.scenarios_using(A, "number", "101")


def test_deleted_scenario_takes_its_versions_along(repository: ScenarioStore) -> None:
    repository.create_scenario(A, "main", scenario("Old"))
    repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None)
    repository.delete_scenario(A, "main", 1)
    with pytest.raises(NotFound):
        repository.get_scenario_version(A, "main", 1)
    repository.create_scenario(A, "main", scenario("New"))
    assert repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None).scenario.name == "New"


def test_recreated_scenario_never_reuses_a_version_number(repository: ScenarioStore) -> None:
    """Callers cache published versions by (tenant, scenario, version): a number must never name two contents."""
    repository.create_scenario(A, "main", scenario("Old"))
    repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None)
    repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None)
    repository.delete_scenario(A, "main", 1)

    recreated = repository.create_scenario(A, "main", scenario("New"))
    assert (recreated.version, recreated.item.published_version, recreated.item.latest_version) == (1, None, 2)
    for old in (1, 2):
        with pytest.raises(NotFound):
            repository.get_scenario_version(A, "main", old)
    assert repository.list_scenario_versions(A, "main", 10, None).items == []

    first = repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None)
    assert (first.number, first.scenario.name) == (3, "New")
    assert repository.published_version_of(A, "main") == 3
    assert [v.number for v in repository.list_scenario_versions(A, "main", 10, None).items] == [3]

    repository.delete_scenario(A, "main", 1)  # and again: numbering goes on from 3
    repository.create_scenario(A, "main", scenario("Newer"))
    assert repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None).number == 4

    repository.create_scenario(B, "main", scenario("Theirs"))  # another tenant's same id numbers on its own
    assert repository.publish_scenario(B, "main", 1, DirectorySnapshot(), T0, None).number == 1


def test_recreating_a_never_published_scenario_starts_at_zero(repository: ScenarioStore) -> None:
    repository.create_scenario(A, "main", scenario("Draft"))
    repository.delete_scenario(A, "main", 1)
    assert repository.create_scenario(A, "main", scenario("Again")).item.latest_version == 0
    assert repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None).number == 1


def test_version_cache_never_serves_a_deleted_scenarios_version(repository: Repository) -> None:
    repository.create_tenant(Tenant(id=A, name="Acme", created_at=T0))
    cache = VersionCache(repository)

    def ringing() -> str:
        version = repository.published_version_of(A, "main")
        assert version is not None
        ring = cache.compiled(A, "main", version, repository.directory_revision(A)).elements["ring"]
        assert isinstance(ring, InternalSubscriber)
        return ring.extension

    repository.create_scenario(A, "main", scenario(extension="101"))
    repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None)
    assert ringing() == "101"
    repository.delete_scenario(A, "main", 1)
    repository.create_scenario(A, "main", scenario(extension="102"))
    repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None)
    assert ringing() == "102"


# ------------------------------------------------------------------------------------------------------ calls


def test_published_version_and_revision_in_one_read(repository: Repository) -> None:
    """A call start's read: the published pointer and the directory revision, the same as the two separate reads."""
    with pytest.raises(NotFound):
        repository.published_version_and_revision(A, "main")
    repository.create_scenario(A, "main", scenario())
    assert repository.published_version_and_revision(A, "main") == (None, 0)
    repository.create_subscriber(A, Subscriber(extension="101", name="Anna"))
    repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None, repository.directory_revision(A))
    pointer, revision = repository.published_version_and_revision(A, "main")
    assert (pointer, revision) == (repository.published_version_of(A, "main"), repository.directory_revision(A))
    assert (pointer, revision) == (1, 2)
    with pytest.raises(NotFound):
        repository.published_version_and_revision(B, "main")
