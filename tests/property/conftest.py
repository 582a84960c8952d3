"""Property suite: prints its figures with the others at the end of the session."""

import pytest

from tests.security.figures import write_summary


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    write_summary(terminalreporter)
