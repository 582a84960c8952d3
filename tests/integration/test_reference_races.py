"""Atomic references (issue 12): no interleaving of a reference check and a competing write leaves a published version
naming a deleted directory object, or a number pointing at a deleted scenario. On both implementations.

Each race is forced in-process: the store's `before_reference_write` seam runs the competing operation between the
first operation's checks and its commit. Every test runs twice: with the revision condition (the race is closed) and
with it switched off (`guard_references = False`), where the same interleaving must leave a dangling reference, which
shows the test catches the race the condition closes.
"""

from collections.abc import Callable
from typing import Any, cast

import pytest
from vpbx.domain.errors import Conflict, InUse, InvalidScenario, NotFound
from vpbx.domain.scenario import references_of
from vpbx.service.directory import DirectoryService, NumberCreate, SubscriberCreate
from vpbx.service.scenarios import ScenarioCreate, ScenarioReplace, ScenarioService, missing_references
from vpbx.service.versioned import every
from vpbx.store.common import ReferenceGuard
from vpbx.store.ports import Repository

TENANT = "acme"
NUMBER = "+74951234567"

GUARDS = pytest.mark.parametrize("guarded", [True, False], ids=["guarded", "condition-removed"])


def ringing(*extensions: str) -> ScenarioCreate:
    """Scenario "main": start → ring each extension in turn → hang up."""
    return ScenarioCreate.model_validate({"id": "main", **ringing_body(*extensions)})


def ringing_body(*extensions: str) -> dict[str, Any]:
    elements: list[dict[str, Any]] = [{"id": "start", "type": "incoming_call"}]
    connections = []
    previous = "start"
    for extension in extensions:
        element_id = f"ring{extension}"
        elements.append({"id": element_id, "type": "internal_subscriber", "extension": extension, "limit_wait": True})
        connections.append(
            {"from": previous, "to": element_id} | ({} if previous == "start" else {"exit": "no_answer"})
        )
        previous = element_id
    elements.append({"id": "bye", "type": "hangup"})
    connections.append({"from": previous, "to": "bye", "exit": "no_answer"})
    return {"name": "Main", "elements": elements, "connections": connections}


def once(operation: str, action: Callable[[], object]) -> Callable[[str], None]:
    """A hook that runs `action` the first time the store is about to commit `operation`."""
    fired: list[str] = []

    def hook(about_to: str) -> None:
        if about_to == operation and not fired:
            fired.append(about_to)
            action()

    return hook


def dangling(repository: Repository) -> list[str]:
    """Every reference that points at nothing: published versions naming missing directory objects, numbers
    pointing at missing scenarios."""
    problems = []
    for draft in every(lambda limit, cursor: repository.list_scenarios(TENANT, limit, cursor)):
        published = draft.item.published_version
        if published is None:
            continue
        named = references_of(repository.get_scenario_version(TENANT, draft.item.id, published).scenario)
        found = repository.resolve_directory(TENANT, named)
        problems += [
            f"{draft.item.id} v{published}: {kind} {ident}" for kind, ident in missing_references(named, found)
        ]
    for number in every(lambda limit, cursor: repository.list_numbers(TENANT, limit, cursor)):
        scenario_id = number.item.scenario_id
        if scenario_id is not None:
            try:
                repository.get_scenario(TENANT, scenario_id)
            except NotFound:
                problems.append(f"number {number.item.number}: scenario {scenario_id}")
    return problems


@pytest.fixture
def directory(repository: Repository) -> DirectoryService:
    return DirectoryService(repository, TENANT)


@pytest.fixture
def scenarios(repository: Repository) -> ScenarioService:
    return ScenarioService(repository, TENANT)


def switch(repository: Repository, guarded: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not guarded:
        monkeypatch.setattr(repository, "guard_references", False)


def before_commit(repository: Repository, hook: Callable[[str], None]) -> None:
    cast(ReferenceGuard, repository).before_reference_write = hook


@GUARDS
def test_a_subscriber_deleted_while_a_scenario_ringing_it_is_published(
    repository: Repository,
    directory: DirectoryService,
    scenarios: ScenarioService,
    guarded: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    directory.create_subscriber(SubscriberCreate(extension="101", name="Anna"))
    draft = scenarios.create(ringing("101"))
    switch(repository, guarded, monkeypatch)
    before_commit(repository, once("publish", lambda: directory.delete_subscriber("101", 1)))

    if guarded:
        with pytest.raises(InvalidScenario):  # checked again after the delete: 101 is gone
            scenarios.publish("main", draft.version, by="test")
        assert repository.get_scenario(TENANT, "main").item.published_version is None
        assert dangling(repository) == []
    else:
        scenarios.publish("main", draft.version, by="test")
        assert dangling(repository) == ["main v1: extension 101"]
    with pytest.raises(NotFound):
        directory.get_subscriber("101")


@GUARDS
def test_a_scenario_ringing_a_subscriber_published_while_it_is_deleted(
    repository: Repository,
    directory: DirectoryService,
    scenarios: ScenarioService,
    guarded: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    directory.create_subscriber(SubscriberCreate(extension="101", name="Anna"))
    draft = scenarios.create(ringing("101"))
    switch(repository, guarded, monkeypatch)
    before_commit(repository, once("delete_extension", lambda: scenarios.publish("main", draft.version, by="test")))

    if guarded:
        with pytest.raises(InUse):  # checked again after the publish: main rings 101 now
            directory.delete_subscriber("101", 1)
        assert directory.get_subscriber("101").item.name == "Anna"
        assert dangling(repository) == []
    else:
        directory.delete_subscriber("101", 1)
        assert dangling(repository) == ["main v1: extension 101"]
    assert repository.get_scenario(TENANT, "main").item.published_version == 1


@GUARDS
def test_a_number_pointed_at_a_scenario_while_it_is_deleted(
    repository: Repository,
    directory: DirectoryService,
    scenarios: ScenarioService,
    guarded: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    draft = scenarios.create(ringing())
    switch(repository, guarded, monkeypatch)
    before_commit(repository, once("point_number", lambda: scenarios.delete("main", draft.version)))

    if guarded:
        with pytest.raises(NotFound, match="scenario 'main' does not exist"):
            directory.create_number(NumberCreate(number=NUMBER, scenario_id="main"))
        with pytest.raises(NotFound):
            directory.get_number(NUMBER)
        assert dangling(repository) == []
    else:
        directory.create_number(NumberCreate(number=NUMBER, scenario_id="main"))
        assert dangling(repository) == [f"number {NUMBER}: scenario main"]


@GUARDS
def test_a_scenario_deleted_while_a_number_is_pointed_at_it(
    repository: Repository,
    directory: DirectoryService,
    scenarios: ScenarioService,
    guarded: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    draft = scenarios.create(ringing())
    switch(repository, guarded, monkeypatch)
    point_number = NumberCreate(number=NUMBER, scenario_id="main")
    before_commit(repository, once("delete_scenario", lambda: directory.create_number(point_number)))

    if guarded:
        with pytest.raises(InUse, match=r"\+74951234567"):
            scenarios.delete("main", draft.version)
        assert scenarios.get("main").version == draft.version
        assert dangling(repository) == []
    else:
        scenarios.delete("main", draft.version)
        assert dangling(repository) == [f"number {NUMBER}: scenario main"]


def published_twice(directory: DirectoryService, scenarios: ScenarioService) -> None:
    """Version 1 rings 101 then 102; version 2 only 101 (so 102 may be deleted while version 2 is current)."""
    for extension in ("101", "102"):
        directory.create_subscriber(SubscriberCreate(extension=extension, name=f"E{extension}"))
    draft = scenarios.create(ringing("101", "102"))
    scenarios.publish("main", draft.version, by="test")
    replaced = scenarios.replace("main", ScenarioReplace.model_validate(ringing_body("101")), draft.version)
    scenarios.publish("main", replaced.version, by="test")


def test_rollback_to_a_version_naming_a_deleted_subscriber_is_refused_with_what_is_missing(
    repository: Repository, directory: DirectoryService, scenarios: ScenarioService
) -> None:
    published_twice(directory, scenarios)
    directory.delete_subscriber("102", 1)

    with pytest.raises(Conflict) as refused:
        scenarios.rollback("main", 1, scenarios.get("main").version)
    assert refused.value.details == [
        {"loc": ["body", "version"], "msg": "extension 102 does not exist", "type": "missing_reference"}
    ]
    assert scenarios.get("main").item.published_version == 2
    assert dangling(repository) == []


@GUARDS
def test_a_subscriber_deleted_while_a_version_naming_it_is_rolled_back_to(
    repository: Repository,
    directory: DirectoryService,
    scenarios: ScenarioService,
    guarded: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    published_twice(directory, scenarios)
    switch(repository, guarded, monkeypatch)
    before_commit(repository, once("rollback", lambda: directory.delete_subscriber("102", 1)))
    expected = scenarios.get("main").version

    if guarded:
        with pytest.raises(Conflict, match="extension 102"):  # checked again after the delete
            scenarios.rollback("main", 1, expected)
        assert scenarios.get("main").item.published_version == 2
        assert dangling(repository) == []
    else:
        scenarios.rollback("main", 1, expected)
        assert dangling(repository) == ["main v1: extension 102"]
