"""Shared pydantic base and constrained types for the domain."""

import re
import types
from datetime import UTC, date, datetime
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints
from pydantic_core import PydanticCustomError

Extension = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,6}$")]
"""A subscriber's short internal number: 1–6 digits."""

ResourceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]
"""Identifier chosen by the client or generated: letters, digits, `_`, `.`, `-`; at most 64 characters."""

EARLIEST_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(9000, 1, 1, tzinfo=UTC)


def _within_instant_range(value: datetime) -> datetime:
    """Instants far from datetime's own ends: every zone conversion, holiday calendar and simulated minute of a call
    stays representable (9999-12-31T23:59-12:00 overflows when turned into UTC)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    try:
        instant = aware.astimezone(UTC)
    except OverflowError:
        instant = None
    if instant is None or not EARLIEST_INSTANT <= instant < LATEST_INSTANT:
        raise PydanticCustomError(
            "datetime_range",
            "must be from {earliest} up to (not including) {latest} UTC (naive means UTC)",
            {"earliest": f"{EARLIEST_INSTANT:%Y-%m-%d}", "latest": f"{LATEST_INSTANT:%Y-%m-%d}"},
        )
    return value


def _iso_text_only(value: Any) -> Any:
    """Dates and instants are ISO-8601 text: pydantic's lax mode would read `0.5` or `"0.5"` as a Unix time."""
    if isinstance(value, bool | int | float) or (isinstance(value, str) and not _ISO_DATE_START.match(value)):
        raise PydanticCustomError("datetime_format", "Input should be an ISO-8601 date or date-time (YYYY-MM-DD…)")
    return value


_ISO_DATE_START = re.compile(r"^\d{4}-\d{2}-\d{2}")
_ISO_TEXT_ONLY = BeforeValidator(_iso_text_only)

Instant = Annotated[datetime, _ISO_TEXT_ONLY, AfterValidator(_within_instant_range)]
"""A point in time given by a client (ISO-8601; naive means UTC), between EARLIEST_INSTANT and LATEST_INSTANT."""

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
ShortText = Annotated[str, StringConstraints(max_length=1000)]


def _not_a_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("number_type", "Input should be a number, not a boolean")
    return value


def _only_a_boolean(value: Any) -> Any:
    if value is not None and not isinstance(value, bool):
        raise PydanticCustomError("bool_type", "Input should be true or false")
    return value


_NOT_A_BOOLEAN = BeforeValidator(_not_a_boolean)
_ONLY_A_BOOLEAN = BeforeValidator(_only_a_boolean)


def _is_numeric(annotation: Any) -> bool:
    return _is_any_of(annotation, (int, float))


def _is_boolean(annotation: Any) -> bool:
    """bool or bool | None, but not a union with other types (which may take other values)."""
    arguments = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else (annotation,)
    return bool in arguments and all(argument in (bool, type(None)) for argument in arguments)


def _is_any_of(annotation: Any, kinds: tuple[type, ...]) -> bool:
    if annotation in kinds:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_is_any_of(argument, kinds) for argument in get_args(annotation))
    return False


class LazyModel(BaseModel):
    """Base of every vpbx model. Its validator and serializer are built on first use, not when the class is defined:
    a Lambda function defines ~100 models and a request uses a few, so building them all would tax every cold start
    (bench/cold_start_bench.py measures it).

    Booleans are not numbers, and numbers are not booleans: pydantic's lax mode would take `true` for 1
    (`{"seq": true}` advanced a call), `false` for 0.0 and `0` or `"yes"` for a bool. Every int/float field and every
    bool field of every subclass refuses the other kind, added here once rather than field by field; it is metadata
    on the field, so the deferred build still picks it up. Likewise every date/datetime field takes ISO-8601 text
    only, never a number read as a Unix time."""

    model_config = ConfigDict(defer_build=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        for field in cls.model_fields.values():
            if _is_numeric(field.annotation) and _NOT_A_BOOLEAN not in field.metadata:
                field.metadata.append(_NOT_A_BOOLEAN)
            elif _is_boolean(field.annotation) and _ONLY_A_BOOLEAN not in field.metadata:
                field.metadata.append(_ONLY_A_BOOLEAN)
            elif _is_any_of(field.annotation, (date, datetime)) and _ISO_TEXT_ONLY not in field.metadata:
                field.metadata.append(_ISO_TEXT_ONLY)


class StrictModel(LazyModel):
    """Rejects unknown fields so that typos and mass-assignment attempts fail loudly."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=4096)
