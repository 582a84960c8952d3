"""The one body guard: every request body is checked and parsed here, before anything else reads it.

Powertools (and the calls function's log keys) read the body after this, so nothing can hit Python's JSON parser
with input the guard did not accept first. Strict JSON: UTF-8 text within the size limit, nesting ≤ MAX_JSON_DEPTH,
no NaN/Infinity, no duplicate keys, integers within 64 bits and finite floats.
"""

import base64
import binascii
import json
import math
from collections.abc import Mapping
from typing import Any, NoReturn

from vpbx.api.errors import InvalidBody, InvalidJson, PayloadTooLarge, UnsupportedMediaType

MAX_JSON_DEPTH = 64
MAX_INTEGER = 2**63 - 1  # what every JSON client and DynamoDB's 38-digit numbers agree on
_MAX_INTEGER_CHARS = len(str(MAX_INTEGER)) + 1  # a sign; longer literals are refused before int() parses them


def guard_body(event: Mapping[str, Any], max_bytes: int) -> Any:
    """The parsed JSON body (None when there is none); a 400/413/415 error for anything else."""
    body = event.get("body")
    if body is None or body == "":
        return None
    content_type = _header(event, "content-type")
    if content_type and not _is_json_media_type(content_type):
        raise UnsupportedMediaType(f"Send JSON with Content-Type: application/json (got {content_type[:100]!r})")
    raw = _raw_bytes(body, bool(event.get("isBase64Encoded")))
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"The body is {len(raw)} bytes; the limit is {max_bytes}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidBody(
            f"The body is not valid UTF-8 (byte {error.start})",
            [{"loc": ["body"], "msg": "not valid UTF-8", "type": "utf8_invalid", "byte": error.start}],
        ) from None
    value = parse_json(text)
    if _depth_exceeds(value, MAX_JSON_DEPTH):
        _invalid(f"The body is nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def parse_json(text: str) -> Any:
    try:
        return json.loads(
            text,
            parse_int=_integer,
            parse_float=_finite_float,
            parse_constant=_no_constant,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as error:
        _invalid(
            f"The body is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})",
            line=error.lineno,
            column=error.colno,
        )
    except RecursionError:
        _invalid(f"The body is nested deeper than {MAX_JSON_DEPTH} levels")


def _invalid(message: str, rule: str = "json_invalid", **where: int) -> NoReturn:
    raise InvalidJson(message, [{"loc": ["body"], "msg": message, "type": rule, **where}])


def _integer(literal: str) -> int:
    if len(literal) > _MAX_INTEGER_CHARS or abs(value := int(literal)) > MAX_INTEGER:
        _invalid(f"The body has an integer beyond ±{MAX_INTEGER} (64 bits)", "integer_range")
    return value


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        _invalid(f"The body has a number too large for a double: {literal[:40]}")
    return value


def _no_constant(name: str) -> NoReturn:
    _invalid(f"The body has {name}, which is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                _invalid(f"The body repeats the key {key[:64]!r} in one object")
            seen.add(key)
    return value


def _header(event: Mapping[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name and isinstance(value, str):
            return value.strip()
    return None


def _is_json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def _raw_bytes(body: Any, is_base64: bool) -> bytes:
    if not isinstance(body, str):
        raise InvalidBody("The body must be text")
    if is_base64:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidBody("The body is not valid base64") from None
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidBody(f"The body is not valid UTF-8 (character {error.start})") from None


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict | list) and depth > limit:
            return True
        if isinstance(current, dict):
            stack.extend((child, depth + 1) for child in current.values())
        elif isinstance(current, list):
            stack.extend((child, depth + 1) for child in current)
    return False
