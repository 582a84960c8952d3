"""The element catalogue as one discriminated union; the list of types and the lookups derive from it.

Adding an element type: write its class in a family module (every behaviour in base.BEHAVIOURS), and add it to
`Element` below. tests/unit/test_element_catalogue.py fails, naming the gap, when a behaviour is missing.
"""

from typing import Annotated, get_args

from pydantic import Field

from vpbx.domain.elements.base import BEHAVIOURS, ElementBase
from vpbx.domain.elements.checks import CallerListCheck, IncomingCall, ScheduleCheck
from vpbx.domain.elements.endpoints import Fax, Hangup, Voicemail
from vpbx.domain.elements.prompts import Greeting, IvrMenu
from vpbx.domain.elements.queueing import QueueElement
from vpbx.domain.elements.ringing import ExternalNumber, Group, InternalSubscriber
from vpbx.domain.elements.routing import ExternalRouting

__all__ = [
    "ELEMENT_CLASSES",
    "ELEMENT_TYPES",
    "ENTRY_TYPE",
    "ENTRY_TYPES",
    "CallerListCheck",
    "Element",
    "ExternalNumber",
    "ExternalRouting",
    "Fax",
    "Greeting",
    "Group",
    "Hangup",
    "IncomingCall",
    "InternalSubscriber",
    "IvrMenu",
    "QueueElement",
    "ScheduleCheck",
    "Voicemail",
    "missing_behaviours",
]

Element = Annotated[
    IncomingCall
    | InternalSubscriber
    | ExternalNumber
    | Group
    | ScheduleCheck
    | CallerListCheck
    | Greeting
    | IvrMenu
    | QueueElement
    | ExternalRouting
    | Voicemail
    | Fax
    | Hangup,
    Field(discriminator="type"),
]


def type_name(element_class: type[ElementBase]) -> str:
    """The `type` tag of an element class: the single value of its `type` literal."""
    (tag,) = get_args(element_class.model_fields["type"].annotation)
    return str(tag)


def _classes(union: object) -> tuple[type[ElementBase], ...]:
    members = get_args(get_args(union)[0])  # Annotated[A | B | …, Field] -> (A, B, …)
    return tuple(members) if members else (get_args(union)[0],)


ELEMENT_CLASSES: dict[str, type[ElementBase]] = {type_name(cls): cls for cls in _classes(Element)}
ELEMENT_TYPES: tuple[str, ...] = tuple(ELEMENT_CLASSES)
ENTRY_TYPES: frozenset[str] = frozenset(name for name, cls in ELEMENT_CLASSES.items() if cls.is_entry)
(ENTRY_TYPE,) = ENTRY_TYPES  # the catalogue has exactly one entry type


def missing_behaviours(element_class: type[ElementBase]) -> list[str]:
    """The behaviours of base.BEHAVIOURS that `element_class` leaves to ElementBase (i.e. does not define)."""
    missing = []
    for name in BEHAVIOURS:
        own = getattr(element_class, name, _MISSING)
        if own is _MISSING or own is getattr(ElementBase, name, _MISSING):
            missing.append(name)
    return missing


_MISSING = object()
