"""DynamoDB tables built from template.yaml on a moto endpoint: created per test, per module or per benchmark."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from vpbx.api import deps
from vpbx.store import schema
from vpbx.store.dynamodb import DynamoRepository

REGION = "us-east-1"


def dynamodb_client(endpoint: str) -> Any:
    """A client of its own session (sessions are not thread-safe; tests and benchmarks use threads)."""
    return boto3.session.Session().client("dynamodb", endpoint_url=endpoint, region_name=REGION)


def create_table(client: Any, prefix: str) -> str:
    """A fresh table named `<prefix>-<random>`, laid out as template.yaml describes; returns its name."""
    table_name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    schema.create_table(client, table_name)
    return table_name


@contextmanager
def temporary_table(endpoint: str, prefix: str) -> Iterator[str]:
    """A fresh table for the block, dropped afterwards."""
    client = dynamodb_client(endpoint)
    table_name = create_table(client, prefix)
    try:
        yield table_name
    finally:
        client.delete_table(TableName=table_name)


def wipe(endpoint: str, table_name: str) -> None:
    client = dynamodb_client(endpoint)
    for page in client.get_paginator("scan").paginate(TableName=table_name, ProjectionExpression="PK, SK"):
        for item in page["Items"]:
            client.delete_item(TableName=table_name, Key={"PK": item["PK"], "SK": item["SK"]})


@contextmanager
def installed_repository(endpoint: str, table_name: str) -> Iterator[DynamoRepository]:
    """A DynamoRepository on the table, installed as the one every Lambda handler uses, uninstalled afterwards."""
    repository = DynamoRepository(table_name, endpoint_url=endpoint)
    deps.set_repository(repository)
    try:
        yield repository
    finally:
        deps.set_repository(None)
