"""What validation reports: the problem codes, their severity, and the report itself."""

from typing import Literal

from pydantic import ConfigDict, Field

from vpbx.domain.base import LazyModel
from vpbx.domain.elements.base import DIAL_DELAY_MARGIN_SECONDS, MAX_WAIT_SECONDS, MIN_WAIT_SECONDS
from vpbx.domain.scenario import MAX_CONNECTIONS, MAX_ELEMENTS, MAX_SERIALIZED_BYTES, Scenario

Severity = Literal["error", "warning"]

CODES: dict[str, str] = {
    # input shape and size
    "not_an_object": "The scenario is not a JSON object.",
    "not_serializable": "The scenario holds values that cannot be serialized as JSON (e.g. a circular reference).",
    "too_many_elements": f"The scenario has more than {MAX_ELEMENTS} elements.",
    "too_many_connections": f"The scenario has more than {MAX_CONNECTIONS} connections.",
    "scenario_too_large": f"The serialized scenario is larger than {MAX_SERIALIZED_BYTES // 1024} KB.",
    "missing_field": "A required top-level field (name, elements) is missing.",
    "unknown_field": "The scenario has a top-level field the format does not define.",
    "invalid_field": "A top-level field has the wrong type or value.",
    "invalid_element": "An element is not an object or one of its fields is missing, unknown or invalid.",
    "unknown_element_type": "An element's type is missing or not one of the element catalogue.",
    "invalid_connection": "A connection is not an object or one of its fields is missing, unknown or invalid.",
    # graph structure
    "missing_entry": "The scenario has no incoming_call element, so no call can enter it.",
    "multiple_entries": "The scenario has more than one incoming_call element; exactly one is allowed.",
    "duplicate_element_id": "Two elements share an id.",
    "unknown_connection_source": "A connection starts at an element id that does not exist.",
    "unknown_connection_target": "A connection points to an element id that does not exist.",
    "arrow_into_entry": "A connection points into the incoming_call element, which only starts calls.",
    "invalid_exit": "A connection leaves by an exit the element type does not have.",
    "duplicate_exit": "Two connections leave the same exit of one element.",
    "exit_on_terminal": "A connection leaves an element that ends the route (including ringing without limit_wait).",
    "unconnected_exit": "An exit is not connected, so the call ends there.",
    "ivr_without_choices": "An IVR menu has no digit connected and no direct dial, so callers cannot choose anything.",
    "direct_dial_max_digits": (
        "A direct-dial IVR menu collects fewer keys than the tenant's longest enabled extension (or 1 key), so "
        "those extensions cannot be dialled."
    ),
    "direct_dial_shadowed": (
        "An enabled extension equals a connected key of a direct-dial menu, so it cannot be dialled."
    ),
    "max_digits_without_direct_dial": (
        "An IVR menu collects several keys without direct dial: only single keys lead anywhere, and callers wait the "
        "inter-digit timeout after their key."
    ),
    "unreachable_element": "No path from incoming_call reaches the element.",
    "endless_loop": "A cycle passes through no waiting element, so it would spin forever without telephony.",
    "instant_loop": (
        "A cycle can be run without waiting for telephony through an exit taken inside one decision (external "
        "routing's not_found), so a call could spin through it, calling the CRM each time."
    ),
    # ringing
    "missing_wait_seconds": "The wait is limited but wait_seconds is not set, so the executor's default applies.",
    "wait_out_of_range": (
        f"wait_seconds (or an IVR menu's direct_dial_wait_seconds) is outside {MIN_WAIT_SECONDS}–{MAX_WAIT_SECONDS} s."
    ),
    "wait_ignored": (
        "wait_seconds is set but limit_wait is off, so the element rings until answered (or an IVR menu has "
        "direct_dial_wait_seconds without direct_dial)."
    ),
    "wait_below_dial_delay": (
        f"wait_seconds leaves an external/mobile target less than {DIAL_DELAY_MARGIN_SECONDS} s of real ringing "
        "after its network dial delay."
    ),
    # targets
    "invalid_phone_number": "external_number.number is not a valid E.164 phone number.",
    "invalid_sip_uri": "A SIP URI does not look like sip:user@host.",
    "insecure_url": "external_routing.url is not https.",
    "missing_crm_url": "external_routing has no url and the tenant has no crm_url to use instead.",
    # directory references
    "unknown_extension": "An extension is not in the tenant's directory.",
    "unknown_schedule": "schedule_id is not one of the tenant's schedules.",
    "unknown_caller_list": "list_id is not one of the tenant's caller lists.",
    "unknown_operator": "The caller list has an operator pattern the carrier data does not know (never matches).",
    "disabled_subscriber": "A referenced subscriber is disabled and will not ring.",
    "unknown_queue": "queue_id is not one of the tenant's queues.",
    "empty_queue": "The queue has no members, so every caller takes the no_agents exit.",
    "queue_member_not_ringable": (
        "A queue member is not an enabled subscriber of the directory, so it is never offered a call."
    ),
    "queue_timing": (
        "The queue's timing makes little sense: an agent rings (member_ring_seconds) or telephony reports "
        "(poll_seconds) longer than a caller may wait at all (max_wait_seconds)."
    ),
    # safety net
    "internal_error": "Validation itself failed; the scenario could not be fully checked.",
}
WARNING_CODES = frozenset(
    {
        "missing_wait_seconds",
        "unconnected_exit",
        "ivr_without_choices",
        "direct_dial_max_digits",
        "direct_dial_shadowed",
        "max_digits_without_direct_dial",
        "unreachable_element",
        "wait_ignored",
        "wait_below_dial_delay",
        "disabled_subscriber",
        "unknown_operator",
        "queue_member_not_ringable",
        "queue_timing",
    }
)


class Problem(LazyModel):
    """One finding, located as precisely as the input allows."""

    model_config = ConfigDict(frozen=True)

    severity: Severity
    code: str
    message: str
    element_id: str | None = None
    connection_index: int | None = None
    field: str | None = None
    element_index: int | None = None  # position in `elements`; locates elements without a usable id


class ValidationReport(LazyModel):
    problems: list[Problem] = Field(default_factory=list)
    scenario: Scenario | None = Field(default=None, exclude=True)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


class Problems:
    """Collects problems in the order they are found; the code decides the severity."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(
        self,
        code: str,
        message: str,
        *,
        element_id: str | None = None,
        connection_index: int | None = None,
        field: str | None = None,
        element_index: int | None = None,
    ) -> None:
        self.items.append(
            Problem(
                severity="warning" if code in WARNING_CODES else "error",
                code=code,
                message=message,
                element_id=element_id,
                connection_index=connection_index,
                field=field,
                element_index=element_index,
            )
        )
