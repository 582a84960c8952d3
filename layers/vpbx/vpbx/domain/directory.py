"""The tenant's directory: subscribers, schedules and caller lists, and the rules that read them."""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field, field_validator, model_validator

from vpbx.domain.base import Extension, Name, ResourceId, StrictModel
from vpbx.domain.phone import (
    DIAL_DELAY_SECONDS,
    InvalidPhoneNumber,
    dial_delay_for_target,
    is_sip_uri,
    normalize_e164,
    number_facts,
)
from vpbx.domain.queues import Queue
from vpbx.domain.schedules import (  # noqa: F401  re-exported: the directory's schedule types live in schedules.py
    WEEKDAYS,
    DateOverride,
    HolidayCalendar,
    Interval,
    Schedule,
    ScheduleStatus,
    Weekday,
)

SubscriberKind = Literal["internal", "external", "mobile"]


class Subscriber(StrictModel):
    """An employee reachable by a short extension.

    `internal` rings a SIP device (`sip_uri` optional: the switch derives it from the tenant's domain when absent);
    `external` and `mobile` forward to `target`, an E.164 number or a SIP URI.
    """

    extension: Extension
    name: Name
    kind: SubscriberKind = "internal"
    target: str | None = Field(default=None, max_length=256)
    sip_uri: str | None = Field(default=None, max_length=256)
    dial_delay_seconds: int | None = Field(default=None, ge=0, le=120)
    enabled: bool = True

    @field_validator("target")
    @classmethod
    def _target_is_number_or_uri(cls, value: str | None) -> str | None:
        if value is None or is_sip_uri(value):
            return value
        try:
            return normalize_e164(value)
        except InvalidPhoneNumber as exc:
            raise ValueError(f"target must be an E.164 number or a sip: URI ({exc})") from None

    @field_validator("sip_uri")
    @classmethod
    def _sip_uri_shape(cls, value: str | None) -> str | None:
        if value is not None and not is_sip_uri(value):
            raise ValueError("sip_uri must look like sip:user@host")
        return value

    @model_validator(mode="after")
    def _target_matches_kind(self) -> "Subscriber":
        if self.kind in ("external", "mobile") and not self.target:
            raise ValueError(f"a {self.kind} subscriber needs a target (E.164 number or SIP URI)")
        if self.kind == "internal" and self.target:
            raise ValueError("an internal subscriber rings its SIP device; use sip_uri, not target")
        return self

    @property
    def dial_delay(self) -> int:
        """Seconds the network needs before the target rings; added to ring timeouts."""
        if self.dial_delay_seconds is not None:
            return self.dial_delay_seconds
        if self.kind == "internal":
            return DIAL_DELAY_SECONDS["internal"]
        if self.kind == "mobile" and self.target and not is_sip_uri(self.target):
            return max(DIAL_DELAY_SECONDS["mobile"], dial_delay_for_target(self.target))
        return dial_delay_for_target(self.target)


# ---------------------------------------------------------------------------------------------------- caller lists

PatternKind = Literal["exact", "prefix", "mask", "country", "region", "operator"]
_SEPARATORS = re.compile(r"[\s\-().]")
_PATTERN_SYNTAX = {
    "prefix": (r"^\+[0-9]{1,15}$", "'+' then 1-15 digits the number starts with, e.g. +7495"),
    "mask": (r"^\+[0-9?Xx]{1,15}$", "'+' then 1-15 digits or ?/X wildcards (one digit each), e.g. +7495???????"),
    "country": (r"^[A-Z]{2}$", "an ISO 3166 country code in capitals, e.g. RU"),
}


class CallerPattern(StrictModel):
    """One rule of a caller list.

    - `exact`: an E.164 number; `prefix`: `+` and digits the number starts with;
    - `mask`: `+` then digits and `?`/`X` wildcards (one digit each), matched against the whole number;
    - `country`: ISO region code of the number ("RU"); `region`: geographic description ("Moscow");
    - `operator`: carrier name ("MTS"), both from phonenumbers metadata, case-insensitive.
    """

    kind: PatternKind
    value: str = Field(min_length=1, max_length=64)

    @model_validator(mode="before")
    @classmethod
    def _canonical_value(cls, data: object) -> object:
        """`exact` numbers in any international spelling become E.164; prefixes and masks lose their separators."""
        if not isinstance(data, dict) or not isinstance(data.get("value"), str):
            return data
        kind, value = data.get("kind"), data["value"]
        if kind == "exact":
            try:
                return data | {"value": normalize_e164(value)}
            except InvalidPhoneNumber as exc:
                raise ValueError(f"exact pattern: {exc}") from None
        if kind in ("prefix", "mask"):
            return data | {"value": _SEPARATORS.sub("", value)}
        return data

    @model_validator(mode="after")
    def _value_fits_kind(self) -> "CallerPattern":
        syntax = _PATTERN_SYNTAX.get(self.kind)
        if syntax and not re.match(syntax[0], self.value):
            raise ValueError(f"{self.value!r} is not a valid {self.kind} pattern: {syntax[1]}")
        return self

    def matches(self, e164: str) -> bool:
        if self.kind == "exact":
            return e164 == self.value
        if self.kind == "prefix":
            return e164.startswith(self.value)
        if self.kind == "mask":
            return len(e164) == len(self.value) and all(
                m in "?Xx" or m == c for m, c in zip(self.value, e164, strict=True)
            )
        facts = number_facts(e164)
        if self.kind == "country":
            return facts.region == self.value
        if self.kind == "region":
            return facts.description.casefold() == self.value.casefold()
        return bool(facts.operator) and facts.operator.casefold() == self.value.casefold()


class CallerList(StrictModel):
    id: ResourceId
    name: Name
    patterns: list[CallerPattern] = Field(default_factory=list, max_length=10_000)

    def matches(self, caller: str | None, default_country: str | None = None) -> bool:
        """Whether the caller's number matches any pattern; withheld or invalid numbers never match.
        `default_country` reads national forms (RU: 89161234567) as the tenant's country."""
        if not caller:
            return False
        try:
            e164 = normalize_e164(caller, default_country)
        except InvalidPhoneNumber:
            return False
        return any(pattern.matches(e164) for pattern in self.patterns)


# ---------------------------------------------------------------------------------------------------- directory


@dataclass(frozen=True)
class Directory:
    """What a scenario refers to, looked up by key. Immutable, so a compiled scenario may share it."""

    subscribers: Mapping[str, Subscriber] = field(default_factory=dict)
    schedules: Mapping[str, Schedule] = field(default_factory=dict)
    caller_lists: Mapping[str, CallerList] = field(default_factory=dict)
    tenant_crm_url: str | None = None  # the tenant's CRM: what external routing without its own url asks
    queues: Mapping[str, Queue] = field(default_factory=dict)
    # Subscribers a scenario may ring without naming them (a CRM answer, a direct dial) are not copied into
    # `subscribers` on the call path: they are looked up one at a time when a call needs one (None: not in it).
    find_subscriber: Callable[[str], "Subscriber | None"] | None = field(default=None, compare=False)

    def subscriber(self, extension: str) -> Subscriber | None:
        """The subscriber with `extension`: a named one, else (a scenario that may ring anyone) looked up."""
        found = self.subscribers.get(extension)
        if found is None and self.find_subscriber is not None:
            return self.find_subscriber(extension)
        return found

    @classmethod
    def of(
        cls,
        subscribers: list[Subscriber] | None = None,
        schedules: list[Schedule] | None = None,
        caller_lists: list[CallerList] | None = None,
        tenant_crm_url: str | None = None,
        queues: list[Queue] | None = None,
    ) -> "Directory":
        return cls(
            subscribers={s.extension: s for s in subscribers or []},
            schedules={s.id: s for s in schedules or []},
            caller_lists={c.id: c for c in caller_lists or []},
            tenant_crm_url=tenant_crm_url,
            queues={q.id: q for q in queues or []},
        )
