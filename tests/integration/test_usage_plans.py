"""Per-tenant usage plans: API Gateway keys provisioned in moto, copied onto API keys, returned by the authorizer."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from vpbx.api import deps
from vpbx.api.authorizer import authorize
from vpbx.api.settings import Settings
from vpbx.domain.tenancy import Caller
from vpbx.service import admin
from vpbx.service.usage_plans import ApiGatewayUsagePlans, NoUsagePlans
from vpbx.store.memory import InMemoryRepository

SAMPLE = json.loads((Path(__file__).resolve().parents[2] / "events" / "authorizer_request.json").read_text())
NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
FALLBACK = "default-usage-identifier-0123456789"
REGION = "eu-west-1"


@pytest.fixture
def apigateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.client("apigateway", region_name=REGION)


@pytest.fixture
def usage_plan_id(apigateway: Any) -> str:
    api_id = apigateway.create_rest_api(name="vpbx")["id"]
    plan = apigateway.create_usage_plan(name="default", apiStages=[{"apiId": api_id, "stage": "v1"}])
    return str(plan["id"])


def authorizer_result(secret: str, repository: InMemoryRepository) -> dict[str, Any]:
    event = json.loads(json.dumps(SAMPLE))
    event["headers"] = {"X-Api-Key": secret}
    return authorize(event, repository, usage_identifier_key=FALLBACK)


def test_provision_creates_an_enabled_key_attached_to_the_plan(apigateway: Any, usage_plan_id: str) -> None:
    value = ApiGatewayUsagePlans(usage_plan_id, apigateway).provision("acme")

    plan_keys = apigateway.get_usage_plan_keys(usagePlanId=usage_plan_id)["items"]
    assert [key["value"] for key in plan_keys] == [value]
    stored = apigateway.get_api_key(apiKey=plan_keys[0]["id"], includeValue=True)
    assert stored["value"] == value
    assert stored["enabled"] is True
    assert "acme" in stored["name"]
    assert len(value) >= 20


def test_each_tenant_gets_its_own_usage_key(apigateway: Any, usage_plan_id: str) -> None:
    usage_plans = ApiGatewayUsagePlans(usage_plan_id)  # its own client, created on first use
    first, second = usage_plans.provision("acme"), usage_plans.provision("globex")
    assert first != second
    plan_values = {key["value"] for key in apigateway.get_usage_plan_keys(usagePlanId=usage_plan_id)["items"]}
    assert plan_values == {first, second}


def test_new_tenant_keys_carry_its_usage_key_and_the_authorizer_returns_it(apigateway: Any, usage_plan_id: str) -> None:
    repository = InMemoryRepository()
    tenant, issued = admin.create_tenant(
        repository, "Acme", NOW, tenant_id="acme", usage_plans=ApiGatewayUsagePlans(usage_plan_id, apigateway)
    )
    plan_values = [key["value"] for key in apigateway.get_usage_plan_keys(usagePlanId=usage_plan_id)["items"]]
    assert tenant.usage_key is not None
    assert plan_values == [tenant.usage_key]
    assert repository.get_tenant("acme").usage_key == tenant.usage_key
    assert issued.key.usage_key == tenant.usage_key
    assert authorizer_result(issued.secret, repository)["usageIdentifierKey"] == tenant.usage_key

    tenant_admin = Caller(tenant_id="acme", key_id=issued.key.id, role="admin")
    later = admin.create_key(repository, tenant_admin, "acme", "viewer", "wallboard", NOW)
    assert authorizer_result(later.secret, repository)["usageIdentifierKey"] == tenant.usage_key


def test_taken_tenant_id_provisions_nothing(apigateway: Any, usage_plan_id: str) -> None:
    repository = InMemoryRepository()
    usage_plans = ApiGatewayUsagePlans(usage_plan_id, apigateway)
    admin.create_tenant(repository, "Acme", NOW, tenant_id="acme", usage_plans=usage_plans)
    with pytest.raises(Exception, match="already exists"):
        admin.create_tenant(repository, "Acme again", NOW, tenant_id="acme", usage_plans=usage_plans)
    assert len(apigateway.get_usage_plan_keys(usagePlanId=usage_plan_id)["items"]) == 1


def test_without_a_usage_plan_nothing_is_provisioned_and_the_fallback_is_returned() -> None:
    usage_plans = deps.build_usage_plans(Settings.from_env({}))
    assert isinstance(usage_plans, NoUsagePlans)
    repository = InMemoryRepository()
    tenant, issued = admin.create_tenant(repository, "Acme", NOW, tenant_id="acme", usage_plans=usage_plans)
    assert tenant.usage_key is None
    assert issued.key.usage_key is None
    assert authorizer_result(issued.secret, repository)["usageIdentifierKey"] == FALLBACK


def test_usage_plan_id_setting_selects_api_gateway() -> None:
    settings = Settings.from_env({"USAGE_PLAN_ID": "abc123"})
    assert settings.usage_plan_id == "abc123"
    assert isinstance(deps.build_usage_plans(settings), ApiGatewayUsagePlans)
