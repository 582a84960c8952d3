"""Properties: whatever arrives, validate() answers with a report, and analysis copes with what validation parses."""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from vpbx.domain.analysis import analyze
from vpbx.domain.directory import Directory, Schedule, Subscriber
from vpbx.domain.scenario import DIGIT_EXITS, ELEMENT_TYPES
from vpbx.domain.validation import CODES, ValidationReport, validate

DIRECTORY = Directory.of(
    subscribers=[
        Subscriber(extension="101", name="Anna"),
        Subscriber(extension="103", name="Vera", kind="mobile", target="+79161234567"),
        Subscriber(extension="104", name="Gleb", enabled=False),
    ],
    schedules=[Schedule(id="office", name="Office", timezone="Europe/Moscow")],
)

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_like = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30,
)
not_json = st.binary(max_size=10) | st.sets(st.integers(), max_size=3) | st.builds(object) | st.tuples(scalars)

FIELD_NAMES = [
    "id", "type", "extension", "limit_wait", "wait_seconds", "members", "strategy", "schedule_id", "list_id",
    "prompt", "timeout_seconds", "max_retries", "url", "mailbox", "number", "sip_uri", "position", "label",
]  # fmt: skip
ids = st.sampled_from(["start", "a", "b", "c", "d", "e"]) | st.text(max_size=5)
field_values = (
    ids
    | st.sampled_from(ELEMENT_TYPES)
    | st.sampled_from(["101", "103", "104", "999", "+79161234567", "sip:x@y", "https://crm.example", "office"])
    | st.integers(-5, 400)
    | st.booleans()
    | st.lists(st.sampled_from(["101", "103", "104", "1x"]), max_size=3)
    | st.fixed_dictionaries({"text": st.text(max_size=5)})
    | json_like
)
element_like = st.dictionaries(st.sampled_from(FIELD_NAMES), field_values, max_size=6)
connection_like = st.dictionaries(
    st.sampled_from(["from", "to", "exit", "extra"]),
    ids | st.sampled_from(["next", "no_answer", "open", "1"]) | json_like,
)
scenario_like = st.fixed_dictionaries(
    {"elements": st.lists(element_like | json_like, max_size=8)},
    optional={
        "name": st.text(max_size=10) | json_like,
        "connections": st.lists(connection_like | json_like, max_size=10),
    },
)


def valid_elements(element_id: str) -> st.SearchStrategy[dict[str, Any]]:
    prompt = {"text": "Hello"}
    catalogue: list[dict[str, Any]] = [
        {"type": "internal_subscriber", "extension": "101", "limit_wait": True, "wait_seconds": 20},
        {"type": "internal_subscriber", "extension": "103"},
        {"type": "external_number", "number": "+79161234567", "limit_wait": True, "wait_seconds": 12},
        {"type": "group", "members": ["101", "103"], "strategy": "sequential", "wait_seconds": 15},
        {"type": "group", "members": ["104"], "limit_wait": False},
        {"type": "schedule", "schedule_id": "office"},
        {"type": "caller_list", "list_id": "vip"},
        {"type": "greeting", "prompt": prompt},
        {"type": "ivr_menu", "prompt": prompt, "timeout_seconds": 3, "max_retries": 1},
        {"type": "external_routing", "url": "https://crm.example", "wait_seconds": 20},
        {"type": "queue", "queue_id": "support"},
        {"type": "voicemail", "mailbox": "101"},
        {"type": "fax", "extension": "101"},
        {"type": "hangup"},
        {"type": "incoming_call"},
    ]
    return st.sampled_from(catalogue).map(lambda fields: {"id": element_id, **fields})


@st.composite
def random_graphs(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 12))
    element_ids = ["start", *[f"e{i}" for i in range(count)]]
    elements = [{"id": "start", "type": "incoming_call"}] + [draw(valid_elements(i)) for i in element_ids[1:]]
    exits = st.none() | st.sampled_from(["next", "no_answer", "busy", "open", "closed", "match", "no_match", "timeout"])
    arrows = draw(
        st.lists(
            st.tuples(st.sampled_from(element_ids), st.sampled_from(element_ids), exits | st.sampled_from(DIGIT_EXITS)),
            max_size=count * 3,
        )
    )
    connections = [{"from": a, "to": b, **({"exit": e} if e is not None else {})} for a, b, e in arrows]
    return {"name": "Random", "elements": elements, "connections": connections}


def assert_sound(report: ValidationReport) -> None:
    assert isinstance(report, ValidationReport)
    assert all(problem.code in CODES for problem in report.problems)
    assert "internal_error" not in {p.code for p in report.problems}, report.problems


@settings(max_examples=300, deadline=None)
@given(json_like | not_json)
def test_garbage_never_raises(raw: object) -> None:
    assert_sound(validate(raw))


@settings(max_examples=300, deadline=None)
@given(scenario_like)
def test_scenario_shaped_garbage_is_reported_not_raised(raw: dict[str, Any]) -> None:
    report = validate(raw, DIRECTORY)

    assert_sound(report)
    assert report.problems or report.scenario is not None


@settings(max_examples=300, deadline=None)
@given(random_graphs())
def test_random_graphs_validate_and_analyse(raw: dict[str, Any]) -> None:
    report = validate(raw, DIRECTORY)

    assert_sound(report)
    assert report.scenario is not None  # every element and arrow is well-formed; only the graph can be wrong
    assert validate(report.scenario, DIRECTORY).problems == report.problems
    analysis = analyze(report.scenario, DIRECTORY)
    assert analysis.lines()
    if report.ok:
        assert analysis.route_ends
