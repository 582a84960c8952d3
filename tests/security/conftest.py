"""Security suite fixtures: the API in-process on a moto table (one per module), and vpbx serve for HTTP samples."""

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import local_server  # noqa: F401 - the real-HTTP samples use the same `vpbx serve` harness
from tests.security.figures import write_summary
from tests.security.harness import InProcessApi, in_process_api


@pytest.fixture(scope="module")
def api(moto_server: str) -> Iterator[InProcessApi]:
    with in_process_api(moto_server) as built:
        yield built


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    write_summary(terminalreporter)
