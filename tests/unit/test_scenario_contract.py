"""What a client sees of the scenario models, pinned against tempting speed-ups that would change it.

Parsing dominates validate(); the cheaper types one might reach for (a TypedDict or pydantic dataclass `Position`, the
`python-re` regex engine, field constraints instead of the model validators) each change a problem a client gets
back or what an element offers its callers. These tests say which.
"""

import copy
from typing import Any

import pytest
from vpbx.domain.scenario import Connection, Greeting, Position, Scenario
from vpbx.domain.validation import ValidationReport, validate

Raw = dict[str, Any]
Located = tuple[str, str | None, str | None, int | None, int | None, str]


def two_elements(**bye_fields: Any) -> Raw:
    return {
        "name": "Contract",
        "elements": [{"id": "start", "type": "incoming_call"}, {"id": "bye", "type": "hangup", **bye_fields}],
        "connections": [{"from": "start", "to": "bye"}],
    }


def problems(report: ValidationReport) -> list[Located]:
    return [(p.code, p.field, p.element_id, p.element_index, p.connection_index, p.message) for p in report.problems]


ID_PATTERN_MESSAGE = "String should match pattern '^[A-Za-z0-9_][A-Za-z0-9_.\\-]{0,63}$'"


@pytest.mark.parametrize(
    ("position", "field", "detail"),
    [
        ("abc", "position", "'position': Input should be a valid dictionary or instance of Position"),
        ([1, 2], "position", "'position': Input should be a valid dictionary or instance of Position"),
        ({"x": 1, "y": 2, "z": 3}, "position.z", "unknown field 'position.z'"),
        ({"x": 1}, "position.y", "'position.y' is required"),
        (
            {"x": "left", "y": 2},
            "position.x",
            "'position.x': Input should be a valid number, unable to parse string as a number",
        ),
    ],
)
def test_a_bad_position_is_located_with_the_models_wording(position: object, field: str, detail: str) -> None:
    report = validate(two_elements(position=position))

    assert problems(report) == [("invalid_element", field, "bye", 1, None, f"element 'bye' (hangup): {detail}")]


def test_a_position_parses_to_a_frozen_model_and_round_trips() -> None:
    report = validate(two_elements(position={"x": 3, "y": -1.5}))

    assert report.scenario is not None
    bye = report.scenario.elements[1]
    assert isinstance(bye.position, Position)
    assert (bye.position.x, bye.position.y) == (3.0, -1.5)
    assert hash(bye) == hash(copy.deepcopy(bye))  # frozen elements stay hashable, positions included
    assert report.scenario.model_dump(mode="json", exclude_none=True)["elements"][1] == {
        "id": "bye",
        "type": "hangup",
        "position": {"x": 3.0, "y": -1.5},
    }


@pytest.mark.parametrize("element_id", ["bye\n", "", ".bye", "b" * 65, "bye!"])
def test_an_element_id_outside_the_pattern_is_rejected(element_id: str) -> None:
    raw = two_elements(id=element_id)
    raw["connections"] = []

    report = validate(raw)

    assert ("invalid_element", "id", 1, f"element '{element_id}' (hangup): 'id': {ID_PATTERN_MESSAGE}") in [
        (code, field, index, message) for code, field, _, index, _, message in problems(report)
    ]


def test_a_trailing_newline_does_not_pass_the_id_pattern_in_arrows() -> None:
    # Python's `re` lets `$` match before a final newline; pydantic-core's Rust engine (kept) does not.
    raw = two_elements()
    raw["connections"] = [{"from": "start\n", "to": "bye"}]

    report = validate(raw)

    assert ("invalid_connection", "from", None, None, 0, f"connection #0: 'from': {ID_PATTERN_MESSAGE}") in problems(
        report
    )


def test_the_longest_id_is_accepted_everywhere() -> None:
    longest = "b" * 64
    raw = two_elements(id=longest)
    raw["connections"] = [{"from": "start", "to": longest}]

    report = validate(raw)

    assert problems(report) == []
    assert report.scenario is not None
    assert report.scenario.connections == [Connection.model_validate({"from": "start", "to": longest})]


@pytest.mark.parametrize(
    "prompt",
    [{"text": "Hello", "audio_url": "https://cdn.example/a.mp3"}, {"voice": "alice"}, {"text": ""}],
)
def test_a_prompt_needs_exactly_one_of_text_and_audio(prompt: Raw) -> None:
    raw = two_elements()
    raw["elements"].insert(1, {"id": "hello", "type": "greeting", "prompt": prompt})

    report = validate(raw)

    message = "element 'hello' (greeting): 'prompt': a prompt has either text (with an optional voice) or audio_url"
    assert ("invalid_element", "prompt", "hello", 1, None, message) in problems(report)


@pytest.mark.parametrize("target", [{"number": "+74951234567", "sip_uri": "sip:a@b.example"}, {}, {"number": ""}])
def test_an_external_number_needs_exactly_one_target(target: Raw) -> None:
    raw = two_elements()
    raw["elements"].insert(1, {"id": "out", "type": "external_number", **target})

    report = validate(raw)

    message = "element 'out' (external_number): an external_number has either number (E.164) or sip_uri"
    assert ("invalid_element", None, "out", 1, None, message) in problems(report)


def test_the_one_pass_parse_and_the_model_agree_on_a_clean_scenario() -> None:
    raw = two_elements(position={"x": 1, "y": 2})
    raw["elements"].insert(1, {"id": "hello", "type": "greeting", "prompt": {"audio_url": "https://cdn.example/a"}})
    raw["connections"] = [{"from": "start", "to": "hello"}, {"from": "hello", "to": "bye"}]

    report = validate(raw)

    assert report.problems == []
    assert report.scenario == Scenario.model_validate(raw)
    assert isinstance(report.scenario.elements[1], Greeting)
