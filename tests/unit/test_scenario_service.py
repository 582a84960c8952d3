"""ScenarioService on the in-memory repository: drafts, publish with snapshot, versions, rollback, simulate, diagram."""

from datetime import datetime
from typing import Any

import pytest
from pydantic import ValidationError
from vpbx.domain.errors import InUse, InvalidInput, InvalidScenario, NotFound, VersionMismatch
from vpbx.service.directory import DirectoryService, NumberCreate, ScheduleCreate, SubscriberCreate, SubscriberReplace
from vpbx.service.scenarios import (
    RollbackRequest,
    ScenarioCreate,
    ScenarioReplace,
    ScenarioService,
    SimulateRequest,
    scenario_out,
)
from vpbx.store.memory import InMemoryRepository

from tests.helpers.scenarios import OFFICE_HOURS, main_line

TENANT = "acme"
MONDAY_10_MSK = datetime.fromisoformat("2026-11-23T10:00:00+03:00")
MONDAY_20_MSK = datetime.fromisoformat("2026-11-23T20:00:00+03:00")

MAIN: dict[str, Any] = {"id": "main", **main_line()}


@pytest.fixture
def repository() -> InMemoryRepository:
    repository = InMemoryRepository()
    directory = DirectoryService(repository, TENANT)
    directory.create_subscriber(SubscriberCreate(extension="101", name="Anna"))
    directory.create_schedule(ScheduleCreate.model_validate(OFFICE_HOURS))
    return repository


@pytest.fixture
def scenarios(repository: InMemoryRepository) -> ScenarioService:
    return ScenarioService(repository, TENANT)


def replace_body(**changes: Any) -> ScenarioReplace:
    return ScenarioReplace.model_validate({**{k: v for k, v in MAIN.items() if k != "id"}, **changes})


# ------------------------------------------------------------------------------------------------ drafts


def test_an_invalid_draft_is_saved_and_its_problems_reported(scenarios: ScenarioService) -> None:
    body = ScenarioCreate.model_validate({"name": "Half done", "elements": [{"id": "x", "type": "hangup"}]})
    record = scenarios.create(body)

    _, report = scenarios.validate_draft(record.item.id)
    summary = scenario_out(record, report).validation

    assert record.item.id.startswith("scn-")
    assert summary is not None
    assert not summary.ok
    assert "missing_entry" in {p.code for p in summary.problems}


def test_validation_uses_the_live_directory(repository: InMemoryRepository, scenarios: ScenarioService) -> None:
    scenarios.create(ScenarioCreate.model_validate(MAIN))
    assert scenarios.validate_draft("main")[1].ok

    directory = DirectoryService(repository, TENANT)
    directory.delete_subscriber("101", directory.get_subscriber("101").version)

    codes = {p.code for p in scenarios.validate_draft("main")[1].errors}
    assert codes == {"unknown_extension"}


@pytest.mark.parametrize("field", ["id", "tenant_id", "version", "created_at", "published_version"])
def test_replace_body_rejects_server_fields(field: str) -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        replace_body(**{field: "x"})


def test_scenario_referenced_by_a_number_cannot_be_deleted(
    repository: InMemoryRepository, scenarios: ScenarioService
) -> None:
    draft = scenarios.create(ScenarioCreate.model_validate(MAIN))
    DirectoryService(repository, TENANT).create_number(NumberCreate(number="+74951234567", scenario_id="main"))

    with pytest.raises(InUse, match=r"\+74951234567"):
        scenarios.delete("main", draft.version)
    assert scenarios.get("main").version == draft.version


def test_delete_removes_the_draft(scenarios: ScenarioService) -> None:
    draft = scenarios.create(ScenarioCreate.model_validate(MAIN))
    scenarios.delete("main", draft.version)
    with pytest.raises(NotFound):
        scenarios.get("main")


# ------------------------------------------------------------------------------------------------ publishing


def test_publish_freezes_the_referenced_directory(repository: InMemoryRepository, scenarios: ScenarioService) -> None:
    DirectoryService(repository, TENANT).create_subscriber(SubscriberCreate(extension="999", name="Unrelated"))
    draft = scenarios.create(ScenarioCreate.model_validate(MAIN))

    version = scenarios.publish("main", draft.version, by="key-1")

    assert (version.number, version.published_by) == (1, "key-1")
    assert [s.extension for s in version.directory.subscribers] == ["101"]
    assert [s.id for s in version.directory.schedules] == ["office"]
    assert scenarios.get("main").item.published_version == 1


def test_publishing_an_invalid_draft_is_refused_with_its_problems(scenarios: ScenarioService) -> None:
    broken = {**MAIN, "connections": [*MAIN["connections"], {"from": "mgr", "exit": "busy", "to": "ghost"}]}
    draft = scenarios.create(ScenarioCreate.model_validate(broken))

    with pytest.raises(InvalidScenario) as caught:
        scenarios.publish("main", draft.version, by=None)

    # one error, located at the arrow that points nowhere, in the one detail shape
    ghost_arrow = ["body", "connections", len(MAIN["connections"]), "to"]
    assert [(d["loc"], d["type"]) for d in caught.value.details] == [(ghost_arrow, "unknown_connection_target")]
    assert scenarios.get("main").item.latest_version == 0


def test_a_stale_if_match_loses_before_validation(scenarios: ScenarioService) -> None:
    draft = scenarios.create(ScenarioCreate.model_validate(MAIN))
    scenarios.replace("main", replace_body(name="Renamed"), draft.version)

    with pytest.raises(VersionMismatch):
        scenarios.publish("main", draft.version, by=None)
    assert scenarios.get("main").item.latest_version == 0


def test_versions_and_rollback(scenarios: ScenarioService) -> None:
    draft = scenarios.create(ScenarioCreate.model_validate(MAIN))
    scenarios.publish("main", draft.version, by=None)
    edited = scenarios.replace("main", replace_body(name="Second"), draft.version)
    scenarios.publish("main", edited.version, by=None)

    page = scenarios.list_versions("main", 10, None)
    rolled = scenarios.rollback("main", RollbackRequest(version=1).version, edited.version)

    assert [v.number for v in page.items] == [2, 1]
    assert rolled.item.published_version == 1
    assert scenarios.get_version("main", 1).scenario.name == "Main line"
    with pytest.raises(NotFound, match="no published version 9"):
        scenarios.rollback("main", 9, rolled.version)


# ------------------------------------------------------------------------------------------------ simulation


def test_simulating_the_draft_follows_the_schedule(scenarios: ScenarioService) -> None:
    scenarios.create(ScenarioCreate.model_validate(MAIN))

    open_hours = scenarios.simulate("main", SimulateRequest(at=MONDAY_10_MSK, outcomes={"mgr": "answered"}))
    evening = scenarios.simulate("main", SimulateRequest(at=MONDAY_20_MSK))

    assert open_hours.result.path() == ["start", "hours", "mgr"]
    assert open_hours.result.result.status == "connected"
    assert evening.result.path() == ["start", "hours", "vm"]
    assert evening.version is None


def test_a_published_version_runs_on_the_live_directory(
    repository: InMemoryRepository, scenarios: ScenarioService
) -> None:
    """Like a call starting now: 101 disabled after publish is not rung by version 1 (no republish needed)."""
    draft = scenarios.create(ScenarioCreate.model_validate(MAIN))
    scenarios.publish("main", draft.version, by=None)
    directory = DirectoryService(repository, TENANT)
    subscriber = directory.get_subscriber("101")
    directory.replace_subscriber("101", SubscriberReplace(name="Anna", enabled=False), subscriber.version)

    run = scenarios.simulate("main", SimulateRequest(version=1, at=MONDAY_10_MSK, outcomes={"mgr": "answered"}))

    assert run.version == 1
    assert run.result.result.status != "connected"
    mgr = next(step for step in run.result.steps if step.element_id == "mgr")
    assert (mgr.action, mgr.exit) == (None, "no_answer")
    assert scenarios.get_version("main", 1).directory.subscribers[0].enabled  # as validated at publish: information


def test_simulating_an_invalid_draft_is_refused(scenarios: ScenarioService) -> None:
    scenarios.create(ScenarioCreate.model_validate({**MAIN, "elements": MAIN["elements"][1:]}))  # no entry
    with pytest.raises(InvalidScenario):
        scenarios.simulate("main", SimulateRequest())


def test_a_script_naming_an_unknown_element_is_invalid_input(scenarios: ScenarioService) -> None:
    scenarios.create(ScenarioCreate.model_validate(MAIN))
    with pytest.raises(InvalidInput, match="zzz"):
        scenarios.simulate("main", SimulateRequest(outcomes={"zzz": "busy"}))


def test_crm_answers_are_scripted_per_element(scenarios: ScenarioService) -> None:
    crm = {
        "name": "CRM",
        "elements": [
            {"id": "start", "type": "incoming_call"},
            {"id": "crm", "type": "external_routing", "url": "https://crm.example.com/r", "wait_seconds": 20},
            {"id": "end", "type": "hangup"},
        ],
        "connections": [
            {"from": "start", "to": "crm"},
            {"from": "crm", "exit": "no_answer", "to": "end"},
            {"from": "crm", "exit": "not_found", "to": "end"},
        ],
    }
    scenarios.create(ScenarioCreate.model_validate({**crm, "id": "crm"}))

    found = scenarios.simulate("crm", SimulateRequest(crm={"crm": "101"}, outcomes={"crm": "answered"}))
    missing = scenarios.simulate("crm", SimulateRequest())

    assert found.result.result.status == "connected"
    assert missing.result.steps[1].exit == "not_found"
    with pytest.raises(InvalidInput, match="start"):
        scenarios.simulate("crm", SimulateRequest(crm={"start": "101"}))


@pytest.mark.parametrize("caller", ["123", "+7000"])
def test_simulation_caller_must_be_e164(caller: str) -> None:
    with pytest.raises(ValidationError):
        SimulateRequest(caller=caller)


# ------------------------------------------------------------------------------------------------ diagram


def test_diagram_highlights_the_simulated_path(scenarios: ScenarioService) -> None:
    scenarios.create(ScenarioCreate.model_validate(MAIN))

    plain = scenarios.diagram("main", None)
    lit = scenarios.diagram("main", None, SimulateRequest(at=MONDAY_20_MSK))

    assert plain.highlight == []
    assert "visited" not in plain.mermaid
    assert lit.highlight == ["start", "hours", "vm"]
    assert "class n_start,n_hours,n_vm visited" in lit.mermaid


def local_crm_scenario() -> ScenarioCreate:
    crm = {"id": "crm", "type": "external_routing", "url": "http://127.0.0.1:8089/route", "wait_seconds": 20}
    return ScenarioCreate.model_validate(
        {
            "id": "crm",
            "name": "Local CRM",
            "elements": [{"id": "start", "type": "incoming_call"}, crm, {"id": "bye", "type": "hangup"}],
            "connections": [
                {"from": "start", "to": "crm"},
                {"from": "crm", "exit": "not_found", "to": "bye"},
                {"from": "crm", "exit": "no_answer", "to": "bye"},
            ],
        }
    )


@pytest.mark.parametrize("allow_insecure_crm", [False, True])
def test_a_plain_http_crm_publishes_only_where_insecure_crms_are_allowed(
    repository: InMemoryRepository, allow_insecure_crm: bool
) -> None:
    scenarios = ScenarioService(repository, TENANT, allow_insecure_crm=allow_insecure_crm)
    record = scenarios.create(local_crm_scenario())
    report = scenarios.validate_draft("crm")[1]
    insecure = next(p for p in report.problems if p.code == "insecure_url")
    severity = insecure.severity

    if allow_insecure_crm:  # `vpbx serve --allow-insecure-crm`: a CRM on this machine may be tried
        assert severity == "warning"
        assert "--allow-insecure-crm" in insecure.message
        assert scenarios.publish("crm", record.version, by=None).number == 1
    else:
        assert severity == "error"
        with pytest.raises(InvalidScenario):
            scenarios.publish("crm", record.version, by=None)
