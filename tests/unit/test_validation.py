"""Scenario validation: one minimal scenario per problem code, locations, the seed's rules, all-at-once reporting."""

from collections.abc import Callable
from typing import Any

import pytest
from vpbx.domain.directory import CallerList, CallerPattern, Directory, Schedule, Subscriber
from vpbx.domain.queues import Queue
from vpbx.domain.scenario import MAX_CONNECTIONS, MAX_ELEMENTS, Scenario
from vpbx.domain.validation import CODES, WARNING_CODES, Problem, ValidationReport, graph_checks, validate

Raw = dict[str, Any]

DIRECTORY = Directory.of(
    subscribers=[
        Subscriber(extension="101", name="Anna"),
        Subscriber(extension="102", name="Boris"),
        Subscriber(extension="103", name="Vera (mobile)", kind="mobile", target="+79161234567"),
        Subscriber(extension="104", name="Gleb (left)", enabled=False),
        Subscriber(extension="105", name="Dina (satellite)", kind="external", target="+881612345678"),
        Subscriber(
            extension="106",
            name="Egor (slow PBX)",
            kind="external",
            target="sip:egor@pbx.example",
            dial_delay_seconds=25,
        ),
    ],
    schedules=[Schedule(id="office", name="Office", timezone="Europe/Moscow", weekly={"mon": ["09:00-18:00"]})],
    caller_lists=[CallerList(id="vip", name="VIP", patterns=[CallerPattern(kind="prefix", value="+7916")])],
)

START = {"id": "start", "type": "incoming_call"}
PROMPT = {"text": "Welcome", "voice": "alice"}


def scenario(*elements: Raw, arrows: list[Raw] | None = None, **top: Any) -> Raw:
    """A scenario dict with the entry first; `arrows` default to start → first element."""
    if arrows is None:
        arrows = [arrow("start", elements[0]["id"])] if elements else []
    return {"name": "Test", "elements": [START, *elements], "connections": arrows, **top}


def arrow(source: str, target: str, exit_name: str | None = None) -> Raw:
    connection = {"from": source, "to": target}
    if exit_name is not None:
        connection["exit"] = exit_name
    return connection


def ring(element_id: str, extension: str = "101", **fields: Any) -> Raw:
    return {"id": element_id, "type": "internal_subscriber", "extension": extension, **fields}


def hangup(element_id: str = "bye") -> Raw:
    return {"id": element_id, "type": "hangup"}


def realistic() -> Raw:
    """Every element type wired the way a tenant would: no errors and no warnings."""
    return {
        "name": "Main line",
        "description": "Office hours, VIPs first, a menu after hours",
        "elements": [
            {"id": "start", "type": "incoming_call", "position": {"x": 0, "y": 0}},
            {"id": "vip", "type": "caller_list", "list_id": "vip"},
            {"id": "crm", "type": "external_routing", "url": "https://crm.example/route", "wait_seconds": 25},
            {"id": "hours", "type": "schedule", "schedule_id": "office"},
            {"id": "hello", "type": "greeting", "prompt": PROMPT},
            ring("mgr", "101", limit_wait=True, wait_seconds=20),
            {"id": "sales", "type": "group", "members": ["102", "103"], "strategy": "sequential", "wait_seconds": 20},
            {"id": "cell", "type": "external_number", "number": "+79161234567", "limit_wait": True, "wait_seconds": 30},
            {"id": "menu", "type": "ivr_menu", "prompt": PROMPT, "timeout_seconds": 5, "max_retries": 1},
            {"id": "fax", "type": "fax", "extension": "102"},
            {"id": "vm", "type": "voicemail", "mailbox": "101"},
            {"id": "bye", "type": "hangup"},
        ],
        "connections": [
            arrow("start", "vip"),
            arrow("vip", "crm", "match"),
            arrow("vip", "hours", "no_match"),
            arrow("crm", "hours", "no_answer"),
            arrow("crm", "hours", "not_found"),
            arrow("hours", "hello", "open"),
            arrow("hours", "menu", "closed"),
            arrow("hello", "mgr"),
            arrow("mgr", "sales", "no_answer"),
            arrow("mgr", "vm", "busy"),
            arrow("sales", "cell"),
            arrow("cell", "vm", "no_answer"),
            arrow("menu", "vm", "1"),
            arrow("menu", "fax", "2"),
            arrow("menu", "hello", "0"),
            arrow("menu", "vm", "timeout"),
            arrow("menu", "bye", "invalid"),
        ],
    }


def direct_dial_menu(**fields: Any) -> Raw:
    return {"id": "menu", "type": "ivr_menu", "prompt": PROMPT, "max_digits": 3, "direct_dial": True, **fields}


def menu_arrows() -> list[Raw]:
    """start → menu, with its timeout and invalid exits to `bye`."""
    return [arrow("start", "menu"), arrow("menu", "bye", "timeout"), arrow("menu", "bye", "invalid")]


ONE_DIGIT_EXTENSION = Directory.of([Subscriber(extension="5", name="Reception"), Subscriber(extension="101", name="A")])


def queued() -> Raw:
    """start → a queue element for queue `support`, every exit to `bye`."""
    line = {"id": "line", "type": "queue", "queue_id": "support"}
    exits = [arrow("line", "bye", name) for name in ("timeout", "no_agents", "full")]
    return scenario(line, hangup(), arrows=[arrow("start", "line"), *exits])


def with_queue(**fields: Any) -> Directory:
    """DIRECTORY plus queue `support` (members 101 and 102 unless given)."""
    queue = Queue.model_validate({"id": "support", "name": "Support", "members": [{"extension": "101"},
                                  {"extension": "102"}], **fields})  # fmt: skip
    return Directory.of(list(DIRECTORY.subscribers.values()), queues=[queue])


def circular() -> Raw:
    raw: Raw = {"name": "Loop", "elements": []}
    raw["elements"].append(raw)
    return raw


def two_entries() -> Raw:
    return scenario({"id": "again", "type": "incoming_call"}, hangup(), arrows=[arrow("start", "bye")])


# Each case: (code, scenario builder, directory or None, expected location of the problem)
Case = tuple[str, Callable[[], object], Directory | None, dict[str, Any]]
CASES: list[Case] = [
    ("not_an_object", lambda: ["elements"], None, {}),
    ("not_serializable", circular, None, {}),
    (
        "too_many_elements",
        lambda: scenario(*[hangup(f"h{i}") for i in range(MAX_ELEMENTS)]),
        None,
        {"field": "elements"},
    ),
    (
        "too_many_connections",
        lambda: scenario(hangup(), arrows=[arrow("start", "bye")] * (MAX_CONNECTIONS + 1)),
        None,
        {"field": "connections"},
    ),
    ("scenario_too_large", lambda: scenario(hangup(), description="x" * 300_000), None, {}),
    ("missing_field", lambda: {"elements": [START]}, None, {"field": "name"}),
    ("unknown_field", lambda: scenario(hangup(), owner="me"), None, {"field": "owner"}),
    ("invalid_field", lambda: {"name": "Test", "elements": "start"}, None, {"field": "elements"}),
    (
        "invalid_element",
        lambda: scenario(ring("mgr", "ext-1")),
        None,
        {"element_id": "mgr", "element_index": 1, "field": "extension"},
    ),
    (
        "unknown_element_type",
        lambda: scenario({"id": "x", "type": "teleport"}),
        None,
        {"element_id": "x", "element_index": 1, "field": "type"},
    ),
    (
        "invalid_connection",
        lambda: scenario(hangup(), arrows=[{"from": "start"}]),
        None,
        {"connection_index": 0, "field": "to"},
    ),
    ("missing_entry", lambda: {"name": "Test", "elements": [hangup()]}, None, {}),
    ("multiple_entries", two_entries, None, {"element_id": "again"}),
    (
        "duplicate_element_id",
        lambda: scenario(hangup(), hangup()),
        None,
        {"element_id": "bye", "element_index": 2, "field": "id"},
    ),
    (
        "unknown_connection_source",
        lambda: scenario(hangup(), arrows=[arrow("start", "bye"), arrow("ghost", "bye")]),
        None,
        {"connection_index": 1, "field": "from"},
    ),
    (
        "unknown_connection_target",
        lambda: scenario(hangup(), arrows=[arrow("start", "ghost"), arrow("start", "bye")]),
        None,
        {"connection_index": 0, "field": "to"},
    ),
    (
        "arrow_into_entry",
        lambda: scenario(
            {"id": "hello", "type": "greeting", "prompt": PROMPT},
            arrows=[arrow("start", "hello"), arrow("hello", "start")],
        ),
        None,
        {"connection_index": 1, "element_id": "start", "field": "to"},
    ),
    (
        "invalid_exit",
        lambda: scenario(hangup(), arrows=[arrow("start", "bye", "open")]),
        None,
        {"connection_index": 0, "element_id": "start", "field": "exit"},
    ),
    (
        "duplicate_exit",
        lambda: scenario(hangup("a"), hangup("b"), arrows=[arrow("start", "a"), arrow("start", "b", "next")]),
        None,
        {"connection_index": 1, "element_id": "start", "field": "exit"},
    ),
    (
        "exit_on_terminal",
        lambda: scenario(ring("mgr"), hangup(), arrows=[arrow("start", "mgr"), arrow("mgr", "bye")]),
        None,
        {"connection_index": 1, "element_id": "mgr", "field": "from"},
    ),
    (
        "unconnected_exit",
        lambda: scenario(ring("mgr", limit_wait=True, wait_seconds=20)),
        None,
        {"element_id": "mgr", "field": "exit"},
    ),
    (
        "ivr_without_choices",
        lambda: scenario(
            {"id": "menu", "type": "ivr_menu", "prompt": PROMPT},
            hangup(),
            arrows=[arrow("start", "menu"), arrow("menu", "bye", "timeout"), arrow("menu", "bye", "invalid")],
        ),
        None,
        {"element_id": "menu"},
    ),
    (
        "direct_dial_max_digits",
        lambda: scenario(direct_dial_menu(max_digits=2), hangup(), arrows=menu_arrows()),
        DIRECTORY,
        {"element_id": "menu", "field": "max_digits"},
    ),
    (
        "direct_dial_shadowed",
        lambda: scenario(direct_dial_menu(), hangup(), arrows=[*menu_arrows(), arrow("menu", "bye", "5")]),
        ONE_DIGIT_EXTENSION,
        {"element_id": "menu", "field": "direct_dial"},
    ),
    (
        "max_digits_without_direct_dial",
        lambda: scenario(
            {"id": "menu", "type": "ivr_menu", "prompt": PROMPT, "max_digits": 3},
            hangup(),
            arrows=[*menu_arrows(), arrow("menu", "bye", "1")],
        ),
        None,
        {"element_id": "menu", "field": "max_digits"},
    ),
    ("unreachable_element", lambda: scenario(hangup(), hangup("island")), None, {"element_id": "island"}),
    (
        "endless_loop",
        lambda: scenario(
            {"id": "hours", "type": "schedule", "schedule_id": "office"},
            {"id": "vip", "type": "caller_list", "list_id": "vip"},
            arrows=[
                arrow("start", "hours"),
                arrow("hours", "vip", "open"),
                arrow("hours", "vip", "closed"),
                arrow("vip", "hours", "match"),
                arrow("vip", "hours", "no_match"),
            ],
        ),
        None,
        {"element_id": "hours"},
    ),
    (
        "instant_loop",
        lambda: scenario(
            {"id": "crm", "type": "external_routing", "url": "https://crm.example/route", "wait_seconds": 20},
            {"id": "hours", "type": "schedule", "schedule_id": "office"},
            hangup(),
            arrows=[
                arrow("start", "crm"),
                arrow("crm", "bye", "no_answer"),
                arrow("crm", "hours", "not_found"),
                arrow("hours", "crm", "open"),
                arrow("hours", "bye", "closed"),
            ],
        ),
        None,
        {"element_id": "crm"},
    ),
    (
        "missing_wait_seconds",
        lambda: scenario(ring("mgr", limit_wait=True), hangup(), arrows=[arrow("start", "mgr"), arrow("mgr", "bye")]),
        None,
        {"element_id": "mgr", "field": "wait_seconds"},
    ),
    (
        "wait_out_of_range",
        lambda: scenario(
            ring("mgr", limit_wait=True, wait_seconds=301),
            hangup(),
            arrows=[arrow("start", "mgr"), arrow("mgr", "bye")],
        ),
        None,
        {"element_id": "mgr", "field": "wait_seconds"},
    ),
    (
        "wait_ignored",
        lambda: scenario(ring("mgr", wait_seconds=20)),
        None,
        {"element_id": "mgr", "field": "wait_seconds"},
    ),
    (
        "wait_below_dial_delay",
        lambda: scenario(
            ring("cell", "103", limit_wait=True, wait_seconds=15),
            hangup(),
            arrows=[arrow("start", "cell"), arrow("cell", "bye")],
        ),
        DIRECTORY,
        {"element_id": "cell", "field": "extension"},
    ),
    (
        "invalid_phone_number",
        lambda: scenario({"id": "out", "type": "external_number", "number": "+7000"}),
        None,
        {"element_id": "out", "field": "number"},
    ),
    (
        "invalid_sip_uri",
        lambda: scenario({"id": "out", "type": "external_number", "sip_uri": "http://pbx.example"}),
        None,
        {"element_id": "out", "field": "sip_uri"},
    ),
    (
        "insecure_url",
        lambda: scenario(
            {"id": "crm", "type": "external_routing", "url": "http://crm.example", "wait_seconds": 20},
            hangup(),
            arrows=[arrow("start", "crm"), arrow("crm", "bye", "no_answer"), arrow("crm", "bye", "not_found")],
        ),
        None,
        {"element_id": "crm", "field": "url"},
    ),
    (
        "missing_crm_url",
        lambda: scenario(
            {"id": "crm", "type": "external_routing", "wait_seconds": 20},
            hangup(),
            arrows=[arrow("start", "crm"), arrow("crm", "bye", "no_answer"), arrow("crm", "bye", "not_found")],
        ),
        DIRECTORY,  # a tenant without crm_url
        {"element_id": "crm", "field": "url"},
    ),
    ("unknown_extension", lambda: scenario(ring("mgr", "999")), DIRECTORY, {"element_id": "mgr", "field": "extension"}),
    (
        "unknown_schedule",
        lambda: scenario(
            {"id": "hours", "type": "schedule", "schedule_id": "night"},
            hangup(),
            arrows=[arrow("start", "hours"), arrow("hours", "bye", "open"), arrow("hours", "bye", "closed")],
        ),
        DIRECTORY,
        {"element_id": "hours", "field": "schedule_id"},
    ),
    (
        "unknown_caller_list",
        lambda: scenario(
            {"id": "vip", "type": "caller_list", "list_id": "blocked"},
            hangup(),
            arrows=[arrow("start", "vip"), arrow("vip", "bye", "match"), arrow("vip", "bye", "no_match")],
        ),
        DIRECTORY,
        {"element_id": "vip", "field": "list_id"},
    ),
    (
        "unknown_operator",
        lambda: scenario(
            {"id": "mts", "type": "caller_list", "list_id": "mts"},
            hangup(),
            arrows=[arrow("start", "mts"), arrow("mts", "bye", "match"), arrow("mts", "bye", "no_match")],
        ),
        Directory.of(
            caller_lists=[
                CallerList(
                    id="mts",
                    name="MTS",
                    patterns=[
                        CallerPattern(kind="operator", value="MegaFon"),
                        CallerPattern(kind="operator", value="MTC Mobile"),
                    ],
                )
            ]
        ),
        {"element_id": "mts", "field": "list_id"},
    ),
    (
        "disabled_subscriber",
        lambda: scenario({"id": "team", "type": "group", "members": ["101", "104"], "limit_wait": False}),
        DIRECTORY,
        {"element_id": "team", "field": "members.1"},
    ),
    ("unknown_queue", queued, DIRECTORY, {"element_id": "line", "field": "queue_id"}),
    ("empty_queue", queued, with_queue(members=[]), {"element_id": "line", "field": "queue_id"}),
    (
        "queue_member_not_ringable",
        queued,
        with_queue(members=[{"extension": "101"}, {"extension": "999"}]),
        {"element_id": "line", "field": "queue_id"},
    ),
    (
        "queue_timing",
        queued,
        with_queue(member_ring_seconds=60, max_wait_seconds=30),
        {"element_id": "line", "field": "queue_id"},
    ),
]


def codes(report: ValidationReport) -> set[str]:
    return {problem.code for problem in report.problems}


def find(report: ValidationReport, code: str) -> Problem:
    matches = [problem for problem in report.problems if problem.code == code]
    assert matches, f"expected {code}, got {[(p.code, p.message) for p in report.problems]}"
    return matches[0]


@pytest.mark.parametrize(("code", "build", "directory", "location"), CASES, ids=[case[0] for case in CASES])
def test_each_code_is_reported_where_it_happens(
    code: str, build: Callable[[], object], directory: Directory | None, location: dict[str, Any]
) -> None:
    report = validate(build(), directory)

    problem = find(report, code)
    assert problem.severity == ("warning" if code in WARNING_CODES else "error")
    for key, expected in location.items():
        assert getattr(problem, key) == expected, (key, problem)
    assert problem.message


def test_every_code_has_a_case() -> None:
    covered = {case[0] for case in CASES} | {
        "internal_error"
    }  # internal_error: test_never_raises_even_if_a_check_fails

    assert covered == set(CODES), f"codes without a test: {sorted(set(CODES) - covered)}"


def test_codes_are_documented_snake_case_and_warnings_are_codes() -> None:
    assert all(code.replace("_", "").isalpha() and code.islower() for code in CODES)
    assert all(description.strip() for description in CODES.values())
    assert set(CODES) >= WARNING_CODES


def test_realistic_scenario_has_no_problem_and_parses() -> None:
    report = validate(realistic(), DIRECTORY)

    assert report.problems == []
    assert report.ok
    assert report.scenario is not None
    assert report.scenario.dump() == Scenario.model_validate(realistic()).dump()


def test_an_already_parsed_scenario_gives_the_same_verdict() -> None:
    raw = realistic()
    raw["connections"].append(arrow("bye", "vm"))
    parsed = Scenario.model_validate(raw)

    assert validate(parsed, DIRECTORY).problems == validate(raw, DIRECTORY).problems
    assert validate(parsed, DIRECTORY).scenario is parsed


def test_report_dump_leaves_the_scenario_out() -> None:
    dumped = validate(realistic()).model_dump(mode="json")

    assert dumped == {"problems": []}


def test_every_problem_is_reported_at_once() -> None:
    raw = scenario(
        ring("mgr", "12345678"),  # invalid element
        {"id": "x", "type": "teleport"},  # unknown type
        hangup(),
        hangup(),  # duplicate id
        {"id": "out", "type": "external_number", "number": "+7000", "limit_wait": True, "wait_seconds": 2},
        arrows=[arrow("start", "out"), arrow("out", "ghost", "no_answer"), arrow("bye", "out")],
        owner="me",
    )

    report = validate(raw)

    assert codes(report) >= {
        "unknown_field",
        "invalid_element",
        "unknown_element_type",
        "duplicate_element_id",
        "unknown_connection_target",
        "exit_on_terminal",
        "wait_out_of_range",
        "invalid_phone_number",
    }
    assert report.scenario is None
    assert not report.ok


def test_graph_errors_still_return_the_parsed_scenario() -> None:
    report = validate(scenario(hangup(), hangup("island")))

    assert report.ok  # unreachable is a warning
    assert [p.code for p in report.warnings] == ["unreachable_element"]
    assert report.scenario is not None
    assert [e.id for e in report.scenario.elements] == ["start", "bye", "island"]


def test_element_field_errors_are_located_by_dotted_path() -> None:
    menu = {"id": "menu", "type": "ivr_menu", "prompt": {"voice": "alice"}, "timeout_seconds": 0}

    report = validate(scenario(menu))

    fields = {p.field for p in report.problems if p.code == "invalid_element"}
    assert fields == {"prompt", "timeout_seconds"}
    assert all(p.element_id == "menu" and p.element_index == 1 for p in report.errors)


def test_elements_without_an_id_are_located_by_index() -> None:
    report = validate({"name": "Test", "elements": [START, {"type": "hangup"}, 42]})

    problems = [p for p in report.problems if p.code == "invalid_element"]
    assert [(p.element_index, p.element_id, p.field) for p in problems] == [(1, None, "id"), (2, None, None)]


def test_arrows_to_a_broken_element_are_not_reported_twice() -> None:
    report = validate(scenario(ring("mgr", "abc")))

    assert codes(report) == {"invalid_element"}


def test_a_broken_entry_is_not_reported_as_missing() -> None:
    report = validate({"name": "Test", "elements": [{"id": "start", "type": "incoming_call", "colour": "red"}]})

    assert codes(report) == {"invalid_element"}
    assert find(report, "invalid_element").field == "colour"


def test_missing_elements_reports_only_that() -> None:
    report = validate({"name": "Test"})

    assert [(p.code, p.field) for p in report.problems] == [("missing_field", "elements")]


def test_size_limits_stop_before_the_expensive_checks() -> None:
    raw = scenario(*[ring(f"r{i}", "abc") for i in range(MAX_ELEMENTS)])

    report = validate(raw)

    assert codes(report) == {"too_many_elements"}


def test_never_raises_even_if_a_check_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_check(graph: object, problems: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(graph_checks, "GRAPH_CHECKS", (*graph_checks.GRAPH_CHECKS, broken_check))

    report = validate(realistic())

    assert [p.code for p in report.problems] == ["internal_error"]
    assert report.scenario is None


# ------------------------------------------------------------------------------------------------- the seed's rules


def test_without_limit_wait_the_subscriber_ends_the_route() -> None:
    report = validate(scenario(ring("mgr"), hangup(), arrows=[arrow("start", "mgr"), arrow("mgr", "bye", "no_answer")]))

    problem = find(report, "exit_on_terminal")
    assert "limit_wait" in problem.message
    assert "unconnected_exit" not in codes(report)


def test_limited_wait_continues_and_busy_falls_back_to_no_answer() -> None:
    report = validate(
        scenario(
            ring("mgr", limit_wait=True, wait_seconds=20),
            hangup(),
            arrows=[arrow("start", "mgr"), arrow("mgr", "bye")],  # default exit: no_answer
        )
    )

    assert report.problems == []


def test_busy_alone_leaves_no_answer_unconnected() -> None:
    report = validate(
        scenario(
            ring("mgr", limit_wait=True, wait_seconds=20),
            hangup(),
            arrows=[arrow("start", "mgr"), arrow("mgr", "bye", "busy")],
        )
    )

    problem = find(report, "unconnected_exit")
    assert "'no_answer'" in problem.message
    assert "'mgr'" in problem.message


def test_group_without_limit_ends_the_route() -> None:
    team = {"id": "team", "type": "group", "members": ["101"], "limit_wait": False}

    report = validate(scenario(team, hangup(), arrows=[arrow("start", "team"), arrow("team", "bye")]))

    assert find(report, "exit_on_terminal").element_id == "team"


@pytest.mark.parametrize(("wait", "warned"), [(17, True), (18, False)])
def test_mobile_subscriber_wait_allows_for_the_dial_delay(wait: int, warned: bool) -> None:
    raw = scenario(
        ring("cell", "103", limit_wait=True, wait_seconds=wait),
        hangup(),
        arrows=[arrow("start", "cell"), arrow("cell", "bye")],
    )

    report = validate(raw, DIRECTORY)

    assert ("wait_below_dial_delay" in codes(report)) is warned


def test_dial_delay_comes_from_the_subscriber_override() -> None:
    raw = scenario(
        ring("pbx", "106", limit_wait=True, wait_seconds=30),
        hangup(),
        arrows=[arrow("start", "pbx"), arrow("pbx", "bye")],
    )

    problem = find(validate(raw, DIRECTORY), "wait_below_dial_delay")

    assert "35" in problem.message  # 25 s override + 10 s margin


def test_internal_subscribers_have_no_dial_delay_warning() -> None:
    raw = scenario(
        ring("mgr", "101", limit_wait=True, wait_seconds=5),
        hangup(),
        arrows=[arrow("start", "mgr"), arrow("mgr", "bye")],
    )

    assert validate(raw, DIRECTORY).problems == []


def test_external_number_dial_delay_needs_no_directory() -> None:
    satellite = {
        "id": "sat",
        "type": "external_number",
        "number": "+881612345678",
        "limit_wait": True,
        "wait_seconds": 25,
    }

    report = validate(scenario(satellite, hangup(), arrows=[arrow("start", "sat"), arrow("sat", "bye")]))

    problem = find(report, "wait_below_dial_delay")
    assert (problem.element_id, problem.field) == ("sat", "number")


def test_group_checks_each_member() -> None:
    team = {"id": "team", "type": "group", "members": ["101", "103", "105"], "wait_seconds": 20}

    report = validate(scenario(team, hangup(), arrows=[arrow("start", "team"), arrow("team", "bye")]), DIRECTORY)

    assert [p.field for p in report.problems if p.code == "wait_below_dial_delay"] == [
        "members.2"
    ]  # satellite: 20 + 10


def test_waiting_elements_break_loops() -> None:
    raw = scenario(
        {"id": "menu", "type": "ivr_menu", "prompt": PROMPT},
        {"id": "again", "type": "greeting", "prompt": PROMPT},
        hangup(),
        arrows=[
            arrow("start", "menu"),
            arrow("menu", "again", "1"),
            arrow("again", "menu"),
            arrow("menu", "bye", "timeout"),
            arrow("menu", "bye", "invalid"),
        ],
    )

    assert validate(raw).problems == []


def test_an_instant_self_loop_is_endless() -> None:
    raw = scenario(
        {"id": "vip", "type": "caller_list", "list_id": "vip"},
        hangup(),
        arrows=[arrow("start", "vip"), arrow("vip", "vip", "no_match"), arrow("vip", "bye", "match")],
    )

    problem = find(validate(raw), "endless_loop")

    assert problem.element_id == "vip"
    assert "itself" in problem.message


def crm_loop(loop_exit: str) -> Raw:
    """External routing whose `loop_exit` leads back to it through a schedule; the other exit hangs up."""
    other = "no_answer" if loop_exit == "not_found" else "not_found"
    return scenario(
        {"id": "crm", "type": "external_routing", "url": "https://crm.example/route", "wait_seconds": 20},
        {"id": "hours", "type": "schedule", "schedule_id": "office"},
        hangup(),
        arrows=[
            arrow("start", "crm"),
            arrow("crm", "hours", loop_exit),
            arrow("crm", "bye", other),
            arrow("hours", "crm", "open"),
            arrow("hours", "crm", "closed"),
        ],
    )


def test_a_loop_through_the_crm_lookup_alone_is_an_instant_loop() -> None:
    problem = find(validate(crm_loop("not_found")), "instant_loop")

    assert (problem.severity, problem.element_id) == ("error", "crm")
    assert "'crm' by not_found" in problem.message
    assert "endless_loop" not in codes(validate(crm_loop("not_found")))


def test_a_loop_through_the_crm_ring_waits_for_telephony() -> None:
    assert validate(crm_loop("no_answer")).problems == []


def test_long_instant_cycle_is_found_without_recursion() -> None:
    count = 900
    checks = [{"id": f"c{i}", "type": "caller_list", "list_id": "vip"} for i in range(count)]
    arrows = [arrow("start", "c0")]
    for i in range(count):
        arrows.append(arrow(f"c{i}", f"c{(i + 1) % count}", "match"))
        arrows.append(arrow(f"c{i}", f"c{(i + 1) % count}", "no_match"))

    report = validate(scenario(*checks, arrows=arrows))

    loops = [p for p in report.problems if p.code == "endless_loop"]
    assert len(loops) == 1
    assert codes(report) == {"endless_loop"}


def test_unconnected_digits_are_fine_but_timeout_and_invalid_end_the_call() -> None:
    menu = {"id": "menu", "type": "ivr_menu", "prompt": PROMPT}

    report = validate(scenario(menu, hangup(), arrows=[arrow("start", "menu"), arrow("menu", "bye", "1")]))

    unconnected = sorted(p.message.split("'")[1] for p in report.problems if p.code == "unconnected_exit")
    assert unconnected == ["invalid", "timeout"]
    assert "ivr_without_choices" not in codes(report)


def test_sip_uri_external_number_is_accepted() -> None:
    trunk = {
        "id": "trunk",
        "type": "external_number",
        "sip_uri": "sip:desk@pbx.example",
        "limit_wait": True,
        "wait_seconds": 20,
    }

    report = validate(scenario(trunk, hangup(), arrows=[arrow("start", "trunk"), arrow("trunk", "bye")]))

    assert report.problems == []


def test_directory_checks_are_skipped_without_a_directory() -> None:
    raw = scenario(ring("mgr", "999"), {"id": "fax", "type": "fax", "extension": "998"}, arrows=[arrow("start", "mgr")])

    assert "unknown_extension" not in codes(validate(raw))
    assert [p.element_id for p in validate(raw, DIRECTORY).problems if p.code == "unknown_extension"] == ["mgr", "fax"]


def test_only_operators_unknown_to_the_carrier_data_are_flagged() -> None:
    lists = Directory.of(
        caller_lists=[
            CallerList(
                id="ops",
                name="Operators",
                patterns=[
                    CallerPattern(kind="operator", value="megafon"),
                    CallerPattern(kind="operator", value="Nope"),
                ],
            )
        ]
    )
    built = scenario(
        {"id": "ops", "type": "caller_list", "list_id": "ops"},
        hangup(),
        arrows=[arrow("start", "ops"), arrow("ops", "bye", "match"), arrow("ops", "bye", "no_match")],
    )
    flagged = [p.message for p in validate(built, lists).problems if p.code == "unknown_operator"]
    assert len(flagged) == 1
    assert "'Nope'" in flagged[0]


# ------------------------------------------------------------------------------------------------ IVR direct dial


def test_a_direct_dial_menu_needs_no_key_and_fits_the_directory() -> None:
    raw = scenario(direct_dial_menu(direct_dial_wait_seconds=25), hangup(), arrows=menu_arrows())

    assert validate(raw, DIRECTORY).problems == []


def test_direct_dial_max_digits_names_the_extensions_it_cannot_reach() -> None:
    problem = find(validate(scenario(direct_dial_menu(max_digits=2), hangup(), arrows=menu_arrows()), DIRECTORY),
                   "direct_dial_max_digits")  # fmt: skip

    assert "extensions 101, 102, 103, 105, 106 cannot" in problem.message  # not 104: disabled, never dialled
    assert "set max_digits to 3" in problem.message


def test_direct_dial_with_one_key_is_flagged_without_a_directory() -> None:
    report = validate(scenario(direct_dial_menu(max_digits=1), hangup(), arrows=menu_arrows()))

    assert find(report, "direct_dial_max_digits").field == "max_digits"


def test_one_digit_extensions_fit_a_one_key_direct_dial() -> None:
    only_short = Directory.of([Subscriber(extension="5", name="Reception")])
    report = validate(scenario(direct_dial_menu(max_digits=1), hangup(), arrows=menu_arrows()), only_short)

    assert report.problems == []


def test_a_no_answer_arrow_exists_only_on_a_direct_dial_menu() -> None:
    plain = {"id": "menu", "type": "ivr_menu", "prompt": PROMPT}
    dial_arrows = [*menu_arrows(), arrow("menu", "bye", "no_answer")]

    assert find(validate(scenario(plain, hangup(), arrows=dial_arrows)), "invalid_exit").connection_index == 3
    assert validate(scenario(direct_dial_menu(), hangup(), arrows=dial_arrows)).problems == []


@pytest.mark.parametrize(("fields", "code"), [
    ({"direct_dial_wait_seconds": 3}, "wait_out_of_range"),
    ({"direct_dial": False, "max_digits": 1, "direct_dial_wait_seconds": 20}, "wait_ignored"),
])  # fmt: skip
def test_the_direct_dial_wait_follows_the_ring_rules(fields: Raw, code: str) -> None:
    raw = scenario(direct_dial_menu(**fields), hangup(), arrows=[*menu_arrows(), arrow("menu", "bye", "1")])

    problem = find(validate(raw), code)
    assert (problem.element_id, problem.field) == ("menu", "direct_dial_wait_seconds")


def test_max_digits_is_capped_at_the_longest_extension() -> None:
    report = validate(scenario(direct_dial_menu(max_digits=7), hangup(), arrows=menu_arrows()))

    assert find(report, "invalid_element").field == "max_digits"
