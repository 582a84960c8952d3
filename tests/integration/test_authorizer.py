"""The REQUEST authorizer handler: API Gateway events in, IAM policies with the caller's context out (moto table)."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from vpbx.api.settings import get_settings
from vpbx.service import admin
from vpbx.service.keys import issue_key
from vpbx.store.dynamodb import DynamoRepository

from tests.helpers.apigw import lambda_context
from tests.helpers.functions import load_function

SAMPLE = json.loads((Path(__file__).resolve().parents[2] / "events" / "authorizer_request.json").read_text())
NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


@pytest.fixture
def repository(handler_repository: DynamoRepository) -> DynamoRepository:
    """The handlers' repository on this module's table (instead of the contract tests' memory/DynamoDB pair)."""
    return handler_repository


def authorize(api_key: str | None, header: str = "X-Api-Key") -> dict[str, Any]:
    event = json.loads(json.dumps(SAMPLE))
    event["headers"] = {"Host": "example"} | ({header: api_key} if api_key is not None else {})
    result: dict[str, Any] = load_function("AuthorizerFunction").handler(event, lambda_context())
    return result


def statement(result: dict[str, Any]) -> dict[str, Any]:
    statements = result["policyDocument"]["Statement"]
    assert len(statements) == 1
    return dict(statements[0])


def test_active_key_is_allowed_on_the_whole_api_with_its_caller(repository: DynamoRepository) -> None:
    _, issued = admin.create_tenant(repository, "Acme", NOW, tenant_id="acme")
    result = authorize(issued.secret)
    allow = statement(result)
    assert allow["Effect"] == "Allow"
    assert allow["Resource"] == "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/v1/*/*"
    assert result["context"] == {"tenant_id": "acme", "key_id": issued.key.id, "role": "admin"}
    assert result["principalId"] == issued.key.id


def test_header_name_is_case_insensitive(repository: DynamoRepository) -> None:
    _, issued = admin.create_tenant(repository, "Acme", NOW, tenant_id="acme")
    assert statement(authorize(issued.secret, header="x-api-key"))["Effect"] == "Allow"


@pytest.mark.parametrize("api_key", [None, "", "vpbx_not-a-key-anyone-issued", "x" * 5000])
def test_missing_or_unknown_key_is_unauthorized(repository: DynamoRepository, api_key: str | None) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(api_key)


def test_revoked_key_is_denied(repository: DynamoRepository) -> None:
    _, issued = admin.create_tenant(repository, "Acme", NOW, tenant_id="acme")
    repository.revoke_api_key("acme", issued.key.id, NOW)
    result = authorize(issued.secret)
    assert statement(result)["Effect"] == "Deny"
    assert "usageIdentifierKey" not in result


def test_usage_identifier_key_comes_from_settings(
    repository: DynamoRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = issue_key("acme", "viewer", "wallboard", NOW)
    repository.put_api_key(issued.key)
    monkeypatch.setenv("USAGE_IDENTIFIER_KEY", "usage-plan-key-0123456789")
    get_settings.cache_clear()
    try:
        result = authorize(issued.secret)
    finally:
        monkeypatch.delenv("USAGE_IDENTIFIER_KEY")
        get_settings.cache_clear()
    assert result["usageIdentifierKey"] == "usage-plan-key-0123456789"
    assert result["context"]["role"] == "viewer"


def test_operator_bootstrap_key_is_idempotent(repository: DynamoRepository) -> None:
    first = admin.ensure_operator_key(repository, "vpbx_bootstrap_operator_secret", NOW)
    again = admin.ensure_operator_key(repository, "vpbx_bootstrap_operator_secret", NOW)
    assert first.id == again.id
    assert authorize("vpbx_bootstrap_operator_secret")["context"]["role"] == "operator"
