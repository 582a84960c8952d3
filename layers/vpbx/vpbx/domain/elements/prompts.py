"""Elements that play to the caller: a greeting, and an IVR menu that collects keys (and may dial an extension)."""

from collections.abc import Mapping, Set
from typing import Any, ClassVar, Literal

from pydantic import Field

from vpbx.domain.calls import CollectAction, Outcome, PlayAction, RingAction
from vpbx.domain.directory import Directory
from vpbx.domain.elements.base import (
    DEFAULT_WAIT_SECONDS,
    DIGIT_EXITS,
    MAX_RING_SECONDS,
    MAX_WAIT_SECONDS,
    MIN_WAIT_SECONDS,
    NO_REFERENCES,
    CheckContext,
    ElementBase,
    Prompt,
    References,
    label_of,
)
from vpbx.domain.elements.ring_rules import wait_or_default
from vpbx.domain.elements.steps import (
    CONNECTED,
    Await,
    CompileContext,
    Follow,
    Node,
    RunContext,
    Step,
    awaiting,
)

NOMINAL_GREETING_SECONDS = 5  # analysis: a greeting's audio length is unknown
PROMPT_PREVIEW_CHARS = 40
MAX_MENU_DIGITS = 6  # the longest extension: more keys than that lead nowhere
_MENU_EXITS = (*DIGIT_EXITS, "timeout", "invalid")
_KEYS = frozenset(DIGIT_EXITS)
_LISTED = 5  # extensions named in a warning


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
    """An IVR menu: play `prompt`, collect keys, follow the key's arrow.

    A wrong entry or no entry plays the menu again (after `invalid_prompt` for a wrong one) up to `max_retries`
    times, then leaves by `invalid` or `timeout`. With `max_digits` > 1 a caller may type several keys, ended by
    `terminator` or a pause of `inter_digit_timeout_seconds`. With `direct_dial`, an entry that is no connected key
    but equals an enabled extension of the tenant rings it for `direct_dial_wait_seconds` (plus its dial delay);
    an unknown or disabled extension counts as a wrong entry. A dialled extension that does not answer (or is busy
    or unavailable) leaves by `no_answer`, or by `invalid` when `no_answer` has no arrow.
    """

    type: Literal["ivr_menu"]
    prompt: Prompt
    timeout_seconds: int = Field(default=5, ge=1, le=60, description="Seconds to wait for the first key")
    max_retries: int = Field(default=2, ge=0, le=10)
    max_digits: int = Field(
        default=1, ge=1, le=MAX_MENU_DIGITS, description="Keys a caller may type (more than 1 for direct dial)"
    )
    terminator: Literal["#", "*"] | None = Field(
        default="#", description="Ends a multi-key entry early (max_digits > 1); null: only a pause or max_digits"
    )
    inter_digit_timeout_seconds: int = Field(
        default=3, ge=1, le=10, description="A pause this long after a key ends a multi-key entry"
    )
    invalid_prompt: Prompt | None = Field(default=None, description="Played before the menu after a wrong entry")
    direct_dial: bool = Field(default=False, description="An entry equal to an enabled extension rings it")
    direct_dial_wait_seconds: int | None = Field(
        default=None,
        ge=0,
        le=MAX_RING_SECONDS,
        description=f"How long a dialled extension rings (plus its dial delay); default {DEFAULT_WAIT_SECONDS} s",
    )
    waits: ClassVar[bool] = True
    awaits: ClassVar[str | None] = "collect"
    shape: ClassVar[tuple[str, str]] = ("{", "}")  # rhombus: a decision

    def exits(self) -> tuple[str, ...]:
        return (*DIGIT_EXITS, "timeout", "invalid", "no_answer") if self.direct_dial else _MENU_EXITS

    def optional_exits(self) -> tuple[str, ...]:
        # A menu rarely uses every key; unconnected digits count as invalid input, not as the end of the call.
        # An unanswered direct dial without a `no_answer` arrow takes `invalid`.
        return (*DIGIT_EXITS, "no_answer") if self.direct_dial else DIGIT_EXITS

    def awaited(self) -> tuple[str, ...]:
        return ("collect", "ring") if self.direct_dial else ("collect",)

    def check(self, context: CheckContext) -> None:
        choices = context.used_exits(self.id) & _KEYS
        if not choices and not self.direct_dial:
            context.add(
                "ivr_without_choices",
                f"ivr_menu '{self.id}' has no digit connected, so no key press leads anywhere",
                element_id=self.id,
            )
        if self.direct_dial:
            check_direct_dial(self, choices, context)
        else:
            check_without_direct_dial(self, context)

    def compile(self, context: CompileContext) -> Node:
        return _MenuNode(self, frozenset(d for d in DIGIT_EXITS if context.connected(self.id, d)), context)

    def describe(self) -> str:
        retries = f"{self.max_retries} {'retry' if self.max_retries == 1 else 'retries'}"
        options = [f"{self.timeout_seconds} s", retries]
        if self.max_digits > 1:
            options.append(f"up to {self.max_digits} digits")
        if self.direct_dial:
            options.append("direct dial")
        return f"Menu: {self.prompt.preview(PROMPT_PREVIEW_CHARS)} ({', '.join(options)})"

    def worst_case_seconds(self, exit_name: str, directory: Directory) -> float:
        attempt = self.timeout_seconds
        if self.max_digits > 1:  # a caller typing slowly: every further key just within the pause
            attempt += self.inter_digit_timeout_seconds * (self.max_digits - 1)
        seconds = attempt * (self.max_retries + 1)
        if self.direct_dial and exit_name in ("no_answer", "invalid"):  # invalid: when no_answer has no arrow
            slowest = max((s.dial_delay for s in directory.subscribers.values() if s.enabled), default=0)
            seconds += wait_or_default(self.direct_dial_wait_seconds) + slowest
        return seconds

    def references(self) -> References:
        # Direct dial may ring any subscriber, so the directory a call sees holds them all (like a CRM lookup).
        return References(any_extension=True) if self.direct_dial else NO_REFERENCES

    def collect(self, preamble: Prompt | None = None) -> CollectAction:
        several = self.max_digits > 1
        return CollectAction(
            prompt=self.prompt,
            preamble=preamble,
            max_digits=self.max_digits,
            timeout_seconds=self.timeout_seconds,
            terminator=self.terminator if several else None,
            inter_digit_timeout_seconds=self.inter_digit_timeout_seconds if several else None,
        )


def check_direct_dial(menu: IvrMenu, choices: Set[str], context: CheckContext) -> None:
    """Direct dial reaches every enabled extension: max_digits covers the longest, and no key shadows one."""
    _check_dial_wait(menu, context)
    directory = context.directory
    enabled = [ext for ext, s in directory.subscribers.items() if s.enabled] if directory is not None else []
    needed = max((len(ext) for ext in enabled), default=2)
    if menu.max_digits < needed:
        short = sorted((ext for ext in enabled if len(ext) > menu.max_digits), key=_by_length)
        which = f"extensions {_listed(short)}" if short else "extensions of more than one digit"
        context.add(
            "direct_dial_max_digits",
            f"{label_of(menu)} collects at most {menu.max_digits} key(s), so {which} cannot be dialled directly; "
            f"set max_digits to {needed}",
            element_id=menu.id,
            field="max_digits",
        )
    shadowed = sorted((ext for ext in enabled if ext in choices), key=_by_length)
    if shadowed:
        context.add(
            "direct_dial_shadowed",
            f"{label_of(menu)}: keys {_listed(shadowed)} have arrows, so the extensions with those numbers cannot "
            "be dialled directly (the key wins)",
            element_id=menu.id,
            field="direct_dial",
        )


def check_without_direct_dial(menu: IvrMenu, context: CheckContext) -> None:
    if menu.direct_dial_wait_seconds is not None:
        context.add(
            "wait_ignored",
            f"{label_of(menu)} has direct_dial_wait_seconds but direct_dial is off, so nothing rings from it",
            element_id=menu.id,
            field="direct_dial_wait_seconds",
        )
    if menu.max_digits > 1:
        context.add(
            "max_digits_without_direct_dial",
            f"{label_of(menu)} collects up to {menu.max_digits} keys without direct_dial: only single keys lead "
            f"anywhere, and callers wait {menu.inter_digit_timeout_seconds} s after their key; set max_digits to 1",
            element_id=menu.id,
            field="max_digits",
        )


def _check_dial_wait(menu: IvrMenu, context: CheckContext) -> None:
    wait = menu.direct_dial_wait_seconds
    if wait is not None and not MIN_WAIT_SECONDS <= wait <= MAX_WAIT_SECONDS:
        context.add(
            "wait_out_of_range",
            f"{label_of(menu)} rings a dialled extension for {wait} s; direct_dial_wait_seconds must be "
            f"{MIN_WAIT_SECONDS}–{MAX_WAIT_SECONDS}",
            element_id=menu.id,
            field="direct_dial_wait_seconds",
        )


def _by_length(extension: str) -> tuple[int, str]:
    return len(extension), extension


def _listed(extensions: list[str]) -> str:
    shown = ", ".join(extensions[:_LISTED])
    return shown + (f" and {len(extensions) - _LISTED} more" if len(extensions) > _LISTED else "")


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
    """IVR: collect keys; a connected key follows its arrow, an enabled extension rings (direct dial), anything else
    is invalid; retries replay the menu (after invalid_prompt), then `invalid`/`timeout`."""

    __slots__ = (
        "connected_digits",
        "context",
        "dial_wait_seconds",
        "direct_dial",
        "max_retries",
        "no_answer_exit",
        "prompt",
        "retry_prompt",
        "terminator",
    )

    def __init__(self, menu: IvrMenu, connected_digits: frozenset[str], context: CompileContext) -> None:
        super().__init__(menu)
        self.max_retries = menu.max_retries
        self.connected_digits = connected_digits
        self.prompt = menu.collect()
        self.retry_prompt = menu.collect(menu.invalid_prompt) if menu.invalid_prompt is not None else self.prompt
        self.terminator = menu.terminator if menu.max_digits > 1 else None
        self.direct_dial = menu.direct_dial
        self.dial_wait_seconds = wait_or_default(menu.direct_dial_wait_seconds)
        self.no_answer_exit = "no_answer" if context.connected(menu.id, "no_answer") else "invalid"
        self.context = context  # direct dial resolves the extension at call time, as a CRM lookup does

    def enter(self, context: RunContext) -> Step:
        return awaiting(self.prompt, "collect", retries=0)

    def resolve(self, context: RunContext, memory: Mapping[str, Any], outcome: Outcome) -> Step:
        if memory.get("awaiting") == "ring":
            return self._dialled(memory, outcome)
        entry = self._entry(outcome)
        if entry in self.connected_digits:
            return Follow(entry)
        retries = int(memory.get("retries", 0))
        detail = None
        if entry is not None and self.direct_dial:
            dial = self._dial(entry, retries)
            if dial is not None:
                return dial
            detail = f"{entry[:16]!r} is neither a connected key nor an enabled extension"
        failure = "invalid" if entry is not None else "timeout"
        if retries >= self.max_retries:
            return Follow(failure, detail=f"{failure} after {self.max_retries} retries")
        prompt = self.retry_prompt if failure == "invalid" else self.prompt
        return Await(prompt, {"awaiting": "collect", "retries": retries + 1}, detail)

    def _entry(self, outcome: Outcome) -> str | None:
        """The keys the caller entered, without a trailing terminator; None when nothing was entered."""
        digits = outcome.digits if outcome.kind == "digits" else None
        if digits is not None and self.terminator is not None and len(digits) > 1 and digits[-1] == self.terminator:
            return digits[:-1]
        return digits

    def _dial(self, extension: str, retries: int) -> Await | None:
        target = self.context.target_of(extension)
        if target is None:
            return None
        ring = RingAction(targets=[target], timeout_seconds=self.dial_wait_seconds + target.dial_delay_seconds)
        memory = {"awaiting": "ring", "extension": extension, "retries": retries}
        return Await(ring, memory, f"direct dial {extension}")

    def _dialled(self, memory: Mapping[str, Any], outcome: Outcome) -> Step:
        if outcome.kind == "answered":
            return CONNECTED
        return Follow(self.no_answer_exit, detail=f"direct dial {memory.get('extension')}: {outcome.kind}")
