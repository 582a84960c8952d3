"""Every response the security and reliability suites see is scanned here: no traceback, no internal exception name,
and every JSON error in the one shape: `{"error": {code, message, details, request_id}}`, each detail
`{loc, msg, type, …}` with loc rooted at body, query, path or header.

`scan(status, body)` raises AssertionError on a leak and counts what it checked, so the suites can print how many
responses were scanned (and a test can fail if, say, a 5xx body quoted a Python exception).
"""

import json
import re
from typing import Any

TRACEBACK_PATTERNS = [re.compile(r"Traceback \(most recent call last\)"), re.compile(r'File "[^"]+", line \d+')]
# Exception names are checked in error bodies only: a 2xx may legitimately carry them (a subscriber named
# "KeyError", or the OpenAPI document's own schema names).
LEAK_PATTERNS = [
    re.compile(pattern)
    for pattern in (
        r"\b(KeyError|ValueError|TypeError|AttributeError|IndexError|RecursionError|UnicodeDecodeError)\b",
        r"\b(ValidationError|ClientError|BotoCoreError|ParamValidationError|JSONDecodeError)\b",
        r"\b(ConditionalCheckFailedException|TransactionCanceledException|ProvisionedThroughputExceededException)\b",
        r"\b(ThrottlingException|ResourceNotFoundException|InternalServerError)\b",
        r"\bbotocore\b|\bboto3\b|\bpydantic_core\b|site-packages|/work/|\.py\b",
    )
]


class Audit:
    def __init__(self) -> None:
        self.scanned = 0
        self.leaks = 0
        self.by_status: dict[int, int] = {}
        self.misshapen = 0

    def scan(self, status: int, body: bytes | str, where: str = "", sent: str = "") -> None:
        """`sent`: the request as text; a name the client sent and the error quotes back is an echo, not a leak."""
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        self.scanned += 1
        self.by_status[status] = self.by_status.get(status, 0) + 1
        for pattern in TRACEBACK_PATTERNS + (LEAK_PATTERNS if status >= 400 else []):
            found = next((match for match in pattern.finditer(text) if match.group(0) not in sent), None)
            if found is not None:
                self.leaks += 1
            assert found is None, f"{where}: response {status} leaks internals ({found.group(0)!r}): {text[:500]}"
        if status >= 400 and text.startswith("{"):
            problems = shape_problems(json.loads(text))
            self.misshapen += bool(problems)
            assert problems == [], f"{where}: response {status} is not in the error shape ({problems}): {text[:500]}"

    def server_errors(self) -> int:
        return sum(count for status, count in self.by_status.items() if status >= 500)


ERROR_KEYS = {"code", "message", "details", "request_id"}
LOC_ROOTS = {"body", "query", "path", "header"}


def shape_problems(body: Any) -> list[str]:
    """What keeps an error body from the documented shape (empty when it conforms)."""
    if not isinstance(body, dict) or set(body) != {"error"} or not isinstance(body["error"], dict):
        return ["not {'error': {...}}"]
    error = body["error"]
    problems = [f"missing {key}" for key in sorted(ERROR_KEYS - set(error))]
    problems += [f"extra {key}" for key in sorted(set(error) - ERROR_KEYS)]
    for index, detail in enumerate(error.get("details") or []):
        loc = detail.get("loc") if isinstance(detail, dict) else None
        if not isinstance(loc, list) or not loc or loc[0] not in LOC_ROOTS:
            problems.append(f"details[{index}].loc {loc!r} is not rooted at {sorted(LOC_ROOTS)}")
        elif not (isinstance(detail.get("msg"), str) and detail["msg"] and isinstance(detail.get("type"), str)):
            problems.append(f"details[{index}] lacks msg/type")
    return problems


AUDIT = Audit()


def leaks(text: str) -> list[str]:
    """The internal markers found in `text` (empty when clean); used by tests that check a single body."""
    return [found.group(0) for pattern in TRACEBACK_PATTERNS + LEAK_PATTERNS if (found := pattern.search(text))]
