"""DirectoryStore contract (the versioned families, numbers included: one shape), paging and cursors, on both
implementations."""

from functools import partial
from typing import TYPE_CHECKING

import pytest
from vpbx.domain.directory import Subscriber
from vpbx.domain.errors import AlreadyExists, InvalidInput, NotFound, VersionMismatch
from vpbx.store.paging import encode_cursor
from vpbx.store.ports import Repository

if TYPE_CHECKING:  # conftest is loaded by pytest itself; import it for the annotation only
    from tests.integration.conftest import ManualClock

from tests.integration.store_contract import FAMILIES, A, B, Family, all_pages, b64, run_concurrently, scenario


@pytest.fixture(params=FAMILIES, ids=lambda f: f.many)
def family(request: pytest.FixtureRequest) -> Family:
    family: Family = request.param
    return family


def test_family_crud_with_versions(repository: Repository, family: Family, clock: "ManualClock") -> None:
    repository.create_scenario(A, "main", scenario())  # what an edited number points at
    obj = family.make(1)
    created = family.create(repository, A, obj)
    assert (created.item, created.version) == (obj, 1)
    assert family.get(repository, A, family.ident(obj)) == created

    clock.advance(minutes=5)
    edited = family.edit(obj)
    updated = family.update(repository, A, edited, 1)
    assert (updated.item, updated.version) == (edited, 2)
    assert updated.created_at == created.created_at
    assert updated.updated_at == clock.now
    assert family.get(repository, A, family.ident(obj)) == updated

    with pytest.raises(VersionMismatch):
        family.update(repository, A, obj, 1)
    with pytest.raises(VersionMismatch):
        family.delete(repository, A, family.ident(obj), 1)
    family.delete(repository, A, family.ident(obj), 2)
    with pytest.raises(NotFound):
        family.get(repository, A, family.ident(obj))
    with pytest.raises(NotFound):
        family.update(repository, A, obj, 2)
    with pytest.raises(NotFound):
        family.delete(repository, A, family.ident(obj), 2)


def test_family_create_twice_is_already_exists(repository: Repository, family: Family) -> None:
    repository.create_scenario(A, "main", scenario())  # what an edited number points at
    family.create(repository, A, family.make(1))
    with pytest.raises(AlreadyExists):
        family.create(repository, A, family.edit(family.make(1)))
    assert family.get(repository, A, family.ident(family.make(1))).item == family.make(1)


def test_family_is_invisible_to_other_tenants(repository: Repository, family: Family) -> None:
    obj = family.make(1)
    family.create(repository, A, obj)
    ident = family.ident(obj)
    with pytest.raises(NotFound):
        family.get(repository, B, ident)
    with pytest.raises(NotFound):
        family.update(repository, B, family.edit(obj), 1)
    with pytest.raises(NotFound):
        family.delete(repository, B, ident, 1)
    assert family.list(repository, B, 10, None).items == []
    assert family.get(repository, A, ident).item == obj


def test_family_pages_through_three_pages(repository: Repository, family: Family) -> None:
    made = [family.make(i) for i in (5, 2, 7, 1, 3, 6, 4)]
    for obj in made:
        family.create(repository, A, obj)
    family.create(repository, B, family.make(8)) if family.many != "numbers" else None

    listed, pages = all_pages(lambda cursor: family.list(repository, A, 3, cursor))
    assert pages == 3
    assert [family.ident(v.item) for v in listed] == sorted(family.ident(o) for o in made)


def test_extension_is_unique_per_tenant_only(repository: Repository) -> None:
    repository.create_subscriber(A, Subscriber(extension="101", name="Anna"))
    repository.create_subscriber(B, Subscriber(extension="101", name="Boris"))
    with pytest.raises(AlreadyExists):
        repository.create_subscriber(A, Subscriber(extension="101", name="Anna again"))
    assert repository.get_subscriber(B, "101").item.name == "Boris"


def test_same_expected_version_only_one_writer_wins(repository: Repository) -> None:
    repository.create_subscriber(A, Subscriber(extension="101", name="Anna"))
    repository.update_subscriber(A, Subscriber(extension="101", name="First"), 1)
    with pytest.raises(VersionMismatch):
        repository.update_subscriber(A, Subscriber(extension="101", name="Second"), 1)
    assert repository.get_subscriber(A, "101").item.name == "First"


def test_concurrent_writers_with_one_version_exactly_one_wins(repository: Repository) -> None:
    repository.create_subscriber(A, Subscriber(extension="101", name="Anna"))
    names = [f"Writer {i}" for i in range(6)]
    outcomes = run_concurrently(
        [partial(repository.update_subscriber, A, Subscriber(extension="101", name=name), 1) for name in names]
    )
    winners = [names[i] for i, outcome in enumerate(outcomes) if outcome is None]
    assert len(winners) == 1
    assert all(isinstance(o, VersionMismatch) for o in outcomes if o is not None)
    stored = repository.get_subscriber(A, "101")
    assert (stored.item.name, stored.version) == (winners[0], 2)


# ------------------------------------------------------------------------------------------------------ paging
def test_limit_is_clamped(repository: Repository) -> None:
    for i in range(3):
        repository.create_subscriber(A, Subscriber(extension=str(200 + i), name="x"))
    smallest = repository.list_subscribers(A, 0, None)
    assert len(smallest.items) == 1
    assert smallest.next_cursor is not None
    everything = repository.list_subscribers(A, 10_000, None)
    assert len(everything.items) == 3
    assert everything.next_cursor is None


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!!",
        "bm90IGpzb24",  # base64 of "not json"
        b64([1, 2]),
        b64({"t": A}),
        b64({"t": A, "k": {"PK": "TENANT#globex", "SK": "SUB#101"}}),
        b64({"t": A, "k": {"PK": "TENANT#acme", "SK": "SCHED#office"}}),
        b64({"t": A, "k": {"PK": "TENANT#acme", "SK": 5}}),
        "x" * 5000,
    ],
    ids=["garbage", "not-json", "not-object", "no-key", "other-partition", "other-listing", "bad-types", "huge"],
)
def test_bad_cursor_is_invalid_input(repository: Repository, cursor: str) -> None:
    repository.create_subscriber(A, Subscriber(extension="101", name="Anna"))
    with pytest.raises(InvalidInput):
        repository.list_subscribers(A, 10, cursor)


def test_cursor_of_another_tenant_is_invalid_input(repository: Repository) -> None:
    for i in range(3):
        repository.create_subscriber(A, Subscriber(extension=str(100 + i), name="x"))
        repository.create_subscriber(B, Subscriber(extension=str(100 + i), name="x"))
    cursor_of_a = repository.list_subscribers(A, 1, None).next_cursor
    assert cursor_of_a is not None
    with pytest.raises(InvalidInput):
        repository.list_subscribers(B, 1, cursor_of_a)
    forged = encode_cursor(B, {"PK": "TENANT#acme", "SK": "SUB#100"})
    with pytest.raises(InvalidInput):
        repository.list_subscribers(B, 1, forged)
    with pytest.raises(InvalidInput):
        repository.list_schedules(A, 1, cursor_of_a)


# ------------------------------------------------------------------------------------------------------ scenarios


@pytest.mark.parametrize("kind", ["subscribers", "schedules", "caller_lists", "queues"])
def test_every_directory_write_advances_the_revision(repository: Repository, kind: str) -> None:
    """Calls cache the live directory by the tenant's revision: a create, an edit and a delete must each move it, or
    an edit would never reach a warm function's calls."""
    family = next(f for f in FAMILIES if f.many == kind)
    obj = family.make(1)
    seen = [repository.directory_revision(A)]
    family.create(repository, A, obj)
    seen.append(repository.directory_revision(A))
    family.update(repository, A, family.edit(obj), 1)
    seen.append(repository.directory_revision(A))
    family.delete(repository, A, family.ident(obj), 2)
    seen.append(repository.directory_revision(A))
    assert seen == sorted(set(seen)), f"the revision did not advance on every write: {seen}"
    assert repository.directory_revision(B) == 0  # another tenant's revision is its own
