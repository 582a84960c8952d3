"""The element catalogue is complete: every type in the Element union defines every behaviour the domain asks of it
(validation, executor node, diagram, analysis, simulation naming, references), so a forgotten one fails here instead
of falling back silently to a default."""

from typing import ClassVar, Literal

import pytest
from vpbx.domain.directory import Directory, Subscriber
from vpbx.domain.elements.base import BEHAVIOURS, CheckContext, ElementBase, References
from vpbx.domain.elements.registry import ELEMENT_CLASSES, ELEMENT_TYPES, missing_behaviours
from vpbx.domain.elements.steps import CompileContext, Node
from vpbx.domain.scenario import Element, Scenario

SAMPLES: dict[str, dict[str, object]] = {
    "incoming_call": {},
    "internal_subscriber": {"extension": "101", "limit_wait": True, "wait_seconds": 20},
    "external_number": {"number": "+74951234567", "limit_wait": True, "wait_seconds": 30},
    "group": {"members": ["101", "102"], "wait_seconds": 20},
    "schedule": {"schedule_id": "office"},
    "caller_list": {"list_id": "vip"},
    "greeting": {"prompt": {"text": "Hello"}},
    "ivr_menu": {"prompt": {"text": "Press 1"}},
    "queue": {"queue_id": "support"},
    "external_routing": {"url": "https://crm.example/route", "wait_seconds": 20},
    "voicemail": {"mailbox": "101"},
    "fax": {"extension": "101"},
    "hangup": {},
}


def assert_complete(classes: dict[str, type[ElementBase]]) -> None:
    gaps = {name: missing for name, cls in classes.items() if (missing := missing_behaviours(cls))}
    assert not gaps, "element types lacking behaviours: " + "; ".join(
        f"{name} lacks {', '.join(missing)}" for name, missing in gaps.items()
    )


def test_every_element_type_defines_every_behaviour() -> None:
    assert_complete(ELEMENT_CLASSES)


def test_the_type_list_is_derived_from_the_union() -> None:
    assert tuple(ELEMENT_CLASSES) == ELEMENT_TYPES
    assert set(ELEMENT_TYPES) == set(SAMPLES)  # the contract's thirteen types (DESIGN.md §2)
    assert Scenario.model_fields["elements"].annotation == list[Element]


class _Dummy(ElementBase):
    """A new element type whose author wrote the model, a check and a shape, and forgot the rest."""

    type: Literal["dummy"]
    shape: ClassVar[tuple[str, str]] = ("[", "]")

    def check(self, context: CheckContext) -> None:
        pass


def test_a_type_with_missing_behaviours_fails_naming_what_is_missing() -> None:
    assert missing_behaviours(_Dummy) == ["compile", "describe", "worst_case_seconds", "awaits", "references"]

    with pytest.raises(AssertionError) as failure:
        assert_complete({**ELEMENT_CLASSES, "dummy": _Dummy})

    assert "dummy lacks compile, describe, worst_case_seconds, awaits, references" in str(failure.value)


class _Context:
    directory = Directory.of([Subscriber(extension="101", name="A"), Subscriber(extension="102", name="B")])

    def used_exits(self, element_id: str) -> set[str]:
        return set()

    def add(self, code: str, message: str, *, element_id: str | None = None, field: str | None = None) -> None:
        pass


@pytest.mark.parametrize("element_type", ELEMENT_TYPES)
def test_every_behaviour_runs_on_a_sample_of_each_type(element_type: str) -> None:
    element = ELEMENT_CLASSES[element_type].model_validate({"id": "e", "type": element_type, **SAMPLES[element_type]})
    directory = _Context.directory

    element.check(_Context())
    assert isinstance(element.compile(CompileContext(directory, None, {})), Node)
    assert element.describe()
    assert len(element.shape) == 2
    assert all(element.worst_case_seconds(name, directory) >= 0 for name in element.exits() or ("",))
    assert element.awaits in (None, "ring", "play", "collect", "enqueue")
    assert isinstance(element.references(), References)
    assert set(BEHAVIOURS) <= set(dir(element))


@pytest.mark.parametrize("element_type", ELEMENT_TYPES)
def test_what_an_element_awaits_comes_first_among_the_actions_it_may_ask_for(element_type: str) -> None:
    element = ELEMENT_CLASSES[element_type].model_validate({"id": "e", "type": element_type, **SAMPLES[element_type]})

    assert element.awaited()[:1] == ((element.awaits,) if element.awaits else ())


def test_a_direct_dial_menu_also_rings_and_may_ring_anyone() -> None:
    menu = ELEMENT_CLASSES["ivr_menu"].model_validate(
        {"id": "e", "type": "ivr_menu", **SAMPLES["ivr_menu"], "max_digits": 3, "direct_dial": True}
    )

    assert menu.awaited() == ("collect", "ring")
    assert "no_answer" in menu.exits()
    assert "no_answer" in menu.optional_exits()
    assert menu.references().any_extension
