"""Elements that play to the caller: a greeting, and an IVR menu that collects a key press."""

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field

from vpbx.domain.calls import CollectAction, Outcome, PlayAction
from vpbx.domain.directory import Directory
from vpbx.domain.elements.base import DIGIT_EXITS, CheckContext, ElementBase, Prompt, References
from vpbx.domain.elements.steps import CompileContext, Follow, Node, RunContext, Step, awaiting

NOMINAL_GREETING_SECONDS = 5  # analysis: a greeting's audio length is unknown
PROMPT_PREVIEW_CHARS = 40


class Greeting(ElementBase):
    type: Literal["greeting"]
    prompt: Prompt
    waits: ClassVar[bool] = True
    awaits: ClassVar[str | None] = "play"
    shape: ClassVar[tuple[str, str]] = (">", "]")  # flag: plays a prompt

    def exits(self) -> tuple[str, ...]:
        return ("next",)

    def check(self, context: CheckContext) -> None:
        pass  # the model already checks the prompt

    def compile(self, context: CompileContext) -> Node:
        return _GreetingNode(self)

    def describe(self) -> str:
        return f"Greeting: {self.prompt.preview(PROMPT_PREVIEW_CHARS)}"

    def worst_case_seconds(self, exit_name: str, directory: Directory) -> float:
        return NOMINAL_GREETING_SECONDS

    def references(self) -> References:
        return References()


class IvrMenu(ElementBase):
    type: Literal["ivr_menu"]
    prompt: Prompt
    timeout_seconds: int = Field(default=5, ge=1, le=60)
    max_retries: int = Field(default=2, ge=0, le=10)
    max_digits: int = Field(default=1, ge=1, le=1)
    invalid_prompt: Prompt | None = None
    waits: ClassVar[bool] = True
    awaits: ClassVar[str | None] = "collect"
    shape: ClassVar[tuple[str, str]] = ("{", "}")  # rhombus: a decision

    def exits(self) -> tuple[str, ...]:
        return (*DIGIT_EXITS, "timeout", "invalid")

    def optional_exits(self) -> tuple[str, ...]:
        # A menu rarely uses every key; unconnected digits count as invalid input, not as the end of the call.
        return DIGIT_EXITS

    def check(self, context: CheckContext) -> None:
        if context.used_exits(self.id).isdisjoint(DIGIT_EXITS):
            context.add(
                "ivr_without_choices",
                f"ivr_menu '{self.id}' has no digit connected, so no key press leads anywhere",
                element_id=self.id,
            )

    def compile(self, context: CompileContext) -> Node:
        return _MenuNode(self, frozenset(d for d in DIGIT_EXITS if context.connected(self.id, d)))

    def describe(self) -> str:
        retries = f"{self.max_retries} {'retry' if self.max_retries == 1 else 'retries'}"
        return f"Menu: {self.prompt.preview(PROMPT_PREVIEW_CHARS)} ({self.timeout_seconds} s, {retries})"

    def worst_case_seconds(self, exit_name: str, directory: Directory) -> float:
        return self.timeout_seconds * (self.max_retries + 1)

    def references(self) -> References:
        return References()

    def collect(self, prompt: Prompt) -> CollectAction:
        return CollectAction(prompt=prompt, max_digits=self.max_digits, timeout_seconds=self.timeout_seconds)


class _GreetingNode(Node):
    __slots__ = ("action",)

    def __init__(self, element: Greeting) -> None:
        super().__init__(element)
        self.action = PlayAction(prompt=element.prompt)

    def enter(self, context: RunContext) -> Step:
        return awaiting(self.action, "play")

    def resolve(self, context: RunContext, memory: Mapping[str, Any], outcome: Outcome) -> Step:
        return Follow("next")


class _MenuNode(Node):
    """IVR: collect a digit; an unconnected digit is invalid; retries replay the menu, then `invalid`/`timeout`."""

    __slots__ = ("connected_digits", "invalid_prompt", "max_retries", "prompt")

    def __init__(self, menu: IvrMenu, connected_digits: frozenset[str]) -> None:
        super().__init__(menu)
        self.max_retries = menu.max_retries
        self.connected_digits = connected_digits
        self.prompt = menu.collect(menu.prompt)
        self.invalid_prompt = menu.collect(menu.invalid_prompt) if menu.invalid_prompt is not None else self.prompt

    def enter(self, context: RunContext) -> Step:
        return awaiting(self.prompt, "collect", retries=0)

    def resolve(self, context: RunContext, memory: Mapping[str, Any], outcome: Outcome) -> Step:
        if outcome.kind == "digits" and outcome.digits in self.connected_digits:
            return Follow(outcome.digits)
        failure = "invalid" if outcome.kind == "digits" else "timeout"
        retries = int(memory.get("retries", 0)) + 1
        if retries > self.max_retries:
            return Follow(failure, detail=f"{failure} after {self.max_retries} retries")
        prompt = self.invalid_prompt if failure == "invalid" else self.prompt
        return awaiting(prompt, "collect", retries=retries)
