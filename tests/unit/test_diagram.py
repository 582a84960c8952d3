"""Mermaid diagrams: shapes by element type, labels, Mermaid-safe ids, escaping, highlighted simulation paths."""

import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from vpbx.domain.diagram import END_NODE, node_id, to_mermaid
from vpbx.domain.scenario import Scenario

NODE_LINE = re.compile(r"^    (?P<id>\w+)(?P<open>[(\[{>]+)\"(?P<label>[^\"]*)\"(?P<close>[)\]}]+)$")
EDGE_LINE = re.compile(r"^    (?P<src>\w+) (?P<arrow>-->|-\.->)(?:\|\"(?P<label>[^\"]*)\"\|)? (?P<dst>\w+)$")


def scenario(elements: list[dict[str, Any]], connections: list[dict[str, Any]] | None = None) -> Scenario:
    return Scenario.model_validate({"name": "Test", "elements": elements, "connections": connections or []})


def office_hours() -> Scenario:
    return scenario(
        [
            {"id": "start", "type": "incoming_call"},
            {"id": "hours", "type": "schedule", "schedule_id": "office"},
            {"id": "mgr", "type": "internal_subscriber", "extension": "101", "limit_wait": True, "wait_seconds": 20},
            {"id": "sales", "type": "group", "members": ["102", "103"], "wait_seconds": 30},
            {"id": "vm", "type": "voicemail", "mailbox": "101"},
        ],
        [
            {"from": "start", "to": "hours"},
            {"from": "hours", "exit": "open", "to": "mgr"},
            {"from": "hours", "exit": "closed", "to": "vm"},
            {"from": "mgr", "exit": "no_answer", "to": "sales"},
            {"from": "sales", "exit": "no_answer", "to": "vm"},
        ],
    )


def nodes(text: str) -> dict[str, re.Match[str]]:
    found = {}
    for line in text.splitlines():
        match = NODE_LINE.match(line)
        if match:
            found[match["id"]] = match
    return found


def edges(text: str) -> list[re.Match[str]]:
    return [m for m in (EDGE_LINE.match(line) for line in text.splitlines()) if m]


def test_starts_with_a_top_down_flowchart_and_draws_every_element_once() -> None:
    text = to_mermaid(office_hours())

    assert text.splitlines()[0] == "flowchart TD"
    assert set(nodes(text)) == {node_id(i) for i in ("start", "hours", "mgr", "sales", "vm")}


def test_shapes_follow_the_element_type() -> None:
    text = to_mermaid(
        scenario(
            [
                {"id": "start", "type": "incoming_call"},
                {"id": "hours", "type": "schedule", "schedule_id": "office"},
                {"id": "vip", "type": "caller_list", "list_id": "vip"},
                {"id": "menu", "type": "ivr_menu", "prompt": {"text": "Press 1"}},
                {"id": "mgr", "type": "internal_subscriber", "extension": "101"},
                {"id": "vm", "type": "voicemail", "mailbox": "101"},
                {"id": "fax", "type": "fax", "extension": "150"},
                {"id": "bye", "type": "hangup"},
                {"id": "hello", "type": "greeting", "prompt": {"text": "Hi"}},
                {"id": "crm", "type": "external_routing", "url": "https://crm.example.com/route"},
            ]
        )
    )
    shapes = {element: (m["open"], m["close"]) for element, m in nodes(text).items()}

    assert shapes[node_id("start")] == ("([", "])")
    assert shapes[node_id("hours")] == shapes[node_id("vip")] == shapes[node_id("menu")] == ("{", "}")
    assert shapes[node_id("mgr")] == ("[", "]")
    assert shapes[node_id("vm")] == shapes[node_id("fax")] == ("[[", "]]")
    assert shapes[node_id("bye")] == ("(((", ")))")
    assert shapes[node_id("hello")] == (">", "]")
    assert shapes[node_id("crm")] == ("{{", "}}")


def test_labels_carry_the_key_fields() -> None:
    labels = {k: m["label"] for k, m in nodes(to_mermaid(office_hours())).items()}

    assert labels[node_id("mgr")] == "mgr<br/>Subscriber 101 (20 s)"
    assert labels[node_id("sales")] == "sales<br/>Group 102/103, simultaneous (30 s)"
    assert labels[node_id("hours")] == "hours<br/>Schedule office"
    assert labels[node_id("vm")] == "vm<br/>Voicemail 101"


def test_a_menu_label_says_how_many_keys_and_direct_dial() -> None:
    plain = {"id": "menu", "type": "ivr_menu", "prompt": {"text": "Press 1"}}
    dial = {**plain, "id": "dial", "max_digits": 3, "direct_dial": True}
    labels = {k: m["label"] for k, m in nodes(to_mermaid(scenario([plain, dial]))).items()}

    assert labels[node_id("menu")] == "menu<br/>Menu: Press 1 (5 s, 2 retries)"
    assert labels[node_id("dial")] == "dial<br/>Menu: Press 1 (5 s, 2 retries, up to 3 digits, direct dial)"


def test_an_element_without_limit_wait_is_labelled_as_ringing_without_limit() -> None:
    text = to_mermaid(
        scenario(
            [
                {"id": "start", "type": "incoming_call"},
                {"id": "senior", "type": "internal_subscriber", "extension": "102", "label": "Senior"},
            ],
            [{"from": "start", "to": "senior"}],
        )
    )

    assert nodes(text)[node_id("senior")]["label"] == "Senior<br/>Subscriber 102 (no limit)"


def test_exits_label_edges_and_a_connection_without_exit_shows_the_default_exit() -> None:
    labelled = [(m["src"], m["label"], m["dst"]) for m in edges(to_mermaid(office_hours()))]

    assert labelled == [
        (node_id("start"), "next", node_id("hours")),
        (node_id("hours"), "open", node_id("mgr")),
        (node_id("hours"), "closed", node_id("vm")),
        (node_id("mgr"), "no_answer", node_id("sales")),
        (node_id("sales"), "no_answer", node_id("vm")),
    ]


def test_unconnected_required_exits_are_dashed_edges_to_the_end_node() -> None:
    text = to_mermaid(
        scenario(
            [
                {"id": "start", "type": "incoming_call"},
                {"id": "mgr", "type": "internal_subscriber", "extension": "101", "limit_wait": True},
            ],
            [{"from": "start", "to": "mgr"}],
        )
    )
    dashed = [(m["src"], m["label"], m["dst"]) for m in edges(text) if m["arrow"] == "-.->"]

    assert dashed == [(node_id("mgr"), "no_answer", END_NODE)]  # busy/unavailable fall back, so not drawn
    assert f'{END_NODE}(("end"))' in text


def test_a_connection_to_an_unknown_element_draws_a_missing_node() -> None:
    text = to_mermaid(scenario([{"id": "start", "type": "incoming_call"}], [{"from": "start", "to": "ghost"}]))

    assert nodes(text)[node_id("ghost")]["label"] == "missing: ghost"
    assert f"class {node_id('ghost')} missing" in text


def test_node_ids_are_mermaid_safe_distinct_and_never_a_keyword() -> None:
    ids = ["a.b", "a-b", "a_b", "a__b", "ab", "end", "graph", "1st"]
    mapped = [node_id(i) for i in ids]

    assert len(set(mapped)) == len(ids)
    assert all(re.fullmatch(r"n_[A-Za-z0-9_]+", m) for m in mapped)


def test_label_text_is_escaped_so_it_cannot_break_out_of_the_label() -> None:
    text = to_mermaid(
        scenario(
            [
                {"id": "start", "type": "incoming_call", "label": 'Say "hi" [now] #1 <b>x</b> {a} | `b`;'},
                {"id": "bye", "type": "hangup"},
            ],
            [{"from": "start", "to": "bye"}],
        )
    )
    label = nodes(text)[node_id("start")]["label"]

    assert label.split("<br/>")[0] == (
        "Say #quot;hi#quot; #91;now#93; #35;1 #lt;b#gt;x#lt;/b#gt; #123;a#125; #124; #96;b#96;#59;"
    )


@given(st.text(max_size=60))
def test_any_label_text_renders_as_one_well_formed_node_line(text: str) -> None:
    diagram = to_mermaid(scenario([{"id": "start", "type": "incoming_call", "label": text or None}]))
    node_lines = [line for line in diagram.splitlines()[1:] if line.startswith(f"    {node_id('start')}(")]

    assert len(node_lines) == 1
    match = NODE_LINE.match(node_lines[0])
    assert match is not None
    assert not set(match["label"].replace("<br/>", "")) & set('"[]{}<>|`')


def test_highlight_marks_visited_nodes_and_the_edges_between_them() -> None:
    text = to_mermaid(office_hours(), highlight_path=["start", "hours", "mgr", "sales", "vm"])
    edge_list = [(m["src"], m["dst"]) for m in edges(text)]
    link_style = next(line for line in text.splitlines() if line.strip().startswith("linkStyle"))
    highlighted = [int(i) for i in link_style.split()[1].split(",")]

    assert "classDef visited" in text
    assert f"class {','.join(node_id(i) for i in ('start', 'hours', 'mgr', 'sales', 'vm'))} visited" in text
    assert [edge_list[i] for i in highlighted] == [
        (node_id("start"), node_id("hours")),
        (node_id("hours"), node_id("mgr")),
        (node_id("mgr"), node_id("sales")),
        (node_id("sales"), node_id("vm")),
    ]


def test_the_closed_branch_highlights_only_its_own_edges() -> None:
    text = to_mermaid(office_hours(), highlight_path=["start", "hours", "vm"])
    link_style = next(line for line in text.splitlines() if line.strip().startswith("linkStyle"))

    assert link_style.split()[1] == "0,2"
    assert node_id("mgr") not in next(line for line in text.splitlines() if line.strip().startswith("class "))


def test_without_a_path_nothing_is_highlighted_and_unknown_path_ids_are_ignored() -> None:
    assert "visited" not in to_mermaid(office_hours())
    assert "visited" not in to_mermaid(office_hours(), highlight_path=["nope"])


def test_output_is_deterministic() -> None:
    first = to_mermaid(office_hours(), highlight_path=["start", "hours", "vm"])
    again = to_mermaid(Scenario.model_validate(office_hours().dump()), highlight_path=["start", "hours", "vm"])

    assert first == again
    assert first.endswith("\n")
