"""A call scenario as clients edit it: elements joined by connections (DESIGN.md §2, the public contract).

The element types live in vpbx.domain.elements (one module per family); this module re-exports them, with the
`Element` union, so that importing `Scenario`, `Element` or any element class from here keeps working.
"""

from pydantic import Field

from vpbx.domain.base import Name, ResourceId, StrictModel
from vpbx.domain.elements import registry
from vpbx.domain.elements.base import (
    DEFAULT_WAIT_SECONDS,
    DIGIT_EXITS,
    MAX_RING_SECONDS,
    MAX_WAIT_SECONDS,
    MIN_WAIT_SECONDS,
    NO_REFERENCES,
    ElementBase,
    ElementId,
    Position,
    Prompt,
    References,
)
from vpbx.domain.elements.registry import *  # noqa: F403  (re-exports the element classes, Element, ELEMENT_TYPES)
from vpbx.domain.elements.registry import Element

__all__ = [
    "DEFAULT_WAIT_SECONDS",
    "DIGIT_EXITS",
    "MAX_CONNECTIONS",
    "MAX_ELEMENTS",
    "MAX_RING_SECONDS",
    "MAX_SERIALIZED_BYTES",
    "MAX_WAIT_SECONDS",
    "MIN_WAIT_SECONDS",
    "Connection",
    "ElementBase",
    "ElementId",
    "Position",
    "Prompt",
    "References",
    "Scenario",
    "ScenarioId",
    "exit_of",
    "references_of",
]
__all__ += registry.__all__

MAX_ELEMENTS = 1_000
MAX_CONNECTIONS = 4_000
MAX_SERIALIZED_BYTES = 256 * 1024


class Connection(StrictModel):
    from_: ElementId = Field(alias="from")
    to: ElementId
    exit: str | None = Field(default=None, max_length=16)

    model_config = StrictModel.model_config | {"populate_by_name": True, "serialize_by_alias": True}


class Scenario(StrictModel):
    """A call scenario as edited by clients. Structural limits are bounded here; graph rules live in validation."""

    name: Name
    description: str | None = Field(default=None, max_length=2000)
    elements: list[Element] = Field(max_length=MAX_ELEMENTS)
    connections: list[Connection] = Field(default_factory=list, max_length=MAX_CONNECTIONS)

    def element(self, element_id: str) -> ElementBase | None:
        return next((e for e in self.elements if e.id == element_id), None)

    def dump(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def references_of(scenario: Scenario) -> References:
    """The directory objects a scenario names (each element says what it names)."""
    references = NO_REFERENCES
    for element in scenario.elements:
        references |= element.references()
    return references


def exit_of(connection: Connection, element: ElementBase) -> str | None:
    """The exit a connection leaves by: its own, or the element's default; None when the element is terminal."""
    if connection.exit is not None:
        return connection.exit
    exits = element.exits()
    return exits[0] if exits else None


ScenarioId = ResourceId
