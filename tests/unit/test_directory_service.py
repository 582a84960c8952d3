"""DirectoryService on the in-memory repository: input models, E.164 paths, in-use checks, tenancy."""

from typing import Any

import pytest
from pydantic import ValidationError
from vpbx.domain.errors import AlreadyExists, InUse, InvalidInput, NotFound, VersionMismatch
from vpbx.domain.scenario import references_of
from vpbx.service.directory import (
    CallerListCreate,
    DirectoryService,
    NumberCreate,
    NumberReplace,
    ScheduleCreate,
    ScheduleReplace,
    SubscriberCreate,
    SubscriberReplace,
    subscriber_out,
)
from vpbx.service.scenarios import ScenarioCreate, ScenarioService
from vpbx.store.memory import InMemoryRepository

TENANT = "acme"
OTHER = "globex"


@pytest.fixture
def repository() -> InMemoryRepository:
    return InMemoryRepository()


@pytest.fixture
def directory(repository: InMemoryRepository) -> DirectoryService:
    return DirectoryService(repository, TENANT)


def office_schedule(schedule_id: str | None = "office") -> ScheduleCreate:
    return ScheduleCreate(id=schedule_id, name="Office", timezone="Europe/Moscow", weekly={"mon": ["09:00-18:00"]})


def scenario_body(**elements: dict[str, Any]) -> ScenarioCreate:
    """A small valid scenario: start → <given element> (ids are the keyword names)."""
    items = [{"id": "start", "type": "incoming_call"}] + [{"id": key, **value} for key, value in elements.items()]
    first = next(iter(elements))
    return ScenarioCreate.model_validate(
        {"id": "main", "name": "Main", "elements": items, "connections": [{"from": "start", "to": first}]}
    )


def publish(repository: InMemoryRepository, body: ScenarioCreate) -> None:
    scenarios = ScenarioService(repository, TENANT)
    draft = scenarios.create(body)
    scenarios.publish(draft.item.id, draft.version, by="test")


# ------------------------------------------------------------------------------------------------ subscribers


def test_subscriber_round_trip_and_replace_bumps_version(directory: DirectoryService) -> None:
    created = directory.create_subscriber(SubscriberCreate(extension="101", name="Anna"))
    replaced = directory.replace_subscriber(
        "101", SubscriberReplace(name="Anna K", kind="mobile", target="+7 916 123-45-67"), created.version
    )

    assert replaced.version == created.version + 1
    assert directory.get_subscriber("101").item.target == "+79161234567"  # normalized to E.164
    assert subscriber_out(replaced).effective_dial_delay_seconds >= 8  # a mobile network's dial delay


def test_duplicate_extension_is_refused(directory: DirectoryService) -> None:
    directory.create_subscriber(SubscriberCreate(extension="101", name="Anna"))
    with pytest.raises(AlreadyExists):
        directory.create_subscriber(SubscriberCreate(extension="101", name="Other"))


@pytest.mark.parametrize("field", ["id", "tenant_id", "version", "created_at", "role"])
def test_mass_assignment_fields_are_rejected(field: str) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        SubscriberReplace.model_validate({"name": "Anna", field: "x"})


def test_update_body_cannot_carry_the_extension() -> None:
    with pytest.raises(ValidationError):
        SubscriberReplace.model_validate({"name": "Anna", "extension": "102"})


def test_cross_field_rules_fail_when_the_body_is_parsed() -> None:
    with pytest.raises(ValidationError, match="needs a target"):
        SubscriberCreate.model_validate({"extension": "101", "name": "Anna", "kind": "mobile"})


def test_stale_version_loses_and_changes_nothing(directory: DirectoryService) -> None:
    created = directory.create_subscriber(SubscriberCreate(extension="101", name="Anna"))
    directory.replace_subscriber("101", SubscriberReplace(name="B"), created.version)

    with pytest.raises(VersionMismatch):
        directory.replace_subscriber("101", SubscriberReplace(name="C"), created.version)
    assert directory.get_subscriber("101").item.name == "B"


def test_another_tenants_subscriber_is_not_found(repository: InMemoryRepository, directory: DirectoryService) -> None:
    directory.create_subscriber(SubscriberCreate(extension="101", name="Anna"))
    other = DirectoryService(repository, OTHER)

    with pytest.raises(NotFound):
        other.get_subscriber("101")
    with pytest.raises(NotFound):
        other.delete_subscriber("101", 1)
    assert directory.get_subscriber("101").item.name == "Anna"


def test_subscriber_rung_by_a_published_scenario_cannot_be_deleted(
    repository: InMemoryRepository, directory: DirectoryService
) -> None:
    created = directory.create_subscriber(SubscriberCreate(extension="101", name="Anna"))
    publish(repository, scenario_body(mgr={"type": "internal_subscriber", "extension": "101", "wait_seconds": 20}))

    with pytest.raises(InUse) as caught:
        directory.delete_subscriber("101", created.version)
    assert [detail["scenario_id"] for detail in caught.value.details] == ["main"]
    assert directory.get_subscriber("101").version == created.version


def test_crm_snapshot_alone_does_not_pin_subscribers(
    repository: InMemoryRepository, directory: DirectoryService
) -> None:
    created = directory.create_subscriber(SubscriberCreate(extension="101", name="Anna"))
    crm = {"type": "external_routing", "url": "https://crm.example.com/route", "wait_seconds": 20}
    publish(repository, scenario_body(crm=crm))
    # the version keeps only what its elements name (a CRM may pick anyone: looked up at call time, not frozen)
    assert repository.scenarios_using(TENANT, "extension", "101") == []
    assert repository.get_scenario_version(TENANT, "main", 1).directory.subscribers == []

    directory.delete_subscriber("101", created.version)

    with pytest.raises(NotFound):
        directory.get_subscriber("101")


def test_unused_subscriber_is_deleted(directory: DirectoryService) -> None:
    created = directory.create_subscriber(SubscriberCreate(extension="101", name="Anna"))
    directory.delete_subscriber("101", created.version)
    with pytest.raises(NotFound):
        directory.get_subscriber("101")


# ------------------------------------------------------------------------------------------------ numbers


@pytest.mark.parametrize("path", ["%2B74951234567", "+74951234567", " 74951234567", "74951234567", "%2b74951234567"])
def test_number_paths_accept_every_spelling_of_the_plus(directory: DirectoryService, path: str) -> None:
    directory.create_number(NumberCreate(number="+7 495 123-45-67"))
    assert directory.get_number(path).item.number == "+74951234567"


def test_number_in_path_that_is_not_e164_is_invalid_input(directory: DirectoryService) -> None:
    with pytest.raises(InvalidInput):
        directory.get_number("not-a-number")


def test_number_must_point_at_an_existing_scenario(repository: InMemoryRepository, directory: DirectoryService) -> None:
    with pytest.raises(NotFound) as caught:
        directory.create_number(NumberCreate(number="+74951234567", scenario_id="nope"))
    assert caught.value.details[0]["loc"] == ["body", "scenario_id"]

    ScenarioService(repository, TENANT).create(scenario_body(end={"type": "hangup"}))
    created = directory.create_number(NumberCreate(number="+74951234567", scenario_id="main"))
    with pytest.raises(NotFound):
        directory.replace_number("+74951234567", NumberReplace(scenario_id="gone"), created.version)
    assert directory.get_number("+74951234567").item.scenario_id == "main"


def test_invalid_number_body_is_invalid_input(directory: DirectoryService) -> None:
    with pytest.raises(InvalidInput):
        directory.create_number(NumberCreate(number="+7000"))


# ------------------------------------------------------------------------------------------------ schedules, lists


def test_generated_ids_when_the_body_has_none(directory: DirectoryService) -> None:
    schedule = directory.create_schedule(office_schedule(None))
    caller_list = directory.create_caller_list(CallerListCreate(name="VIP"))

    assert schedule.item.id.startswith("sch-")
    assert caller_list.item.id.startswith("lst-")
    assert schedule.item.id != directory.create_schedule(office_schedule(None)).item.id


def test_schedule_in_use_and_then_free(repository: InMemoryRepository, directory: DirectoryService) -> None:
    created = directory.create_schedule(office_schedule())
    publish(repository, scenario_body(hours={"type": "schedule", "schedule_id": "office"}))

    with pytest.raises(InUse, match="main"):
        directory.delete_schedule("office", created.version)
    replaced = directory.replace_schedule("office", ScheduleReplace(name="New", timezone="UTC"), created.version)
    assert replaced.item.timezone == "UTC"  # in use blocks deletion, not edits


def test_bad_timezone_is_a_parse_error() -> None:
    with pytest.raises(ValidationError, match="IANA"):
        ScheduleReplace(name="Office", timezone="Mars/Olympus")


def test_references_of_names_every_kind() -> None:
    body = ScenarioCreate.model_validate(
        {
            "name": "All",
            "elements": [
                {"id": "s", "type": "incoming_call"},
                {"id": "g", "type": "group", "members": ["102", "103"]},
                {"id": "f", "type": "fax", "extension": "104"},
                {"id": "h", "type": "schedule", "schedule_id": "office"},
                {"id": "l", "type": "caller_list", "list_id": "vip"},
            ],
        }
    )
    refs = references_of(body.scenario())
    assert refs.extensions == {"102", "103", "104"}
    assert refs.schedules == {"office"}
    assert refs.caller_lists == {"vip"}
    assert not refs.any_extension
