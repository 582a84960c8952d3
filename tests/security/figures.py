"""Figures the security, reliability and property suites measure: printed as they happen and again at session end.

Tests call `report("BOLA: 420 probes, 420 x 404, 0 foreign rows")` and assert on the same numbers; the conftests
print every reported line in a terminal-summary section, so CI logs carry them without `-s`.
"""

_lines: list[str] = []
_printed = False


def report(line: str) -> None:
    print(line)
    _lines.append(line)


def lines() -> list[str]:
    return list(_lines)


def write_summary(terminalreporter: object) -> None:
    """Print every reported figure once per session (several conftests call this; only the first one writes)."""
    global _printed
    if _printed or not _lines:
        return
    _printed = True
    from tests.security.audit import AUDIT

    reporter = terminalreporter
    reporter.section("vpbx security / reliability figures")  # type: ignore[attr-defined]
    scanned = (
        f"Leak scan: {AUDIT.scanned} response bodies scanned for tracebacks and internal exception names, "
        f"{AUDIT.leaks} leaks ({AUDIT.server_errors()} were 5xx)"
    )
    for line in [*_lines, scanned]:
        reporter.write_line(line)  # type: ignore[attr-defined]
