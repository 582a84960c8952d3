"""Queues in the DirectoryStore, on both implementations: live resolution with the members' subscribers, the in-use
guard (atomic, like schedules'), and on DynamoDB the requests one resolution costs. (CRUD, tenancy, paging and the
revision are the families' contract: test_directory_store_contract.py runs it for queues too.)"""

from datetime import UTC, datetime
from typing import Any

import pytest
from vpbx.domain.directory import Schedule, Subscriber
from vpbx.domain.errors import InUse
from vpbx.domain.queues import Queue, QueueMember
from vpbx.domain.scenario import References, Scenario
from vpbx.store.dynamodb import DynamoRepository
from vpbx.store.models import DirectorySnapshot
from vpbx.store.ports import Repository

from tests.helpers.queues import naming_queues, queue_scenario
from tests.integration.store_contract import A, B

T0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)


def queue(queue_id: str, *members: str) -> Queue:
    return Queue(id=queue_id, name=queue_id.title(), members=[QueueMember(extension=e) for e in members])


def seed(repository: Repository, tenant_id: str = A) -> None:
    for extension in ("101", "102", "103", "104"):
        repository.create_subscriber(tenant_id, Subscriber(extension=extension, name=f"Agent {extension}"))
    repository.create_queue(tenant_id, queue("support", "101", "102", "999"))  # 999 is nobody
    repository.create_queue(tenant_id, queue("sales", "103"))
    repository.create_schedule(tenant_id, Schedule(id="office", name="Office", timezone="Europe/Moscow"))


def extensions(snapshot: DirectorySnapshot) -> list[str]:
    return [s.extension for s in snapshot.subscribers]


def test_resolution_brings_the_queues_and_their_members(repository: Repository) -> None:
    seed(repository)
    seed(repository, B)
    repository.update_queue(B, queue("support", "104"), 1)  # another tenant's queue of the same id

    refs = References(schedules=frozenset({"office"}), queues=frozenset({"support", "gone"}))
    snapshot = repository.resolve_directory(A, refs)
    assert [q.id for q in snapshot.queues] == ["support"]
    assert snapshot.queues[0].extensions == ("101", "102", "999")
    assert extensions(snapshot) == ["101", "102"]  # the member that is nobody is left out
    assert [s.id for s in snapshot.schedules] == ["office"]

    both = repository.resolve_directory(A, References(extensions=frozenset({"101", "104"}), queues=refs.queues))
    assert extensions(both) == ["101", "102", "104"]
    everyone = repository.resolve_directory(A, References(any_extension=True, queues=frozenset({"sales"})))
    assert extensions(everyone) == ["101", "102", "103", "104"]
    assert repository.resolve_directory(B, References(queues=frozenset({"support"}))).queues[0].extensions == ("104",)


def test_a_named_queue_cannot_be_deleted_but_its_members_can(
    repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    naming_queues(monkeypatch)
    seed(repository)
    main = Scenario.model_validate({k: v for k, v in queue_scenario("support").items() if k != "id"})
    repository.create_scenario(A, "main", main)
    repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None)

    assert repository.scenarios_using(A, "queue", "support") == ["main"]
    with pytest.raises(InUse, match="main"):
        repository.delete_queue(A, "support", 1)
    repository.delete_subscriber(A, "101", 1)  # a member, not a name of the scenario
    repository.delete_queue(A, "sales", 1)  # nobody names it
    assert repository.get_queue(A, "support").version == 1


def test_a_queue_delete_racing_a_publish_that_names_it(repository: Repository, monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard's check and the delete commit on the directory revision: a publish between them (forced by the
    store's seam) makes the delete check again and refuse."""
    naming_queues(monkeypatch)
    seed(repository)
    main = Scenario.model_validate({k: v for k, v in queue_scenario("support").items() if k != "id"})
    repository.create_scenario(A, "main", main)
    published: list[str] = []

    def publish_first(operation: str) -> None:
        if operation == "delete_queue" and not published:
            published.append(operation)
            repository.publish_scenario(A, "main", 1, DirectorySnapshot(), T0, None, repository.directory_revision(A))

    monkeypatch.setattr(repository, "before_reference_write", publish_first)
    with pytest.raises(InUse):
        repository.delete_queue(A, "support", 1)
    assert published
    assert repository.get_queue(A, "support").version == 1


# ---------------------------------------------------------------------------------------------- DynamoDB requests


@pytest.fixture
def dynamo(dynamo_table: tuple[str, str]) -> DynamoRepository:
    endpoint, table_name = dynamo_table
    return DynamoRepository(table_name, endpoint_url=endpoint)


def requests_of(repository: DynamoRepository, refs: References) -> list[str]:
    operations: list[str] = []

    def count(model: Any, **_: Any) -> None:
        operations.append(model.name)

    repository.client.meta.events.register("before-call.dynamodb", count, unique_id="count-resolve")
    try:
        repository.resolve_directory(A, refs)
    finally:
        repository.client.meta.events.unregister("before-call.dynamodb", unique_id="count-resolve")
    return operations


def test_resolution_requests_stay_constant(dynamo: DynamoRepository) -> None:
    seed(dynamo)
    many = [queue(f"q{n:02d}", *(str(200 + n * 3 + i) for i in range(3))) for n in range(30)]  # 90 members
    for extra in many:
        dynamo.create_queue(A, extra)
    names = References(extensions=frozenset({"101"}), schedules=frozenset({"office"}))

    assert requests_of(dynamo, names) == ["BatchGetItem"]  # every family named by id: one request together
    with_queue = References(extensions=names.extensions, schedules=names.schedules, queues=frozenset({"support"}))
    assert requests_of(dynamo, with_queue) == ["BatchGetItem", "BatchGetItem"]  # then the members not read yet
    members_named = References(extensions=frozenset({"101", "102", "999"}), queues=frozenset({"support"}))
    assert requests_of(dynamo, members_named) == ["BatchGetItem"]
    thirty = References(queues=frozenset(q.id for q in many))
    assert requests_of(dynamo, thirty) == ["BatchGetItem", "BatchGetItem"]  # 30 queues, 90 members: still two
    everyone = References(any_extension=True, queues=frozenset({"support"}))
    assert requests_of(dynamo, everyone) == ["Query", "BatchGetItem"]
