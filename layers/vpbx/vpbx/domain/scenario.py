"""The scenario graph: element types, their exits, connections (DESIGN.md §2, the public contract)."""

from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints, model_validator

from vpbx.domain.base import Extension, Name, ResourceId, StrictModel

MAX_ELEMENTS = 1_000
MAX_CONNECTIONS = 4_000
MAX_SERIALIZED_BYTES = 256 * 1024
MIN_WAIT_SECONDS = 5
MAX_WAIT_SECONDS = 300
DEFAULT_WAIT_SECONDS = 20  # a ring that limits the wait but names no duration (validation warns)
MAX_RING_SECONDS = 3_600  # the model accepts up to this; validation enforces MIN..MAX_WAIT_SECONDS

ElementId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}$")]
DIGIT_EXITS: tuple[str, ...] = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#")


class Position(StrictModel):
    x: float
    y: float


class Prompt(StrictModel):
    """What to play: synthesized `text` in a `voice`, or a recorded `audio_url`."""

    text: str | None = Field(default=None, max_length=2000)
    voice: str | None = Field(default=None, max_length=64)
    audio_url: str | None = Field(default=None, max_length=1024, pattern=r"^https://")

    @model_validator(mode="after")
    def _text_or_audio(self) -> "Prompt":
        if bool(self.text) == bool(self.audio_url):
            raise ValueError("a prompt has either text (with an optional voice) or audio_url")
        return self


class ElementBase(StrictModel):
    id: ElementId
    position: Position | None = None
    label: str | None = Field(default=None, max_length=200)

    # Catalogue facts, per type. `waits` means the element hands control to telephony or the caller, so a cycle
    # through it advances real time and cannot spin.
    waits: ClassVar[bool] = False

    def exits(self) -> tuple[str, ...]:
        """The exits this element offers; the first is the default. Empty means terminal."""
        return ()

    def optional_exits(self) -> tuple[str, ...]:
        """Exits that may be left unconnected without a warning (they fall back to the default exit)."""
        return ()

    @property
    def is_terminal(self) -> bool:
        return not self.exits()


class IncomingCall(ElementBase):
    type: Literal["incoming_call"]

    def exits(self) -> tuple[str, ...]:
        return ("next",)


class _Ringing(ElementBase):
    """An element that rings; without `limit_wait` it rings until answered and ends the route (the seed's rule)."""

    limit_wait: bool = False
    wait_seconds: int | None = Field(default=None, ge=0, le=MAX_RING_SECONDS)
    waits: ClassVar[bool] = True

    def exits(self) -> tuple[str, ...]:
        return ("no_answer", "busy", "unavailable") if self.limit_wait else ()

    def optional_exits(self) -> tuple[str, ...]:
        return ("busy", "unavailable")


class InternalSubscriber(_Ringing):
    type: Literal["internal_subscriber"]
    extension: Extension


class ExternalNumber(_Ringing):
    type: Literal["external_number"]
    number: str | None = Field(default=None, max_length=32)
    sip_uri: str | None = Field(default=None, max_length=256)

    @model_validator(mode="after")
    def _number_or_uri(self) -> "ExternalNumber":
        if bool(self.number) == bool(self.sip_uri):
            raise ValueError("an external_number has either number (E.164) or sip_uri")
        return self


class Group(ElementBase):
    type: Literal["group"]
    members: list[Extension] = Field(min_length=1, max_length=50)
    strategy: Literal["simultaneous", "sequential", "random"] = "simultaneous"
    limit_wait: bool = True
    wait_seconds: int | None = Field(default=None, ge=0, le=MAX_RING_SECONDS)
    waits: ClassVar[bool] = True

    def exits(self) -> tuple[str, ...]:
        return ("no_answer",) if self.limit_wait else ()


class ScheduleCheck(ElementBase):
    type: Literal["schedule"]
    schedule_id: ResourceId

    def exits(self) -> tuple[str, ...]:
        return ("open", "closed")


class CallerListCheck(ElementBase):
    type: Literal["caller_list"]
    list_id: ResourceId

    def exits(self) -> tuple[str, ...]:
        return ("match", "no_match")


class Greeting(ElementBase):
    type: Literal["greeting"]
    prompt: Prompt
    waits: ClassVar[bool] = True

    def exits(self) -> tuple[str, ...]:
        return ("next",)


class IvrMenu(ElementBase):
    type: Literal["ivr_menu"]
    prompt: Prompt
    timeout_seconds: int = Field(default=5, ge=1, le=60)
    max_retries: int = Field(default=2, ge=0, le=10)
    max_digits: int = Field(default=1, ge=1, le=1)
    invalid_prompt: Prompt | None = None
    waits: ClassVar[bool] = True

    def exits(self) -> tuple[str, ...]:
        return (*DIGIT_EXITS, "timeout", "invalid")

    def optional_exits(self) -> tuple[str, ...]:
        # A menu rarely uses every key; unconnected digits count as invalid input, not as the end of the call.
        return DIGIT_EXITS


class ExternalRouting(ElementBase):
    """Asks the tenant's CRM which extension should take the caller, then rings it."""

    type: Literal["external_routing"]
    url: str = Field(max_length=1024, pattern=r"^https?://")
    timeout_seconds: float = Field(default=3, gt=0, le=5)
    wait_seconds: int | None = Field(default=None, ge=0, le=MAX_RING_SECONDS)
    waits: ClassVar[bool] = True

    def exits(self) -> tuple[str, ...]:
        return ("no_answer", "not_found")


class Voicemail(ElementBase):
    type: Literal["voicemail"]
    mailbox: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    waits: ClassVar[bool] = True


class Fax(ElementBase):
    type: Literal["fax"]
    extension: Extension
    waits: ClassVar[bool] = True


class Hangup(ElementBase):
    type: Literal["hangup"]


Element = Annotated[
    IncomingCall
    | InternalSubscriber
    | ExternalNumber
    | Group
    | ScheduleCheck
    | CallerListCheck
    | Greeting
    | IvrMenu
    | ExternalRouting
    | Voicemail
    | Fax
    | Hangup,
    Field(discriminator="type"),
]
ELEMENT_TYPES: tuple[str, ...] = (
    "incoming_call",
    "internal_subscriber",
    "external_number",
    "group",
    "schedule",
    "caller_list",
    "greeting",
    "ivr_menu",
    "external_routing",
    "voicemail",
    "fax",
    "hangup",
)


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


@dataclass(frozen=True)
class References:
    """The directory objects a scenario names."""

    extensions: frozenset[str] = frozenset()
    schedules: frozenset[str] = frozenset()
    caller_lists: frozenset[str] = frozenset()
    any_extension: bool = False  # external_routing lets the tenant's CRM pick any subscriber at call time


def references_of(scenario: Scenario) -> References:
    extensions: set[str] = set()
    schedules: set[str] = set()
    caller_lists: set[str] = set()
    any_extension = False
    for element in scenario.elements:
        if isinstance(element, InternalSubscriber | Fax):
            extensions.add(element.extension)
        elif isinstance(element, Group):
            extensions.update(element.members)
        elif isinstance(element, ScheduleCheck):
            schedules.add(element.schedule_id)
        elif isinstance(element, CallerListCheck):
            caller_lists.add(element.list_id)
        elif isinstance(element, ExternalRouting):
            any_extension = True
    return References(frozenset(extensions), frozenset(schedules), frozenset(caller_lists), any_extension)


def exit_of(connection: Connection, element: ElementBase) -> str | None:
    """The exit a connection leaves by: its own, or the element's default; None when the element is terminal."""
    if connection.exit is not None:
        return connection.exit
    exits = element.exits()
    return exits[0] if exits else None


ScenarioId = ResourceId
