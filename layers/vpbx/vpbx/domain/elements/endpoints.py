"""Elements that end the route with one last action: voicemail, fax, hangup."""

from typing import Annotated, ClassVar, Literal

from pydantic import StringConstraints

from vpbx.domain.base import Extension
from vpbx.domain.calls import FaxAction, HangupAction, VoicemailAction
from vpbx.domain.directory import Directory
from vpbx.domain.elements.base import CheckContext, ElementBase, References
from vpbx.domain.elements.ring_rules import check_subscribers
from vpbx.domain.elements.steps import REASON_HANGUP_ELEMENT, CompileContext, FinalNode, Node


class _Endpoint(ElementBase):
    """Terminal: no exits, nothing awaited from telephony, no time counted by analysis."""

    awaits: ClassVar[str | None] = None

    def worst_case_seconds(self, exit_name: str, directory: Directory) -> float:
        return 0


class Voicemail(_Endpoint):
    type: Literal["voicemail"]
    mailbox: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    waits: ClassVar[bool] = True
    shape: ClassVar[tuple[str, str]] = ("[[", "]]")  # subroutine: terminal handlers

    def check(self, context: CheckContext) -> None:
        pass  # a mailbox is any name telephony knows

    def compile(self, context: CompileContext) -> Node:
        return FinalNode(self, VoicemailAction(mailbox=self.mailbox), "voicemail")

    def describe(self) -> str:
        return f"Voicemail {self.mailbox}"

    def references(self) -> References:
        return References()


class Fax(_Endpoint):
    type: Literal["fax"]
    extension: Extension
    waits: ClassVar[bool] = True
    shape: ClassVar[tuple[str, str]] = ("[[", "]]")

    def check(self, context: CheckContext) -> None:
        check_subscribers(self, (self.extension,), context)

    def compile(self, context: CompileContext) -> Node:
        return FinalNode(self, FaxAction(extension=self.extension), "fax")

    def describe(self) -> str:
        return f"Fax {self.extension}"

    def references(self) -> References:
        return References(extensions=frozenset({self.extension}))


class Hangup(_Endpoint):
    type: Literal["hangup"]
    shape: ClassVar[tuple[str, str]] = ("(((", ")))")  # double circle: the call is over

    def check(self, context: CheckContext) -> None:
        pass

    def compile(self, context: CompileContext) -> Node:
        return FinalNode(self, HangupAction(reason=REASON_HANGUP_ELEMENT), "hangup")

    def describe(self) -> str:
        return "Hang up"

    def references(self) -> References:
        return References()
