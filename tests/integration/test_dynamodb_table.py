"""What only the DynamoDB implementation has: retries, error mapping, item sizes, the index projection and the table
built from template.yaml."""

import json
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.retries.standard import ExponentialBackoff
from vpbx.domain.directory import CallerList, CallerPattern, Subscriber
from vpbx.domain.errors import Unavailable
from vpbx.domain.scenario import Scenario
from vpbx.store import keys, schema
from vpbx.store.codec import MAX_TRACE_STEPS
from vpbx.store.dynamodb import CALL_LISTING_ATTRIBUTES, DynamoRepository
from vpbx.store.models import (
    CallSummary,
    DirectorySnapshot,
    PhoneNumber,
)

from tests.conftest import dynamodb_client
from tests.helpers.item_size import index_entry_size, item_size

if TYPE_CHECKING:  # conftest is loaded by pytest itself; import it for the annotation only
    pass

from tests.integration.store_contract import T0, A, call_record, with_seq


class _Body:
    """The raw body botocore reads a canned HTTP response from."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def stream(self, **_: object) -> Any:
        yield self.payload


def throttle_first(client: Any, operation: str, failures: int) -> list[int]:
    """Answer the first `failures` requests of `operation` with a throttling error; returns the request counter."""
    sent = [0]

    def answer(**_: object) -> AWSResponse | None:
        sent[0] += 1
        if sent[0] > failures:
            return None
        body = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "slow down"})
        headers: Any = {"Content-Type": "application/x-amz-json-1.0"}
        return AWSResponse("http://dynamodb", 400, headers, _Body(body.encode()))

    client.meta.events.register(f"before-send.dynamodb.{operation}", answer)
    return sent


@pytest.fixture
def dynamo_repository(dynamo_table: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> DynamoRepository:
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)  # retry at once in tests
    endpoint, table_name = dynamo_table
    return DynamoRepository(table_name, endpoint_url=endpoint)


def test_throttling_is_retried_by_botocore(dynamo_repository: DynamoRepository) -> None:
    dynamo_repository.create_subscriber(A, Subscriber(extension="101", name="Anna"))
    sent = throttle_first(dynamo_repository.client, "GetItem", failures=4)
    assert dynamo_repository.get_subscriber(A, "101").item.name == "Anna"
    assert sent[0] == 5  # botocore's retries "max_attempts": 4 means four retries after the first try


def test_throttling_that_outlasts_the_retries_is_unavailable(dynamo_repository: DynamoRepository) -> None:
    sent = throttle_first(dynamo_repository.client, "GetItem", failures=100)
    with pytest.raises(Unavailable):
        dynamo_repository.get_subscriber(A, "101")
    assert sent[0] == 5


class FailingClient:
    """A DynamoDB client whose every operation fails with one error code."""

    def __init__(self, code: str, status: int) -> None:
        self.code, self.status = code, status

    def __getattr__(self, operation: str) -> Callable[..., Any]:
        def fail(**_: object) -> Any:
            error = {
                "Error": {"Code": self.code, "Message": "failed"},
                "ResponseMetadata": {"HTTPStatusCode": self.status},
            }
            raise ClientError(error, operation)  # type: ignore[arg-type]

        return fail


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ProvisionedThroughputExceededException", 400, Unavailable),
        ("RequestLimitExceeded", 400, Unavailable),
        ("InternalServerError", 500, Unavailable),
        ("ResourceNotFoundException", 400, Unavailable),
        ("AccessDeniedException", 400, Unavailable),
        ("ValidationException", 400, Unavailable),
    ],
)
def test_client_errors_never_leak_raw(code: str, status: int, expected: type[Exception]) -> None:
    repository = DynamoRepository("table", client=FailingClient(code, status))
    for attempt in (
        lambda: repository.get_subscriber(A, "101"),
        lambda: repository.create_subscriber(A, Subscriber(extension="101", name="Anna")),
        lambda: repository.list_subscribers(A, 10, None),
        lambda: repository.create_number(A, PhoneNumber(number="+74951234567")),
        lambda: repository.save_call(A, call_record("c1", T0), 1),
        lambda: repository.scenarios_using(A, "extension", "101"),
    ):
        with pytest.raises(expected):
            attempt()


def test_missing_table_and_unreachable_endpoint_are_unavailable(
    dynamo_table: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    endpoint, _ = dynamo_table
    with pytest.raises(Unavailable):
        DynamoRepository("no-such-table", endpoint_url=endpoint).get_tenant(A)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(Unavailable):
        DynamoRepository("t", endpoint_url=f"http://127.0.0.1:{closed_port}").get_tenant(A)


def test_large_scenario_and_snapshot_fit_in_one_item(dynamo_repository: DynamoRepository) -> None:
    text = "Please hold, your call is important to us. " * 5
    elements = [{"id": "in", "type": "incoming_call"}] + [
        {"id": f"g{i}", "type": "greeting", "prompt": {"text": text}} for i in range(900)
    ]
    big = Scenario.model_validate({"name": "big", "elements": elements})
    assert len(big.model_dump_json()) > 200_000
    patterns = [CallerPattern(kind="exact", value=f"+7916{i:07d}") for i in range(10_000)]
    snapshot = DirectorySnapshot(caller_lists=[CallerList(id="vip", name="VIP", patterns=patterns)])
    dynamo_repository.create_scenario(A, "big", big)
    version = dynamo_repository.publish_scenario(A, "big", 1, snapshot, T0, None)
    assert dynamo_repository.get_scenario_version(A, "big", 1) == version
    assert dynamo_repository.get_scenario(A, "big").item.scenario == big


def test_calls_index_holds_only_the_listing_not_the_whole_call(dynamo_repository: DynamoRepository) -> None:
    """GSI1 projects the summary, not `data`: an index write stays at 1 KB however long the trace grows."""
    call = with_seq(call_record("c1", T0), 1, steps=MAX_TRACE_STEPS)
    dynamo_repository.create_call(A, call)
    client, table_name = dynamo_repository.client, dynamo_repository.table_name
    key = {"PK": {"S": f"TENANT#{A}#CALL#c1"}, "SK": {"S": "CALL#c1"}}
    table_item = client.get_item(TableName=table_name, Key=key)["Item"]
    (index_item,) = client.query(
        TableName=table_name,
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :p",
        ExpressionAttributeValues={":p": table_item["GSI1PK"]},
    )["Items"]

    assert set(index_item) == {"PK", "SK", "GSI1PK", "GSI1SK", *CALL_LISTING_ATTRIBUTES}
    assert index_entry_size(index_item) < 1024 < item_size(table_item)
    assert CallSummary.model_validate_json(index_item["summary"]["S"]) == CallSummary.of(call)


# ------------------------------------------------------------------------------------------------------ schema
def test_table_is_built_from_the_template(dynamo_table: tuple[str, str]) -> None:
    endpoint, table_name = dynamo_table
    client = dynamodb_client(endpoint)
    table = client.describe_table(TableName=table_name)["Table"]
    properties = schema.table_properties()
    assert table["KeySchema"] == properties["KeySchema"]
    filter_indexes = [name for name, _ in keys.CALL_INDEXES.values()]
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["GSI1", *filter_indexes]
    assert [index["IndexName"] for index in properties["GlobalSecondaryIndexes"]] == ["GSI1", *filter_indexes]
    projection = table["GlobalSecondaryIndexes"][0]["Projection"]
    assert projection == {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(CALL_LISTING_ATTRIBUTES)}
    ttl = client.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")


SHORT_FORM_TEMPLATE = """
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${AWS::StackName}-table"
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: PK, AttributeType: S}]
      KeySchema: [{AttributeName: PK, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_IMAGE}
      SSESpecification: {SSEEnabled: true}
      PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: true}
      TimeToLiveSpecification: {AttributeName: ttl, Enabled: true}
      Tags: [{Key: owner, Value: !Ref Owner}]
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Environment: {Variables: {TABLE: !GetAtt Table.Arn, LIST: !Split [",", "a,b"]}}
"""


def test_table_definition_reads_short_form_tags_and_keeps_only_create_table_arguments(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(SHORT_FORM_TEMPLATE)
    monkeypatch.setenv(schema.TEMPLATE_ENV_VAR, str(template))
    definition = schema.table_definition()
    assert definition == {
        "AttributeDefinitions": [{"AttributeName": "PK", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "PK", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
        "SSESpecification": {"Enabled": True},
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    }
    assert schema.ttl_attribute() == "ttl"
    assert schema.table_definition(schema.DEFAULT_TEMPLATE)["KeySchema"][0]["AttributeName"] == "PK"


def test_template_without_a_table_is_a_clear_error(tmp_path: Any) -> None:
    template = tmp_path / "template.yaml"
    template.write_text("Resources: {Fn: {Type: AWS::Serverless::Function}}\n")
    with pytest.raises(ValueError, match="no AWS::DynamoDB::Table"):
        schema.table_definition(template)
    with pytest.raises(FileNotFoundError):
        schema.table_definition(tmp_path / "missing.yaml")
