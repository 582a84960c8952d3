"""The live directory (DESIGN.md §3): a published version pins the graph; subscribers, schedules and caller lists
resolve from the current directory when a call starts, and a call keeps what it started with. Through the services,
as the API drives them, over the in-memory repository."""

from datetime import UTC, datetime
from typing import Any

import pytest
from vpbx.domain.calls import RingAction
from vpbx.domain.errors import Conflict, InUse, InvalidScenario
from vpbx.domain.scenario import Scenario
from vpbx.service.calls import CallEvent, CallsService, CallStart
from vpbx.service.directory import (
    CallerListCreate,
    CallerListReplace,
    DirectoryService,
    SubscriberCreate,
    SubscriberReplace,
)
from vpbx.service.scenarios import ScenarioCreate, ScenarioService, SimulateRequest
from vpbx.service.version_cache import MAX_REVISIONS_PER_VERSION, VersionCache
from vpbx.store.memory import InMemoryRepository
from vpbx.store.models import PhoneNumber, StoredDecision, Tenant

TENANT = "acme"
NUMBER = "+74951234567"
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def directors_line() -> dict[str, Any]:
    """101 for 20 s, then the director (102) on the mobile for 30 s, then voicemail."""
    ring = {"type": "internal_subscriber", "limit_wait": True}
    return {
        "id": "main",
        "name": "Director",
        "elements": [
            {"id": "start", "type": "incoming_call"},
            {"id": "desk", **ring, "extension": "101", "wait_seconds": 20},
            {"id": "director", **ring, "extension": "102", "wait_seconds": 30},
            {"id": "vm", "type": "voicemail", "mailbox": "101"},
        ],
        "connections": [
            {"from": "start", "to": "desk"},
            {"from": "desk", "exit": "no_answer", "to": "director"},
            {"from": "director", "exit": "no_answer", "to": "vm"},
        ],
    }


def sales_group() -> dict[str, Any]:
    return {
        "id": "main",
        "name": "Sales",
        "elements": [
            {"id": "start", "type": "incoming_call"},
            {"id": "sales", "type": "group", "members": ["101", "102"], "wait_seconds": 20},
            {"id": "vm", "type": "voicemail", "mailbox": "101"},
        ],
        "connections": [{"from": "start", "to": "sales"}, {"from": "sales", "exit": "no_answer", "to": "vm"}],
    }


class Pbx:
    """One tenant driven the way the API drives it: directory edits, publishing, calls."""

    def __init__(self, default_country: str | None = "RU", crm_url: str | None = None) -> None:
        self.repository = InMemoryRepository(clock=lambda: T0)
        settings = {"default_country": default_country, "crm_url": crm_url}
        tenant = Tenant(id=TENANT, name="Acme", sip_domain="acme.sip", created_at=T0, **settings)
        self.repository.create_tenant(tenant)
        self.directory = DirectoryService(self.repository, TENANT)
        self.scenarios = ScenarioService(self.repository, TENANT)
        self.versions = VersionCache(self.repository)
        self.crm_asked: list[str] = []
        self.calls = CallsService(self.repository, clock=lambda: T0, versions=self.versions, crm_lookup=self._crm)
        self.directory.create_subscriber(SubscriberCreate(extension="101", name="Desk"))
        mobile = {"extension": "102", "name": "Director", "kind": "mobile", "target": "+79161110000"}
        self.directory.create_subscriber(SubscriberCreate.model_validate(mobile))

    def publish(self, body: dict[str, Any]) -> int:
        try:
            draft = self.scenarios.get(body["id"])
            draft = self.scenarios.replace(body["id"], Scenario.model_validate(_without_id(body)), draft.version)
        except Exception:
            draft = self.scenarios.create(ScenarioCreate.model_validate(body))
            self.repository.create_number(TENANT, PhoneNumber(number=NUMBER, scenario_id=body["id"]))
        return self.scenarios.publish(body["id"], draft.version, by=None).number

    def _crm(self, url: str, caller: str | None, timeout: float) -> str | None:
        self.crm_asked.append(url)
        return "102"

    def edit_subscriber(self, extension: str, **changes: Any) -> None:
        stored = self.directory.get_subscriber(extension)
        body = {**stored.item.model_dump(exclude={"extension"}), **changes}
        self.directory.replace_subscriber(extension, SubscriberReplace.model_validate(body), stored.version)

    def start(self, call_id: str, caller: str | None = "+79035550000") -> StoredDecision:
        return self.calls.start(TENANT, CallStart.model_validate({"call_id": call_id, "from": caller, "to": NUMBER}))

    def event(self, call_id: str, seq: int, outcome: str = "no_answer") -> StoredDecision:
        return self.calls.handle_event(TENANT, call_id, CallEvent.model_validate({"seq": seq, "outcome": outcome}))

    def trace(self, call_id: str) -> list[Any]:
        return self.repository.get_call(TENANT, call_id).trace


def _without_id(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "id"}


def rung(decision: StoredDecision) -> list[str | None]:
    action = decision.action
    assert isinstance(action, RingAction), action
    return [target.number or target.uri for target in action.targets]


# ------------------------------------------------------------------------------------------------ subscribers


def test_the_directors_new_mobile_is_rung_by_the_next_call_without_republishing() -> None:
    pbx = Pbx()
    assert pbx.publish(directors_line()) == 1
    pbx.start("before")  # rings the desk; its next ring will be the director's
    pbx.edit_subscriber("102", target="+79162220000")

    pbx.start("after")
    assert rung(pbx.event("after", 1)) == ["+79162220000"]
    assert pbx.scenarios.get("main").item.published_version == 1  # nothing was republished
    assert rung(pbx.event("before", 1)) == ["+79161110000"]  # a call keeps the directory it started with


def test_a_disabled_member_of_a_group_is_not_rung_and_the_trace_says_why() -> None:
    pbx = Pbx()
    pbx.publish(sales_group())
    assert rung(pbx.start("c1")) == ["sip:101@acme.sip", "+79161110000"]
    pbx.edit_subscriber("101", enabled=False)

    assert rung(pbx.start("c2")) == ["+79161110000"]
    sales = next(step for step in pbx.trace("c2") if step.element_id == "sales")
    assert sales.detail == "not rung: subscriber 101 is disabled"


def test_a_disabled_single_target_takes_the_no_answer_path_without_ringing() -> None:
    pbx = Pbx()
    pbx.publish(directors_line())
    pbx.edit_subscriber("101", enabled=False)

    first = pbx.start("c1")
    assert rung(first) == ["+79161110000"]  # the director, straight away
    desk = next(step for step in pbx.trace("c1") if step.element_id == "desk")
    assert (desk.action, desk.exit, desk.detail) == (None, "no_answer", "subscriber 101 is disabled")


def test_a_call_whose_cache_entry_is_gone_goes_on_with_the_directory_as_it_is_then() -> None:
    """Another instance, or an evicted entry: the call's next decision resolves the directory again (docs/CALLS.md)."""
    pbx = Pbx()
    pbx.publish(directors_line())
    pbx.start("c1")
    pbx.edit_subscriber("102", target="+79162220000")
    pbx.versions.clear()
    assert rung(pbx.event("c1", 1)) == ["+79162220000"]


# ------------------------------------------------------------------------------------------------ caller lists


@pytest.mark.parametrize("caller", ["89161234567", "79161234567", "8 (916) 123-45-67", "+7 916 123 45 67"])
def test_a_national_format_caller_matches_a_list_holding_the_e164_number(caller: str) -> None:
    pbx = Pbx(default_country="RU")
    vip = {"id": "vip", "name": "VIP", "patterns": [{"kind": "exact", "value": "+79161234567"}]}
    pbx.directory.create_caller_list(CallerListCreate.model_validate(vip))
    pbx.publish(vip_line())

    decision = pbx.start("c1", caller=caller)
    assert rung(decision) == ["+79161110000"]  # the VIP branch: the director
    assert pbx.repository.get_call(TENANT, "c1").state.call.caller == "+79161234567"


def test_a_caller_list_edit_applies_to_the_next_call() -> None:
    pbx = Pbx()
    vip = {"id": "vip", "name": "VIP", "patterns": [{"kind": "exact", "value": "+79161234567"}]}
    created = pbx.directory.create_caller_list(CallerListCreate.model_validate(vip))
    pbx.publish(vip_line())
    assert rung(pbx.start("c1", caller="+79035550000")) == ["sip:101@acme.sip"]
    changed = CallerListReplace.model_validate({**_without_id(vip), "patterns": [{"kind": "prefix", "value": "+7903"}]})
    pbx.directory.replace_caller_list("vip", changed, created.version)
    assert rung(pbx.start("c2", caller="+79035550000")) == ["+79161110000"]


def vip_line() -> dict[str, Any]:
    return {
        "id": "main",
        "name": "VIP first",
        "elements": [
            {"id": "start", "type": "incoming_call"},
            {"id": "vip", "type": "caller_list", "list_id": "vip"},
            {"id": "director", "type": "internal_subscriber", "extension": "102", "limit_wait": True,
             "wait_seconds": 30},
            {"id": "desk", "type": "internal_subscriber", "extension": "101"},
        ],
        "connections": [
            {"from": "start", "to": "vip"},
            {"from": "vip", "exit": "match", "to": "director"},
            {"from": "vip", "exit": "no_match", "to": "desk"},
            {"from": "director", "exit": "no_answer", "to": "desk"},
        ],
    }  # fmt: skip


# ------------------------------------------------------------------------------------------------ deletion guards


def test_only_what_the_current_version_names_is_in_use() -> None:
    pbx = Pbx()
    pbx.directory.create_subscriber(SubscriberCreate(extension="103", name="Old hand"))
    old = {**directors_line(), "elements": [*directors_line()["elements"]]}
    old["elements"][2] = {**old["elements"][2], "extension": "103"}
    assert pbx.publish(old) == 1
    assert pbx.publish(directors_line()) == 2  # 103 is named only by version 1 now

    with pytest.raises(InUse):
        pbx.directory.delete_subscriber("102", pbx.directory.get_subscriber("102").version)  # version 2 rings it
    pbx.directory.delete_subscriber("103", pbx.directory.get_subscriber("103").version)

    draft = pbx.scenarios.get("main")
    with pytest.raises(Conflict, match="extension 103"):  # rolling back to the version that named it refuses
        pbx.scenarios.rollback("main", 1, draft.version)


def test_a_simulation_reads_a_national_caller_with_the_tenants_country() -> None:
    pbx = Pbx(default_country="RU")
    vip = {"id": "vip", "name": "VIP", "patterns": [{"kind": "exact", "value": "+79161234567"}]}
    pbx.directory.create_caller_list(CallerListCreate.model_validate(vip))
    pbx.publish(vip_line())
    run = pbx.scenarios.simulate("main", SimulateRequest(version=1, caller="89161234567"))
    assert (run.caller, run.result.path()[:3]) == ("+79161234567", ["start", "vip", "director"])


# ------------------------------------------------------------------------------------------------ the tenant's CRM


def crm_line(url: str | None = None) -> dict[str, Any]:
    crm: dict[str, Any] = {"id": "crm", "type": "external_routing", "wait_seconds": 20}
    if url:
        crm["url"] = url
    return {
        "id": "main",
        "name": "CRM",
        "elements": [
            {"id": "start", "type": "incoming_call"},
            crm,
            {"id": "vm", "type": "voicemail", "mailbox": "101"},
        ],
        "connections": [
            {"from": "start", "to": "crm"},
            {"from": "crm", "exit": "not_found", "to": "vm"},
            {"from": "crm", "exit": "no_answer", "to": "vm"},
        ],
    }


def test_external_routing_without_a_url_asks_the_tenants_crm() -> None:
    pbx = Pbx(crm_url="https://crm.acme.example/route")
    pbx.publish(crm_line())
    assert rung(pbx.start("c1")) == ["+79161110000"]
    pbx.publish(crm_line(url="https://other.example/route"))  # the element's own url wins
    pbx.start("c2")
    assert pbx.crm_asked == ["https://crm.acme.example/route", "https://other.example/route"]


def test_external_routing_without_a_url_in_a_tenant_without_crm_url_is_refused_at_publish() -> None:
    pbx = Pbx(crm_url=None)
    with pytest.raises(InvalidScenario) as refused:
        pbx.publish(crm_line())
    assert [d["type"] for d in refused.value.details] == ["missing_crm_url"]
    assert "crm_url" in refused.value.details[0]["msg"]


# ------------------------------------------------------------------------------------------------ the cache


def test_the_cache_stays_bounded_as_the_directory_changes() -> None:
    """Each edit makes a new entry; a version keeps its newest MAX_REVISIONS_PER_VERSION, the cache MAX_ENTRIES."""
    pbx = Pbx()
    pbx.publish(directors_line())
    for n in range(MAX_REVISIONS_PER_VERSION + 3):
        pbx.edit_subscriber("101", name=f"Desk {n}")
        pbx.start(f"c{n}")
    assert len(pbx.versions) == MAX_REVISIONS_PER_VERSION
    assert pbx.versions.stats.version_reads == 1  # the version's content is read once, whatever the directory does

    small = VersionCache(pbx.repository, max_entries=2)
    for n in range(4):
        pbx.edit_subscriber("101", name=f"Front {n}")
        small.compiled(TENANT, "main", 1, pbx.repository.directory_revision(TENANT))
    assert len(small) == 2
