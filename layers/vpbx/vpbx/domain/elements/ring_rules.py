"""The rules every ringing element shares (subscribers, external numbers, groups, and the ring after a CRM lookup):
the seed's wait rules, dial delays of phone networks, directory checks of extensions, and ring timing.
"""

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from vpbx.domain.calls import RingTarget
from vpbx.domain.directory import Directory, Subscriber
from vpbx.domain.elements.base import (
    DEFAULT_WAIT_SECONDS,
    DIAL_DELAY_MARGIN_SECONDS,
    MAX_WAIT_SECONDS,
    MIN_WAIT_SECONDS,
    CheckContext,
    ElementBase,
    label_of,
)
from vpbx.domain.phone import InvalidPhoneNumber, dial_delay_for_target, normalize_e164

_DIALLED_KINDS = ("external", "mobile")  # subscribers reached over a phone network, which takes time to ring

FieldOf = Callable[[int], str]
"""The field that names the extension at a position: "extension", or "members.<i>" for a group."""


def single_extension(position: int) -> str:
    return "extension"


def unlimited_reason(limit_wait: bool) -> str:
    if limit_wait:
        return ""
    return " (without limit_wait it rings until answered; turn limit_wait on and set wait_seconds to continue)"


DialDelays = Callable[[Directory | None], list[tuple[str, str, int]]]


def check_wait(
    element: Any, limited: bool, context: CheckContext, dial_delays: DialDelays, *, paces_members: bool = False
) -> None:
    """The seed's rules: a limited wait needs a sane number of seconds; without a limit the element ends the route.
    `paces_members`: the wait still matters without a limit (a group's wait paces its members)."""
    wait: int | None = element.wait_seconds
    if wait is None:
        if limited:
            context.add(
                "missing_wait_seconds",
                f"{label_of(element)} limits the wait but has no wait_seconds, so it rings for the default "
                f"{DEFAULT_WAIT_SECONDS} s; set {MIN_WAIT_SECONDS}–{MAX_WAIT_SECONDS} s",
                element_id=element.id,
                field="wait_seconds",
            )
    elif not limited and not paces_members:
        context.add(
            "wait_ignored",
            f"{label_of(element)} has wait_seconds but limit_wait is off, so it rings until answered and ends the "
            "route",
            element_id=element.id,
            field="wait_seconds",
        )
    elif not MIN_WAIT_SECONDS <= wait <= MAX_WAIT_SECONDS:
        context.add(
            "wait_out_of_range",
            f"{label_of(element)} waits {wait} s; wait_seconds must be {MIN_WAIT_SECONDS}–{MAX_WAIT_SECONDS}",
            element_id=element.id,
            field="wait_seconds",
        )
    else:
        _check_dial_delays(element, wait, dial_delays(context.directory), context)


def _check_dial_delays(element: Any, wait: int, delays: list[tuple[str, str, int]], context: CheckContext) -> None:
    """The seed's note, automated: mobile and satellite networks need seconds before the target even rings."""
    for where, target, delay in delays:
        if wait < delay + DIAL_DELAY_MARGIN_SECONDS:
            context.add(
                "wait_below_dial_delay",
                f"{label_of(element)} waits {wait} s, but {target} needs about {delay} s to start ringing; "
                f"allow at least {delay + DIAL_DELAY_MARGIN_SECONDS} s",
                element_id=element.id,
                field=where,
            )


def subscriber_dial_delays(
    extensions: Sequence[str], directory: Directory | None, field_of: FieldOf = single_extension
) -> list[tuple[str, str, int]]:
    """(field, target description, dial delay) for each external/mobile subscriber the element rings."""
    if directory is None or not extensions:
        return []
    subscribers = directory.subscribers
    delays = []
    for position, extension in enumerate(extensions):
        subscriber = subscribers.get(extension)
        if subscriber is not None and subscriber.kind in _DIALLED_KINDS:
            where = field_of(position)
            delays.append((where, f"{subscriber.kind} subscriber {extension}", _subscriber_delay(subscriber)))
    return delays


def check_subscribers(
    element: ElementBase, extensions: Sequence[str], context: CheckContext, field_of: FieldOf = single_extension
) -> None:
    """Each extension exists in the directory and is enabled."""
    if context.directory is None:
        return
    subscribers = context.directory.subscribers
    for position, extension in enumerate(extensions):
        subscriber = subscribers.get(extension)
        if subscriber is None:
            context.add(
                "unknown_extension",
                f"{label_of(element)} refers to extension {extension}, which is not in the directory",
                element_id=element.id,
                field=field_of(position),
            )
        elif not subscriber.enabled:
            context.add(
                "disabled_subscriber",
                f"{label_of(element)} refers to extension {extension} ({subscriber.name}), which is disabled",
                element_id=element.id,
                field=field_of(position),
            )


# Parsing a phone number costs tens of microseconds; a tenant's numbers repeat across validations, so remember them.
@lru_cache(maxsize=8192)
def target_delay(target: str) -> int:
    return dial_delay_for_target(target)


@lru_cache(maxsize=8192)
def _subscriber_delay(subscriber: Subscriber) -> int:
    return subscriber.dial_delay


@lru_cache(maxsize=8192)
def e164_problem(number: str) -> str | None:
    try:
        normalize_e164(number)
    except InvalidPhoneNumber as exc:
        return str(exc)
    return None


def wait_or_default(wait_seconds: int | None) -> int:
    return wait_seconds if wait_seconds is not None else DEFAULT_WAIT_SECONDS


def subscriber_delay(extension: str, directory: Directory) -> int:
    subscriber = directory.subscribers.get(extension)
    return subscriber.dial_delay if subscriber is not None else 0


def wait_text(limit_wait: bool, wait_seconds: int | None) -> str:
    if not limit_wait:
        return "no limit"
    return f"{wait_seconds} s" if wait_seconds is not None else "default wait"


def ring_timeout(limit_wait: bool, wait_seconds: int | None, targets: list[RingTarget]) -> int | None:
    if not limit_wait:
        return None
    return wait_or_default(wait_seconds) + max((t.dial_delay_seconds for t in targets), default=0)
