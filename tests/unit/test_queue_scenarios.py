"""The queue element in the scenario tools: validation, analysis, the diagram, and simulation with scripted agents
on a virtual clock (domain/simulated_queues.py) — through the domain, the service and the CLI."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from vpbx import cli
from vpbx.domain.analysis import analyze
from vpbx.domain.diagram import to_mermaid
from vpbx.domain.directory import Directory, Subscriber
from vpbx.domain.elements.base import References
from vpbx.domain.errors import InvalidInput
from vpbx.domain.queues import Queue, QueueMember
from vpbx.domain.scenario import Scenario
from vpbx.domain.simulated_queues import QueueScript
from vpbx.domain.simulation import SimulationResult, simulate
from vpbx.domain.validation import validate
from vpbx.service.directory import DirectoryService, SubscriberCreate
from vpbx.service.scenarios import ScenarioCreate, ScenarioService, SimulateRequest
from vpbx.store.memory import InMemoryRepository
from vpbx.store.models import DirectorySnapshot

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SUBSCRIBERS = [
    Subscriber(extension="101", name="Anna"),
    Subscriber(extension="102", name="Boris"),
    Subscriber(extension="103", name="Vera (mobile)", kind="mobile", target="+79161234567"),  # dial delay 8
    Subscriber(extension="104", name="Gleb (left)", enabled=False),
]


def support(**fields: Any) -> Queue:
    fields.setdefault("members", [QueueMember(extension="101"), QueueMember(extension="102")])
    return Queue.model_validate(
        {"id": "support", "name": "Support", "max_wait_seconds": 60, "poll_seconds": 10, **fields}
    )


def directory(queue: Queue | None = None) -> Directory:
    return Directory.of(SUBSCRIBERS, queues=[queue or support()])


RAW: dict[str, Any] = {
    "name": "Support line",
    "elements": [
        {"id": "start", "type": "incoming_call"},
        {"id": "line", "type": "queue", "queue_id": "support", "label": "Support queue"},
        {"id": "vm", "type": "voicemail", "mailbox": "101"},
        {"id": "sorry", "type": "hangup"},
    ],
    "connections": [
        {"from": "start", "to": "line"},
        {"from": "line", "exit": "timeout", "to": "vm"},
        {"from": "line", "exit": "no_agents", "to": "sorry"},
        {"from": "line", "exit": "full", "to": "sorry"},
    ],
}
SCENARIO = Scenario.model_validate(RAW)


def run(queue: Queue | None = None, queues: Any = None, outcomes: Any = None) -> SimulationResult:
    return simulate(SCENARIO, directory(queue), at=AT, queues=queues, outcomes=outcomes)


def line_steps(result: SimulationResult) -> list[tuple[int, str, Any, str | None]]:
    """(at_seconds, action type, position or ringed extensions, outcome) of the queue element's steps."""
    steps = []
    for step in result.steps:
        if step.element_id != "line" or step.action is None:
            continue
        action = step.action
        what = action.get("position") if action["type"] == "enqueue" else [t["extension"] for t in action["targets"]]
        steps.append((step.at_seconds, action["type"], what, step.outcome))
    return steps


# ------------------------------------------------------------------------------------------------ validation


def codes(raw: dict[str, Any], where: Directory | None) -> set[str]:
    return {problem.code for problem in validate(raw, where).problems}


def test_a_wired_queue_with_ringable_members_is_clean() -> None:
    assert codes(RAW, directory()) == set()
    assert codes(RAW, None) == set()  # without a directory nothing is checked against it


def test_unknown_and_empty_queues_are_errors_and_odd_members_warnings() -> None:
    assert codes(RAW, Directory.of(SUBSCRIBERS)) == {"unknown_queue"}
    assert codes(RAW, directory(support(members=[]))) == {"empty_queue"}
    report = validate(RAW, directory(support(members=[QueueMember(extension="104"), QueueMember(extension="999")])))
    assert [(p.code, p.severity) for p in report.problems] == [("queue_member_not_ringable", "warning")] * 2
    assert "member 104 (Gleb (left)) of queue 'support' is disabled" in report.problems[0].message
    assert "member 999 of queue 'support' is not in the directory" in report.problems[1].message


def test_timing_that_makes_no_sense_is_a_warning() -> None:
    report = validate(RAW, directory(support(member_ring_seconds=90, max_wait_seconds=30, poll_seconds=45)))
    assert [p.code for p in report.problems] == ["queue_timing", "queue_timing"]
    assert report.ok


def test_a_mobile_member_rung_shorter_than_its_dial_delay_allows_is_warned_about() -> None:
    queue = support(members=[QueueMember(extension="103")], member_ring_seconds=10)
    problem = next(p for p in validate(RAW, directory(queue)).problems if p.code == "wait_below_dial_delay")
    assert "allow at least 18 s" in problem.message


def test_unconnected_queue_exits_are_reported_like_any_other() -> None:
    raw = {**RAW, "connections": RAW["connections"][:2]}
    report = validate(raw, directory())
    assert sorted(p.message.split("'")[1] for p in report.problems if p.code == "unconnected_exit") == [
        "full",
        "no_agents",
    ]


def test_a_cycle_back_through_no_agents_is_an_instant_loop() -> None:
    raw = {**RAW, "connections": [*RAW["connections"][:2], {"from": "line", "exit": "no_agents", "to": "line"},
                                  {"from": "line", "exit": "full", "to": "sorry"}]}  # fmt: skip
    assert "instant_loop" in codes(raw, directory())


# ------------------------------------------------------------------------------------------------ analysis, diagram


def test_the_worst_case_includes_the_max_wait_and_a_last_offer_to_the_slowest_member() -> None:
    queue = support(members=[QueueMember(extension="101"), QueueMember(extension="103")], member_ring_seconds=15)
    analysis = analyze(SCENARIO, directory(queue))

    ends = {end.element_id: end.worst_case_seconds for end in analysis.route_ends}
    assert ends["vm"] == 60 + 15 + 8  # max wait, a last ring, the mobile network's dial delay
    assert ends["sorry"] == 0  # no_agents and full are decided at once
    assert any("queue" in line for line in analysis.assumptions)


def test_the_diagram_draws_the_queue_as_a_trapezoid_with_its_name_strategy_and_max_wait() -> None:
    named = to_mermaid(SCENARIO, directory=directory(support(strategy="round_robin")))
    bare = to_mermaid(SCENARIO)

    assert 'n_line[/"Support queue<br/>Queue Support (round_robin, max wait 60 s)"\\]' in named
    assert 'n_line[/"Support queue<br/>Queue support"\\]' in bare
    assert 'n_line -->|"no_agents"| n_sorry' in bare


# ------------------------------------------------------------------------------------------------ simulation


def test_without_a_script_no_agent_is_free_and_the_caller_times_out_after_max_wait() -> None:
    result = run()

    assert line_steps(result) == [(0, "enqueue", 1, "waiting")] + [
        (second, "enqueue", 1, "waiting") for second in (10, 20, 30, 40, 50)
    ]
    assert result.path() == ["start", "line", "vm"]
    assert result.result.status == "voicemail"
    assert result.steps[-1].at_seconds == 60
    assert [s.exit for s in result.steps if s.element_id == "line"][-1] == "timeout"


def test_a_caller_gets_the_agent_who_becomes_free_after_waiting() -> None:
    result = run(queues={"support": {"agents": {"101": [[35, 300]], "102": [[100, 200]]}}})

    assert line_steps(result) == [
        (0, "enqueue", 1, "waiting"),
        (10, "enqueue", 1, "waiting"),
        (20, "enqueue", 1, "waiting"),
        (30, "enqueue", 1, "waiting"),
        (40, "ring", ["101"], "answered"),
    ]
    assert result.result.status == "connected"
    assert result.result.element_id == "line"


def test_an_agent_who_does_not_answer_is_rung_again_until_another_is_free_ring_all_rings_both() -> None:
    script = {"agents": {"101": [[0, 300]], "102": [[30, 300]]}, "answers": {"101": False}}
    result = run(support(max_wait_seconds=120), queues={"support": script})

    assert line_steps(result) == [
        (0, "ring", ["101"], "no_answer"),
        (20, "ring", ["101"], "no_answer"),  # 102 is not free yet
        (40, "ring", ["101", "102"], "answered"),
    ]
    assert result.result.status == "connected"


def test_round_robin_offers_the_next_free_agent_after_a_decline() -> None:
    script = {"agents": {"101": [[0, 300]], "102": [[0, 300]]}, "answers": {"101": False}}
    result = run(support(strategy="round_robin"), queues={"support": script})

    assert line_steps(result) == [(0, "ring", ["101"], "no_answer"), (20, "ring", ["102"], "answered")]


def test_callers_ahead_take_free_agents_first_and_a_full_line_turns_the_caller_away() -> None:
    script = {"agents": {"101": [[0, 15], [25, 60]], "102": [[45, 60]]}, "ahead": 2}
    result = run(queues={"support": script})

    assert line_steps(result) == [
        (0, "enqueue", 2, "waiting"),  # 101 takes the first caller ahead for its first free span
        (10, "enqueue", 2, "waiting"),
        (20, "enqueue", 2, "waiting"),
        (30, "enqueue", 1, "waiting"),  # 101, free again, takes the second
        (40, "enqueue", 1, "waiting"),
        (50, "ring", ["102"], "answered"),
    ]
    full = run(support(max_waiting=3), queues={"support": {"ahead": 3}})
    assert full.path() == ["start", "line", "sorry"]
    assert full.steps[1].exit == "full"


def test_a_queued_caller_can_be_scripted_to_hang_up() -> None:
    result = run(outcomes={"line": ["waiting", "waiting", "caller_hangup"]})

    assert result.result.status == "caller_hangup"
    assert result.steps[-1].at_seconds == 20


def test_bad_queue_scripts_are_invalid_input_naming_the_queue() -> None:
    with pytest.raises(InvalidInput, match="'nope'") as unknown:
        run(queues={"nope": {}})
    assert unknown.value.details[0]["loc"] == ["body", "queues", "nope"]
    with pytest.raises(InvalidInput, match="span") as backwards:
        run(queues={"support": {"agents": {"101": [[30, 10]]}}})
    assert backwards.value.details[0]["loc"][:3] == ["body", "queues", "support"]
    with pytest.raises(InvalidInput, match="does not fit"):
        run(outcomes={"line": ["answered"]})  # the queue's rings are its agents', answered by the queue script


def test_the_queue_script_model_bounds_its_input() -> None:
    with pytest.raises(ValidationError):
        QueueScript.model_validate({"agents": {"101": [[0, 1, 2]]}})
    with pytest.raises(ValidationError):
        QueueScript.model_validate({"ahead": -1})
    with pytest.raises(ValidationError):
        QueueScript.model_validate({"agents": {"abc": [[0, 1]]}})


# ------------------------------------------------------------------------------------------------ service and CLI


class _RepositoryWithQueues(InMemoryRepository):
    """The memory store resolving queue `support` and its members too (as the queue store does on its own)."""

    def resolve_directory(self, tenant_id: str, refs: References) -> DirectorySnapshot:
        queues = [support()] if "support" in refs.queues else []
        members = References(extensions=frozenset(e for queue in queues for e in queue.extensions))
        snapshot = super().resolve_directory(tenant_id, refs | members)
        return snapshot.model_copy(update={"queues": queues})


def test_the_simulate_endpoint_service_takes_queue_scripts() -> None:
    repository = _RepositoryWithQueues()
    for extension in ("101", "102"):
        DirectoryService(repository, "acme").create_subscriber(SubscriberCreate(extension=extension, name="A"))
    service = ScenarioService(repository, "acme")
    service.create(ScenarioCreate.model_validate({**RAW, "id": "support"}))

    request = SimulateRequest.model_validate(
        {"at": AT.isoformat(), "queues": {"support": {"agents": {"102": [[15, 99]]}}}}
    )
    simulation = service.simulate("support", request)

    assert line_steps(simulation.result)[-1] == (20, "ring", ["102"], "answered")
    diagram = service.diagram("support", None)
    assert "Queue Support (ring_all, max wait 60 s)" in diagram.mermaid
    with pytest.raises(ValidationError):
        SimulateRequest.model_validate({"queues": {"support": {"agents": {"101": "always"}}}})


def test_vpbx_simulate_reads_queues_from_the_workspace_and_the_script_from_an_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = {
        "subscribers": [{"extension": "101", "name": "Anna"}, {"extension": "102", "name": "Boris"}],
        "queues": [support(announcements={"enabled": True}).model_dump(mode="json")],
        "scenario": RAW,
    }
    path = tmp_path / "support.json"
    path.write_text(json.dumps(workspace))

    code = cli.main(
        ["simulate", str(path), "--at", AT.isoformat(), "--queues", '{"support": {"agents": {"101": [[25, 60]]}}}']
    )

    out = capsys.readouterr().out
    assert code == 0, out
    assert "enqueue support at position 1 (announce 'You are number 1 in line.')" in out
    assert "at 30 s  ring 101 (single, 20 s)  outcome answered" in out
    assert out.strip().endswith("result: connected at line")
