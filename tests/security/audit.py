"""Every response the security and reliability suites see is scanned here: no traceback, no internal exception name.

`scan(status, body)` raises AssertionError on a leak and counts what it checked, so the suites can print how many
responses were scanned (and a test can fail if, say, a 5xx body quoted a Python exception).
"""

import re

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

    def server_errors(self) -> int:
        return sum(count for status, count in self.by_status.items() if status >= 500)


AUDIT = Audit()


def leaks(text: str) -> list[str]:
    """The internal markers found in `text` (empty when clean); used by tests that check a single body."""
    return [found.group(0) for pattern in TRACEBACK_PATTERNS + LEAK_PATTERNS if (found := pattern.search(text))]
