"""The ports in memory, one module per aggregate over one shared item map (table.py), with the same rules as the
DynamoDB ones (uniqueness, versions, paging, conflicts, references), thread-safe; `InMemoryRepository` offers every port
at once for wiring and tests."""

from vpbx.store.memory.acd import MemoryQueueStateStore
from vpbx.store.memory.calls import MemoryCallStore
from vpbx.store.memory.directory import MemoryDirectoryStore
from vpbx.store.memory.numbers import MemoryNumberStore
from vpbx.store.memory.scenarios import MemoryScenarioStore
from vpbx.store.memory.table import MemoryTable
from vpbx.store.memory.tenants import MemoryTenantStore
from vpbx.store.memory.webhooks import MemoryWebhookStore
from vpbx.store.ports import Repository

__all__ = [
    "InMemoryRepository",
    "MemoryCallStore",
    "MemoryDirectoryStore",
    "MemoryNumberStore",
    "MemoryQueueStateStore",
    "MemoryScenarioStore",
    "MemoryTable",
    "MemoryTenantStore",
    "MemoryWebhookStore",
]


class InMemoryRepository(
    MemoryTenantStore,
    MemoryDirectoryStore,
    MemoryNumberStore,
    MemoryScenarioStore,
    MemoryCallStore,
    MemoryWebhookStore,
    MemoryQueueStateStore,
    Repository,
):
    """Every port over one item map and one lock."""
