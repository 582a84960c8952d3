"""A table per test module (creating one costs about a second on moto), wiped between tests."""

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
from vpbx.store import schema


def client_for(endpoint: str) -> Any:
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")


def module_table(endpoint: str) -> Iterator[str]:
    client = client_for(endpoint)
    table_name = f"vpbx-module-{uuid.uuid4().hex[:12]}"
    schema.create_table(client, table_name)
    try:
        yield table_name
    finally:
        client.delete_table(TableName=table_name)


def wipe(endpoint: str, table_name: str) -> None:
    client = client_for(endpoint)
    for page in client.get_paginator("scan").paginate(TableName=table_name, ProjectionExpression="PK, SK"):
        for item in page["Items"]:
            client.delete_item(TableName=table_name, Key={"PK": item["PK"], "SK": item["SK"]})
