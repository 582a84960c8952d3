"""Shared fixtures: a session-wide moto DynamoDB server and a fresh table per test, built from template.yaml."""

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from vpbx.store import schema

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
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


def dynamodb_client(endpoint: str) -> Any:
    return boto3.session.Session().client("dynamodb", endpoint_url=endpoint, region_name=AWS_TEST_ENV["AWS_REGION"])


@pytest.fixture
def dynamo_table(moto_server: str) -> Iterator[tuple[str, str]]:
    """(endpoint, table name) of a fresh table created from template.yaml; dropped after the test."""
    client = dynamodb_client(moto_server)
    table_name = f"vpbx-test-{uuid.uuid4().hex[:12]}"
    schema.create_table(client, table_name)
    try:
        yield moto_server, table_name
    finally:
        client.delete_table(TableName=table_name)
