"""External routing: ask the tenant's CRM which extension should take the caller, then ring it.

The lookup happens inside the decision that enters the element, so its `not_found` exit is taken without telephony
(validation treats a cycle through it as instant), while `no_answer` follows a real ring. Lookups are capped per
decision and per call (elements.steps.RunContext).
"""

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field

from vpbx.domain.calls import CrmRefused, Outcome, RingAction
from vpbx.domain.directory import Directory
from vpbx.domain.elements.base import MAX_RING_SECONDS, CheckContext, ElementBase, References, shorten
from vpbx.domain.elements.ring_rules import check_wait, wait_or_default, wait_text
from vpbx.domain.elements.steps import CONNECTED, CompileContext, Follow, Node, RunContext, Step, awaiting


class ExternalRouting(ElementBase):
    """Asks the tenant's CRM which extension should take the caller, then rings it."""

    type: Literal["external_routing"]
    url: str | None = Field(
        default=None,
        max_length=1024,
        pattern=r"^https?://",
        description="The CRM to ask (https); absent: the tenant's crm_url",
    )
    timeout_seconds: float = Field(default=3, gt=0, le=5)
    wait_seconds: int | None = Field(default=None, ge=0, le=MAX_RING_SECONDS)
    waits: ClassVar[bool] = True
    instant_exits: ClassVar[tuple[str, ...]] = ("not_found",)  # the lookup found no one: no ring
    awaits: ClassVar[str | None] = "ring"
    shape: ClassVar[tuple[str, str]] = ("{{", "}}")  # hexagon: a lookup that then rings

    def exits(self) -> tuple[str, ...]:
        return ("no_answer", "not_found")

    def check(self, context: CheckContext) -> None:
        check_wait(self, True, context, lambda directory: [])  # the extension is known only at call time
        if self.url is None:
            if context.directory is not None and context.directory.tenant_crm_url is None:
                context.add(
                    "missing_crm_url",
                    f"external_routing '{self.id}' has no url and the tenant has no crm_url to fall back on; set the "
                    "element's url or the tenant's crm_url (PUT /v1/tenants/{tenant_id})",
                    element_id=self.id,
                    field="url",
                )
        elif not self.url.lower().startswith("https://"):
            context.add(
                "insecure_url",
                f"external_routing '{self.id}' calls {shorten(self.url)} over plain http; the CRM URL must be https",
                element_id=self.id,
                field="url",
            )

    def compile(self, context: CompileContext) -> Node:
        return _CrmNode(self, context)

    def describe(self) -> str:
        if self.url is None:
            return f"CRM lookup, the tenant's CRM ({wait_text(True, self.wait_seconds)})"
        host = self.url.split("://", 1)[-1].split("/", 1)[0]
        return f"CRM lookup {host} ({wait_text(True, self.wait_seconds)})"

    def worst_case_seconds(self, exit_name: str, directory: Directory) -> float:
        if exit_name == "not_found":
            return self.timeout_seconds
        slowest = max((s.dial_delay for s in directory.subscribers.values()), default=0)
        return self.timeout_seconds + wait_or_default(self.wait_seconds) + slowest

    def references(self) -> References:
        return References(any_extension=True, crm_urls=((self.id, self.url),))


class _CrmNode(Node):
    """Ask the CRM for an extension, then ring it for `wait_seconds`."""

    __slots__ = ("context", "timeout_seconds", "url", "wait_seconds")

    def __init__(self, element: ExternalRouting, context: CompileContext) -> None:
        super().__init__(element)
        self.url = element.url or context.directory.tenant_crm_url
        self.timeout_seconds = element.timeout_seconds
        self.wait_seconds = wait_or_default(element.wait_seconds)
        self.context = context

    def enter(self, context: RunContext) -> Step:
        if context.crm_lookup is None:
            return Follow("not_found", detail="no CRM lookup available")
        if self.url is None:
            return Follow("not_found", detail="no CRM url: the element has none and the tenant has no crm_url")
        timeout_seconds, spent = context.crm_allowance(self.timeout_seconds)
        if spent is not None:
            return Follow("not_found", detail=spent)
        try:
            extension = context.crm_lookup(self.url, context.call.caller, timeout_seconds)
        except CrmRefused as refused:
            return Follow("not_found", detail=f"CRM lookup refused: {str(refused)[:200]}")
        except Exception as exc:  # the tenant's CRM is outside our control: any failure means "not found"
            return Follow("not_found", detail=f"CRM lookup failed: {type(exc).__name__}")
        if not isinstance(extension, str) or not extension:
            return Follow("not_found", detail="CRM returned no extension")
        target = self.context.target_of(extension)
        if target is None:
            return Follow("not_found", detail=f"CRM returned extension {extension[:16]!r}, unknown or disabled")
        ring = RingAction(targets=[target], timeout_seconds=self.wait_seconds + target.dial_delay_seconds)
        return awaiting(ring, "ring", extension=extension)

    def resolve(self, context: RunContext, memory: Mapping[str, Any], outcome: Outcome) -> Step:
        return CONNECTED if outcome.kind == "answered" else Follow("no_answer")
