"""The behavioural diff on hand-made cases: readable statements, caller-list and CRM classes, menus, waits, bounds;
the diff diagram; and `vpbx diff` as a CI gate (exit 0 / 1 / 2)."""

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from vpbx.cli import main
from vpbx.domain import diff as diff_module
from vpbx.domain.diagram import to_mermaid_diff
from vpbx.domain.diff import describe_windows, diff
from vpbx.domain.directory import CallerList, CallerPattern, Directory, Schedule, Subscriber
from vpbx.domain.scenario import Scenario
from vpbx.workspace import load_workspace

ROOT = Path(__file__).resolve().parents[2]
OFFICE = ROOT / "examples" / "office-hours.json"
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
WEEKDAYS = {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
DIRECTORY = Directory.of(
    [Subscriber(extension=e, name=f"S{e}") for e in ("101", "102", "103")],
    [Schedule(id="office", name="Office", timezone="Europe/Moscow", weekly=WEEKDAYS)],
    [
        CallerList(id="vip", name="VIP", patterns=[CallerPattern(kind="prefix", value="+7916")]),
        CallerList(id="us", name="US", patterns=[CallerPattern(kind="country", value="US")]),
    ],
)


def scenario(elements: list[dict[str, Any]], connections: list[tuple[str, str | None, str]]) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "S",
            "elements": [{"id": "start", "type": "incoming_call"}, *elements],
            "connections": [{"from": a, "to": b, **({"exit": e} if e else {})} for a, e, b in connections],
        }
    )


RING = {"id": "mgr", "type": "internal_subscriber", "extension": "101", "limit_wait": True, "wait_seconds": 20}
VM = {"id": "vm", "type": "voicemail", "mailbox": "101"}
HOURS = {"id": "hours", "type": "schedule", "schedule_id": "office"}


def office(closed_to: str) -> Scenario:
    return scenario(
        [HOURS, RING, VM],
        [
            ("start", None, "hours"),
            ("hours", "open", "mgr"),
            ("hours", "closed", closed_to),
            ("mgr", "no_answer", "vm"),
        ],
    )


def test_identical_scenarios_have_no_change() -> None:
    result = diff(office("vm"), office("vm"), DIRECTORY, start=MONDAY)
    assert not result.changed
    assert result.lines()[0] == "No behavioural change in the explored situations."
    assert result.bounds.time_classes == 2  # open and closed
    assert not result.bounds.truncated


def test_after_hours_change_reads_as_one_weekly_statement() -> None:
    result = diff(office("vm"), office("mgr"), DIRECTORY, start=MONDAY, days=7)
    [statement] = result.statements
    assert statement.when.startswith("Mon 2026-11-23 00:00–09:00; Mon–Thu 18:00–09:00 (next day)")
    assert statement.was == "voicemail 101"
    assert statement.now == "ring 101 (20 s) → voicemail 101 (or answered at a ring)"
    assert statement.callers == ["any caller"]
    assert result.situation_count == 2  # 101 answers, or not


def test_the_diff_is_symmetric_in_what_it_finds() -> None:
    forth = diff(office("vm"), office("mgr"), DIRECTORY, start=MONDAY)
    back = diff(office("mgr"), office("vm"), DIRECTORY, start=MONDAY)
    assert [(s.was, s.now) for s in forth.situations] == [(s.now, s.was) for s in back.situations]


def test_caller_lists_give_a_class_each_and_one_for_nobody() -> None:
    def by_list(list_id: str) -> Scenario:
        check = {"id": "who", "type": "caller_list", "list_id": list_id}
        return scenario([check, RING, VM], [("start", None, "who"), ("who", "match", "mgr"), ("who", "no_match", "vm")])

    result = diff(by_list("vip"), by_list("us"), DIRECTORY, start=MONDAY)
    callers = {s.caller for s in result.situations}
    assert any("list 'vip' (+7916" in c for c in callers)
    assert any("list 'us' (+1" in c for c in callers)
    assert not any("withheld" in c for c in callers)  # a caller in no list goes to voicemail in both
    assert len(result.statements) == 2


def test_crm_answers_are_classes() -> None:
    crm = {"id": "crm", "type": "external_routing", "url": "https://crm.example/route", "wait_seconds": 15}
    old = scenario([crm, VM], [("start", None, "crm"), ("crm", "no_answer", "vm"), ("crm", "not_found", "vm")])
    new = scenario([crm, VM, {"id": "bye", "type": "hangup"}],
                   [("start", None, "crm"), ("crm", "no_answer", "vm"), ("crm", "not_found", "bye")])  # fmt: skip
    result = diff(old, new, DIRECTORY, start=MONDAY)
    assert {s.crm for s in result.situations} == {None}  # only "not found" changed
    assert result.statements[0].text.endswith("CRM answers not found: was voicemail 101, now hang up (hangup_element)")
    assert result.bounds.crm_classes == 4  # 101, 102, 103, not found


def test_menu_keys_and_an_invalid_entry_are_explored() -> None:
    menu = {"id": "menu", "type": "ivr_menu", "prompt": {"text": "1 or 2"}, "max_retries": 0}
    other = {**RING, "id": "other", "extension": "102"}
    old = scenario([menu, RING, other, VM], [("start", None, "menu"), ("menu", "1", "mgr"), ("menu", "2", "other"),
                                             ("menu", "invalid", "vm"), ("menu", "timeout", "vm")])  # fmt: skip
    new = scenario([menu, RING, other, VM], [("start", None, "menu"), ("menu", "1", "other"), ("menu", "2", "mgr"),
                                             ("menu", "invalid", "vm"), ("menu", "timeout", "vm")])  # fmt: skip
    result = diff(old, new, DIRECTORY, start=MONDAY)
    keys = {s.outcomes["menu"][0] for s in result.situations}
    assert keys == {"digits:1", "digits:2"}  # the invalid entry and the timeout behave alike in both


def test_worst_case_wait_changes_are_reported() -> None:
    longer = office("vm").model_copy(deep=True)
    longer.elements[2] = type(longer.elements[2]).model_validate({**RING, "wait_seconds": 40})
    result = diff(office("vm"), longer, DIRECTORY, start=MONDAY)
    assert [c.text for c in result.wait_changes] == [
        "voicemail 'vm': at most 20 s → at most 40 s",
    ]


def test_bounds_are_enforced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diff_module, "MAX_RUNS", 4)
    result = diff(office("vm"), office("mgr"), DIRECTORY, start=MONDAY)
    assert result.bounds.truncated
    assert result.bounds.truncated_by == ["4 runs"]
    with pytest.raises(ValueError, match="days must be"):
        diff(office("vm"), office("vm"), DIRECTORY, start=MONDAY, days=63)


def test_describe_windows_groups_weekly_patterns() -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Europe/Moscow")
    days = [datetime(2026, 11, 23 + n, 18, tzinfo=zone) for n in range(4)]
    windows = [(d, d.replace(day=d.day + 1, hour=9)) for d in days]
    assert describe_windows(windows, zone) == "Mon–Thu 18:00–09:00 (next day)"
    assert describe_windows(windows[:1], zone) == "Mon 2026-11-23 18:00–2026-11-24 09:00"


def test_diff_diagram_colours_added_removed_and_changed() -> None:
    old = office("vm")
    new = scenario(
        [HOURS, {**RING, "wait_seconds": 30}, {"id": "late", "type": "hangup"}],
        [("start", None, "hours"), ("hours", "open", "mgr"), ("hours", "closed", "late")],
    )
    text = to_mermaid_diff(old, new)
    assert "class n_late added" in text
    assert "class n_vm removed" in text
    assert "class n_mgr changed" in text
    assert "linkStyle" in text
    assert to_mermaid_diff(old, old).count("classDef") == 0


# ------------------------------------------------------------------------------------------------ vpbx diff


def changed_office(tmp_path: Path) -> str:
    data = json.loads(OFFICE.read_text())
    late = copy.deepcopy(data)
    late["scenario"]["connections"] = [
        c if c.get("exit") != "closed" else {**c, "to": "mgr"} for c in data["scenario"]["connections"]
    ]
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(late))
    return str(path)


def test_cli_diff_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(OFFICE), str(OFFICE), "--at", "2026-11-23"]) == 0
    assert "No behavioural change" in capsys.readouterr().out
    assert main(["diff", str(OFFICE), changed_office(tmp_path), "--at", "2026-11-23"]) == 1
    out = capsys.readouterr().out
    assert "now ring 101 (20 s) → ring 102, 103 (30 s) → voicemail 101 (or answered at a ring)" in out
    assert main(["diff", str(OFFICE), str(tmp_path / "missing.json")]) == 2
    assert main(["diff", str(OFFICE), str(OFFICE), "--days", "0"]) == 2
    assert "--days" in capsys.readouterr().err


def test_cli_diff_json_and_mermaid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(OFFICE), changed_office(tmp_path), "--json"]) == 1
    body = json.loads(capsys.readouterr().out)
    assert body["changed"] is True
    assert body["bounds"]["limits"]["max_days"] == 62
    assert main(["diff", str(OFFICE), changed_office(tmp_path), "--mermaid"]) == 1
    assert capsys.readouterr().out.startswith("flowchart TD")


def test_cli_diff_refuses_an_invalid_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(OFFICE.read_text())
    data["scenario"]["elements"][2]["extension"] = "999"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data))
    assert main(["diff", str(OFFICE), str(broken)]) == 2  # not 1: that would read as "behaviour changed"
    assert "invalid" in capsys.readouterr().err
    assert load_workspace(OFFICE).problems == ()
