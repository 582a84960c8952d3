"""Test-only: the storage with its optimistic-locking conditions made always true.

Imported first by every `vpbx serve` instance when VPBX_LOCAL_PRELOAD names it (tests/reliability/
test_concurrency_guards_matter.py). Every condition that compares a stored version or call sequence with the one the
writer read (`:expected`) becomes `attribute_exists(PK) OR attribute_not_exists(PK) OR (…)` — a tautology that
keeps every placeholder in use — so the write happens whatever another writer did in between. Existence guards
(`attribute_not_exists(PK)` on creates) stay.
"""

from typing import Any

from vpbx.store.dynamodb.table import DynamoTable

_guarded_request = DynamoTable._request


def _without_version_conditions(self: DynamoTable, operation: str, **params: Any) -> dict[str, Any]:
    targets = [params, *(next(iter(item.values())) for item in params.get("TransactItems", []))]
    for target in targets:
        condition = target.get("ConditionExpression")
        if condition and ":expected" in condition:
            target["ConditionExpression"] = f"attribute_exists(PK) OR attribute_not_exists(PK) OR ({condition})"
    return _guarded_request(self, operation, **params)


DynamoTable._request = _without_version_conditions  # type: ignore[method-assign]
