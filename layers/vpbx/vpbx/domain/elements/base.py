"""What every element type shares: the model base and its behaviours, canvas data, prompts, references, and the
protocol through which an element reports validation problems.

An element type is complete when its class provides every name in BEHAVIOURS (the registry test checks it):
validation (`check`), the executor (`compile`), the diagram (`shape`, `describe`), analysis (`worst_case_seconds`),
simulation (`awaits`) and the directory objects it names (`references`).
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, ClassVar, Protocol

from pydantic import Field, StringConstraints, model_validator

from vpbx.domain.base import StrictModel

if TYPE_CHECKING:
    from vpbx.domain.directory import Directory
    from vpbx.domain.elements.steps import CompileContext, Node

MIN_WAIT_SECONDS = 5
MAX_WAIT_SECONDS = 300
DEFAULT_WAIT_SECONDS = 20  # a ring that limits the wait but names no duration (validation warns)
MAX_RING_SECONDS = 3_600  # the model accepts up to this; validation enforces MIN..MAX_WAIT_SECONDS
# A ring must outlast the network's dial delay by this much, or the target barely rings before we give up.
DIAL_DELAY_MARGIN_SECONDS = 10

ElementId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}$")]
DIGIT_EXITS: tuple[str, ...] = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#")

BEHAVIOURS: tuple[str, ...] = ("check", "compile", "shape", "describe", "worst_case_seconds", "awaits", "references")
"""What each element type must provide; ElementBase leaves them undefined (or raising) so a gap is detectable."""


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

    def preview(self, limit: int) -> str:
        if not self.text:
            return f"audio {self.audio_url}"
        return self.text if len(self.text) <= limit else self.text[: limit - 1] + "…"


@dataclass(frozen=True)
class References:
    """The directory objects a scenario (or one element) names."""

    extensions: frozenset[str] = frozenset()
    schedules: frozenset[str] = frozenset()
    caller_lists: frozenset[str] = frozenset()
    any_extension: bool = False  # a CRM lookup or a direct-dial menu may ring any subscriber at call time
    crm_urls: tuple[tuple[str, str | None], ...] = ()  # (element id, url; None: the tenant's) of each CRM lookup
    queues: frozenset[str] = frozenset()  # queue ids; their members' extensions are resolved with them

    def __or__(self, other: "References") -> "References":
        return References(
            self.extensions | other.extensions,
            self.schedules | other.schedules,
            self.caller_lists | other.caller_lists,
            self.any_extension or other.any_extension,
            self.crm_urls + other.crm_urls,
            self.queues | other.queues,
        )


NO_REFERENCES = References()


class CheckContext(Protocol):
    """What an element's `check` may use: the tenant's directory (None: skip directory checks), the exits that
    carry an arrow, and where to report."""

    @property
    def directory(self) -> "Directory | None": ...

    def used_exits(self, element_id: str) -> set[str]: ...

    def add(self, code: str, message: str, *, element_id: str | None = None, field: str | None = None) -> None: ...


class ElementBase(StrictModel):
    id: ElementId
    position: Position | None = None
    label: str | None = Field(default=None, max_length=200)

    # Catalogue facts, per type. `waits`: the element hands control to telephony or the caller, so a cycle through
    # it advances real time and cannot spin; `instant_exits`: the exits a waiting element can nevertheless take in
    # the decision that entered it, without telephony (an element that does not wait takes all its exits so).
    # `is_entry`: calls enter here.
    waits: ClassVar[bool] = False
    instant_exits: ClassVar[tuple[str, ...]] = ()
    is_entry: ClassVar[bool] = False
    # Behaviours every type defines (BEHAVIOURS): the Mermaid delimiters around its label, and what it asks
    # telephony for ("ring", "play", "collect"), None when it asks nothing or only hands the call over.
    shape: ClassVar[tuple[str, str]]
    awaits: ClassVar[str | None]

    def exits(self) -> tuple[str, ...]:
        """The exits this element offers; the first is the default. Empty means terminal."""
        return ()

    def optional_exits(self) -> tuple[str, ...]:
        """Exits that may be left unconnected without a warning (they fall back to the default exit)."""
        return ()

    @property
    def is_terminal(self) -> bool:
        return not self.exits()

    def awaited(self) -> tuple[str, ...]:
        """Every action this element may ask telephony for: its `awaits`, and a ring for a direct-dial menu."""
        return (self.awaits,) if self.awaits else ()

    def ring_extensions(self) -> tuple[str, ...]:
        """The extensions this element rings, in order."""
        return ()

    def terminal_reason(self) -> str:
        """Why an arrow cannot leave this element, when it is not obvious from the type."""
        return ""

    # ---------------------------------------------------------------------------------------------- behaviours

    def check(self, context: CheckContext) -> None:
        """Report this element's own problems (arrows and reachability are the graph checks' business)."""
        raise NotImplementedError(f"{type(self).__name__} defines no validation check")

    def compile(self, context: "CompileContext") -> "Node":
        """The executor node for this element, resolved against the directory and the graph."""
        raise NotImplementedError(f"{type(self).__name__} defines no executor node")

    def describe(self) -> str:
        """The second line of the element's diagram label: its type and key fields."""
        raise NotImplementedError(f"{type(self).__name__} defines no diagram text")

    def worst_case_seconds(self, exit_name: str, directory: "Directory") -> float:
        """Worst-case seconds spent here before leaving by `exit_name`, nobody answering (analysis)."""
        raise NotImplementedError(f"{type(self).__name__} defines no worst case")

    def references(self) -> References:
        """The directory objects this element names."""
        raise NotImplementedError(f"{type(self).__name__} defines no references")

    def describe_in(self, directory: "Directory | None") -> str:
        """`describe()`, with what the directory adds when it is at hand (a queue's name, strategy and max wait)."""
        return self.describe()


def label_of(element: ElementBase) -> str:
    return f"{getattr(element, 'type', 'element')} '{element.id}'"


def shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
