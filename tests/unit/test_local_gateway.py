"""The local API Gateway stand-in on a tiny template with fake functions: routing, authorizer outcomes, bodies."""

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from vpbx.local.gateway import LocalGateway
from vpbx.local.instances import ProcessPool
from vpbx.local.template import local_api

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Handler: app.handler
    Environment:
      Variables:
        TABLE_NAME: !Ref Table
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
      Auth:
        DefaultAuthorizer: Keys
        Authorizers:
          Keys:
            FunctionArn: !GetAtt AuthFunction.Arn
      GatewayResponses:
        UNAUTHORIZED:
          StatusCode: 401
          ResponseTemplates:
            application/json: '{"error": {"code": "unauthorized", "message": "no", "details": []}}'
  AuthFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/auth/
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/echo/
      Events:
        ListThings:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: /v1/things, Method: get}
        GetThing:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: '/v1/things/{thing_id}', Method: get}
        GetSpecial:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: /v1/things/special, Method: get}
        PostThing:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: /v1/things, Method: post}
        Public:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /v1/public
            Method: get
            Auth: {Authorizer: NONE}
  MissingFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/missing/
      Events:
        Later:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: /v1/later, Method: get}
"""

AUTH = """
def handler(event, context):
    key = (event.get("headers") or {}).get("X-Api-Key")
    if key == "boom":
        raise RuntimeError("database down")
    if key not in ("good", "revoked"):
        raise Exception("Unauthorized")
    effect = "Allow" if key == "good" else "Deny"
    arn = event["methodArn"].split("/")[0] + "/v1/*/*"
    return {"principalId": "k1", "policyDocument": {"Statement": [{"Effect": effect, "Resource": arn}]},
            "context": {"tenant_id": "acme", "key_id": "k1", "role": "admin"}}
"""

ECHO = """
import json, os, time
def handler(event, context):
    if event["path"] == "/v1/things/crash":
        raise RuntimeError("secret detail")
    if event["path"] == "/v1/things/exit":
        os._exit(3)  # the instance dies mid-request
    if event["path"] == "/v1/things/slow":
        time.sleep(0.5)
    return {"statusCode": 200, "multiValueHeaders": {"Content-Type": ["application/json"]},
            "body": json.dumps({"resource": event["resource"], "params": event["pathParameters"],
                                "query": event["multiValueQueryStringParameters"], "body": event["body"],
                                "base64": event["isBase64Encoded"], "caller": event["requestContext"]["authorizer"],
                                "stage": event["requestContext"]["stage"]})}
"""


def write_api(root: Path) -> Path:
    (root / "template.yaml").write_text(TEMPLATE)
    for name, code in {"auth": AUTH, "echo": ECHO}.items():
        (root / "fn" / name).mkdir(parents=True)
        (root / "fn" / name / "app.py").write_text(code)
    return root / "template.yaml"


@pytest.fixture(params=["in-process", "instances"])
def gateway(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LocalGateway]:
    """Every behaviour below holds both in-process (tests) and with instance processes (`vpbx serve`)."""
    invoker = ProcessPool(2) if request.param == "instances" else None
    gateway = LocalGateway(local_api(write_api(tmp_path)), invoker)
    yield gateway
    gateway.close()


def get(gateway: LocalGateway, path: str, key: str | None = "good", method: str = "GET", body: bytes = b"") -> tuple:
    headers = [("X-Api-Key", key)] if key else []
    response = gateway.handle(method, path, headers, body)
    return response.status, json.loads(response.body), response


def test_routes_come_from_the_template_with_path_parameters_and_query(gateway: LocalGateway) -> None:
    status, body, _ = get(gateway, "/v1/things/t%201?tag=a&tag=b")
    assert status == 200
    assert body["resource"] == "/v1/things/{thing_id}"
    assert body["params"] == {"thing_id": "t 1"}
    assert body["query"] == {"tag": ["a", "b"]}
    assert body["stage"] == "v1"
    assert body["caller"] == {"tenant_id": "acme", "key_id": "k1", "role": "admin", "principalId": "k1"}


def test_a_literal_segment_beats_a_parameter(gateway: LocalGateway) -> None:
    assert get(gateway, "/v1/things/special")[1]["resource"] == "/v1/things/special"


def test_authorizer_outcomes(gateway: LocalGateway) -> None:
    assert get(gateway, "/v1/things", key=None)[:2] == (
        401,
        {"error": {"code": "unauthorized", "message": "no", "details": []}},
    )
    assert get(gateway, "/v1/things", key="unknown")[0] == 401
    assert get(gateway, "/v1/things", key="revoked")[0] == 403
    status, body, _ = get(gateway, "/v1/things", key="boom")
    assert status == 500
    assert "database" not in json.dumps(body)


def test_public_routes_skip_the_authorizer(gateway: LocalGateway) -> None:
    status, body, _ = get(gateway, "/v1/public", key=None)
    assert status == 200
    assert body["caller"] is None


def test_unknown_path_404_wrong_method_405(gateway: LocalGateway) -> None:
    assert get(gateway, "/v1/nothing")[0] == 404
    status, body, response = get(gateway, "/v1/things", method="DELETE")
    assert status == 405
    assert response.header("Allow") == "GET, POST"
    assert body["error"]["code"] == "method_not_allowed"


def test_bodies_pass_as_text_or_base64(gateway: LocalGateway) -> None:
    assert get(gateway, "/v1/things", method="POST", body=b'{"a": 1}')[1]["body"] == '{"a": 1}'
    binary = get(gateway, "/v1/things", method="POST", body=b"\xff\xfe")[1]
    assert (binary["body"], binary["base64"]) == ("//4=", True)


def test_function_crash_is_502_without_details_and_missing_code_is_501(gateway: LocalGateway) -> None:
    status, body, _ = get(gateway, "/v1/things/crash")
    assert status == 502
    assert "secret" not in json.dumps(body)
    assert get(gateway, "/v1/later")[0] == 501


def test_instances_serve_requests_in_parallel(tmp_path: Path) -> None:
    gateway = LocalGateway(local_api(write_api(tmp_path)), ProcessPool(4))
    try:

        def burst() -> float:
            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=4) as pool:
                statuses = list(pool.map(lambda _: get(gateway, "/v1/things/slow")[0], range(4)))
            assert statuses == [200] * 4
            return time.monotonic() - started

        burst()  # starts the instances (cold starts)
        elapsed = burst()
        assert elapsed < 1.5, f"4 requests of 0.5 s took {elapsed:.2f} s: they ran one after another"
    finally:
        gateway.close()


def test_a_dead_instance_is_a_502_and_is_replaced(tmp_path: Path) -> None:
    gateway = LocalGateway(local_api(write_api(tmp_path)), ProcessPool(1))
    try:
        assert get(gateway, "/v1/things/exit")[0] == 502
        assert get(gateway, "/v1/things")[0] == 200
    finally:
        gateway.close()
