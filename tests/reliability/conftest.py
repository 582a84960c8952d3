"""Reliability suite fixtures: the in-process API on moto (faults) and `vpbx serve` (concurrency over HTTP)."""

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import local_server  # noqa: F401 - concurrency runs against the real `vpbx serve`
from tests.security.figures import write_summary
from tests.security.harness import InProcessApi, in_process_api


@pytest.fixture(scope="module")
def api(moto_server: str) -> Iterator[InProcessApi]:
    with in_process_api(moto_server) as built:
        yield built


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    write_summary(terminalreporter)
