"""Shared fixtures: a session-wide moto DynamoDB server, and tables built from template.yaml on it (one per test, or
one per module wiped between tests); the figures summary of the security, reliability and property suites."""

from collections.abc import Iterator

import pytest
from vpbx.store.dynamodb import DynamoRepository

from tests.helpers.moto import running_moto_server
from tests.helpers.tables import dynamodb_client, installed_repository, temporary_table, wipe
from tests.security.figures import write_summary

__all__ = ["dynamodb_client"]  # imported from here by suites that scan or create tables themselves

AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """Endpoint URL of a moto server on a free loopback port, with dummy AWS credentials in the environment."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in AWS_TEST_ENV.items():
            patch.setenv(name, value)
        with running_moto_server() as endpoint:
            yield endpoint


@pytest.fixture
def dynamo_table(moto_server: str) -> Iterator[tuple[str, str]]:
    """(endpoint, table name) of a fresh table created from template.yaml; dropped after the test."""
    with temporary_table(moto_server, "vpbx-test") as table_name:
        yield moto_server, table_name


@pytest.fixture(scope="module")
def module_table_name(moto_server: str) -> Iterator[str]:
    with temporary_table(moto_server, "vpbx-module") as table_name:
        yield table_name


@pytest.fixture
def module_dynamo_table(moto_server: str, module_table_name: str) -> Iterator[tuple[str, str]]:
    """(endpoint, table name) of the test module's table, emptied after each test: creating a table costs about a
    second on moto, wiping a few items much less."""
    yield moto_server, module_table_name
    wipe(moto_server, module_table_name)


@pytest.fixture
def handler_repository(module_dynamo_table: tuple[str, str]) -> Iterator[DynamoRepository]:
    """A DynamoRepository on the module's table, installed as the repository every Lambda handler uses."""
    with installed_repository(*module_dynamo_table) as repository:
        yield repository


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    write_summary(terminalreporter)
