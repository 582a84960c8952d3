"""Per-tenant API Gateway usage plans: each tenant gets its own metering identifier attached to a usage plan.

The identifier is an API Gateway API key used only for throttling and quotas (the authorizer hands it back as
`usageIdentifierKey`); it is never the tenant's credential, which stays the hashed X-Api-Key secret.
"""

import secrets
from abc import ABC, abstractmethod
from typing import Any

USAGE_KEY_BYTES = 20  # 40 hex characters; API Gateway wants at least 20


class UsagePlans(ABC):
    @abstractmethod
    def provision(self, tenant_id: str) -> str | None:
        """Create the tenant's metering identifier and attach it to a plan; its value, or None when not metered."""


class NoUsagePlans(UsagePlans):
    """Local server and tests without API Gateway: nothing is provisioned, the authorizer falls back to its default."""

    def provision(self, tenant_id: str) -> str | None:
        return None


class ApiGatewayUsagePlans(UsagePlans):
    """Creates an enabled API Gateway API key per tenant and adds it to `usage_plan_id`."""

    def __init__(self, usage_plan_id: str, client: Any | None = None) -> None:
        self._usage_plan_id = usage_plan_id
        self._client = client

    def provision(self, tenant_id: str) -> str:
        value = secrets.token_hex(USAGE_KEY_BYTES)
        created = self._apigateway().create_api_key(
            name=f"vpbx-tenant-{tenant_id}",
            description=f"Usage identifier of tenant {tenant_id} (metering only; not a credential)",
            enabled=True,
            value=value,
        )
        self._apigateway().create_usage_plan_key(
            usagePlanId=self._usage_plan_id, keyId=created["id"], keyType="API_KEY"
        )
        return value

    def _apigateway(self) -> Any:
        if self._client is None:
            # Imported here so that the admin function pays for boto3's API Gateway client only when it provisions.
            import boto3

            self._client = boto3.client("apigateway")
        return self._client
