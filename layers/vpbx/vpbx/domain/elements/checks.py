"""Elements decided inside one decision, without telephony: the entry, schedule checks, caller-list checks."""

from typing import ClassVar, Literal

from vpbx.domain.base import ResourceId
from vpbx.domain.directory import CallerList, Directory, Schedule
from vpbx.domain.elements.base import NO_REFERENCES, CheckContext, ElementBase, References
from vpbx.domain.elements.steps import CompileContext, Follow, Node, PassNode, RunContext, Step
from vpbx.domain.phone import operator_prefixes


class _Instant(ElementBase):
    """Shared by this family: nothing asked of telephony, no time spent."""

    awaits: ClassVar[str | None] = None
    shape: ClassVar[tuple[str, str]] = ("{", "}")  # rhombus: decisions

    def worst_case_seconds(self, exit_name: str, directory: Directory) -> float:
        return 0


class IncomingCall(_Instant):
    type: Literal["incoming_call"]
    is_entry: ClassVar[bool] = True
    shape: ClassVar[tuple[str, str]] = ("([", "])")  # stadium: the entry

    def exits(self) -> tuple[str, ...]:
        return ("next",)

    def check(self, context: CheckContext) -> None:
        pass  # exactly one entry is a graph rule

    def compile(self, context: CompileContext) -> Node:
        return PassNode(self)

    def describe(self) -> str:
        return "Incoming call"

    def references(self) -> References:
        return NO_REFERENCES


class ScheduleCheck(_Instant):
    type: Literal["schedule"]
    schedule_id: ResourceId

    def exits(self) -> tuple[str, ...]:
        return ("open", "closed")

    def check(self, context: CheckContext) -> None:
        directory = context.directory
        if directory is not None and self.schedule_id not in directory.schedules:
            context.add(
                "unknown_schedule",
                f"schedule '{self.id}' refers to schedule '{self.schedule_id}', which does not exist",
                element_id=self.id,
                field="schedule_id",
            )

    def compile(self, context: CompileContext) -> Node:
        return _ScheduleNode(self, context.directory.schedules.get(self.schedule_id))

    def describe(self) -> str:
        return f"Schedule {self.schedule_id}"

    def references(self) -> References:
        return References(schedules=frozenset({self.schedule_id}))


class CallerListCheck(_Instant):
    type: Literal["caller_list"]
    list_id: ResourceId

    def exits(self) -> tuple[str, ...]:
        return ("match", "no_match")

    def check(self, context: CheckContext) -> None:
        directory = context.directory
        if directory is None:
            return
        caller_list = directory.caller_lists.get(self.list_id)
        if caller_list is None:
            context.add(
                "unknown_caller_list",
                f"caller_list '{self.id}' refers to caller list '{self.list_id}', which does not exist",
                element_id=self.id,
                field="list_id",
            )
            return
        for operator in sorted({p.value for p in caller_list.patterns if p.kind == "operator"}):
            if operator_prefixes(operator) == 0:
                context.add(
                    "unknown_operator",
                    f"caller list '{self.list_id}' matches operator '{operator}', which the carrier data "
                    "(phonenumbers, by allocated number range) does not know: that pattern never matches",
                    element_id=self.id,
                    field="list_id",
                )

    def compile(self, context: CompileContext) -> Node:
        return _CallerListNode(self, context.directory.caller_lists.get(self.list_id))

    def describe(self) -> str:
        return f"Caller list {self.list_id}"

    def references(self) -> References:
        return References(caller_lists=frozenset({self.list_id}))


class _ScheduleNode(Node):
    __slots__ = ("schedule", "schedule_id")

    def __init__(self, element: ScheduleCheck, schedule: Schedule | None) -> None:
        super().__init__(element)
        self.schedule_id = element.schedule_id
        self.schedule = schedule

    def enter(self, context: RunContext) -> Step:
        if self.schedule is None:
            return Follow("closed", detail=f"unknown schedule {self.schedule_id!r} counts as closed")
        status = self.schedule.status(context.now)
        return Follow("open" if status.open else "closed", detail=f"schedule {self.schedule_id}: {status.detail}")


class _CallerListNode(Node):
    __slots__ = ("caller_list", "list_id")

    def __init__(self, element: CallerListCheck, caller_list: CallerList | None) -> None:
        super().__init__(element)
        self.list_id = element.list_id
        self.caller_list = caller_list

    def enter(self, context: RunContext) -> Step:
        if self.caller_list is None:
            return Follow("no_match", detail=f"unknown caller list {self.list_id!r} matches nobody")
        return Follow("match" if self.caller_list.matches(context.call.caller) else "no_match")
