"""The ports on DynamoDB, one module per aggregate over one table's plumbing (table.py); `DynamoRepository` offers
every port at once for wiring (api/deps.py)."""

from vpbx.store.dynamodb.acd import DynamoQueueStateStore
from vpbx.store.dynamodb.calls import DynamoCallStore
from vpbx.store.dynamodb.directory import DynamoDirectoryStore
from vpbx.store.dynamodb.numbers import DynamoNumberStore
from vpbx.store.dynamodb.scenarios import DynamoScenarioStore
from vpbx.store.dynamodb.table import CALL_LISTING_ATTRIBUTES, RETRY_CONFIG, DynamoTable
from vpbx.store.dynamodb.tenants import DynamoTenantStore
from vpbx.store.dynamodb.webhooks import DynamoWebhookStore
from vpbx.store.ports import Repository

__all__ = [
    "CALL_LISTING_ATTRIBUTES",
    "RETRY_CONFIG",
    "DynamoCallStore",
    "DynamoDirectoryStore",
    "DynamoNumberStore",
    "DynamoQueueStateStore",
    "DynamoRepository",
    "DynamoScenarioStore",
    "DynamoTable",
    "DynamoTenantStore",
    "DynamoWebhookStore",
]


class DynamoRepository(
    DynamoTenantStore,
    DynamoDirectoryStore,
    DynamoNumberStore,
    DynamoScenarioStore,
    DynamoCallStore,
    DynamoWebhookStore,
    DynamoQueueStateStore,
    Repository,
):
    """Every port on one table and one client."""
