"""The template's webhook functions as Lambda runs them: functions/dispatcher/app.py fed with the table's real stream
records (moto's stream of a call driven through the API), functions/deliveries/app.py fed with the SQS messages it
sends (moto's SQS). The receiver does not resolve (hooks.invalid), so every attempt fails and is re-enqueued."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from vpbx.local.gateway import load_module
from vpbx.local.template import Function
from vpbx.local.webhooks import lambda_shaped

from tests.helpers.scenarios import seed_scenario
from tests.security.harness import InProcessApi, in_process_api

ROOT = Path(__file__).resolve().parents[2]


class Context:
    function_name = "test"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id = "req-1"


@pytest.fixture(scope="module")
def api(moto_server: str) -> Iterator[InProcessApi]:
    with in_process_api(moto_server) as built:
        yield built


@pytest.fixture
def queue_url(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", moto_server)
    url = str(boto3.client("sqs").create_queue(QueueName="vpbx-webhook-deliveries")["QueueUrl"])
    boto3.client("sqs").purge_queue(QueueUrl=url)
    monkeypatch.setenv("WEBHOOK_QUEUE_URL", url)
    return url


def handler_of(name: str) -> Any:
    function = Function(logical_id=f"Test{name}", code_dir=ROOT / "functions" / name, handler="app.handler")
    return load_module(function).handler


def stream_records(api: InProcessApi) -> list[dict[str, Any]]:
    tables = boto3.client("dynamodb", endpoint_url=api.endpoint)
    streams = boto3.client("dynamodbstreams", endpoint_url=api.endpoint)
    arn = tables.describe_table(TableName=api.table_name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"]
    return [lambda_shaped(record) for record in records]


def answered_call(api: InProcessApi) -> tuple[str, str]:
    """A tenant with a webhook on call.started and call.answered, and one answered call; (tenant id, webhook id)."""
    created = api.request("POST", "/v1/tenants", api.operator_key, {"id": "fn-hooks", "name": "Functions"})
    admin = created.json()["admin_key"]["secret"]
    telephony = api.request("POST", "/v1/tenants/fn-hooks/keys", admin, {"role": "telephony"}).json()["secret"]
    hook = api.request(
        "POST",
        "/v1/webhooks",
        admin,
        {"url": "https://hooks.invalid/vpbx", "events": ["call.started", "call.answered"]},
    ).json()
    for extension in ("101", "102"):
        api.request("POST", "/v1/subscribers", admin, {"extension": extension, "name": extension})
    draft = api.request("POST", "/v1/scenarios", admin, {"id": "main", **seed_scenario()})
    api.request("POST", "/v1/scenarios/main/publish", admin, headers={"If-Match": draft.headers["etag"]})
    api.request("POST", "/v1/numbers", admin, {"number": "+74951234567", "scenario_id": "main"})
    start = {"call_id": "fn-call", "from": "+79161234567", "to": "+74951234567"}
    assert api.request("POST", "/v1/calls", telephony, start).status == 201
    assert api.request("POST", "/v1/calls/fn-call/events", telephony, {"seq": 1, "outcome": "answered"}).status == 200
    return "fn-hooks", hook["id"]


def test_stream_to_dispatcher_to_queue_to_deliveries(api: InProcessApi, queue_url: str) -> None:
    tenant_id, webhook_id = answered_call(api)
    records = stream_records(api)
    assert {record["eventName"] for record in records} >= {"INSERT", "MODIFY"}

    assert handler_of("dispatcher")({"Records": records}, Context()) == {"batchItemFailures": []}
    pending = api.repository.list_deliveries(tenant_id, webhook_id, 10, None).items
    assert sorted(d.event_type for d in pending) == ["call.answered", "call.started"]
    assert {d.state for d in pending} == {"pending"}

    sqs = boto3.client("sqs")
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 2
    assert {json.loads(m["Body"])["attempts"] for m in messages} == {0}

    # The same batch again (Lambda retried it): no new delivery record; a still-pending one is queued again (its
    # first message may have been lost), and the duplicate is dropped when it is handled.
    assert handler_of("dispatcher")({"Records": records}, Context()) == {"batchItemFailures": []}
    assert len(api.repository.list_deliveries(tenant_id, webhook_id, 10, None).items) == 2
    messages += sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 4

    batch = {
        "Records": [
            {"messageId": m["MessageId"], "body": m["Body"], "eventSource": "aws:sqs", "receiptHandle": "x"}
            for m in messages
        ]
    }
    assert handler_of("deliveries")(batch, Context()) == {"batchItemFailures": []}
    retrying = api.repository.list_deliveries(tenant_id, webhook_id, 10, None).items
    assert {(d.state, d.attempts, d.last_status_code) for d in retrying} == {("retrying", 1, None)}
    assert all("hooks.invalid" in (d.last_error or "") for d in retrying)
    delayed = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert delayed["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "2"  # the retries wait their 60 s
