"""NumberStore in memory: numbers unique platform-wide (the owner map stands for the guard item)."""

from __future__ import annotations  # `Versioned[X]` in signatures would build generic models at import

from vpbx.domain.errors import AlreadyExists
from vpbx.store import keys
from vpbx.store.common import (
    NUMBERS,
)
from vpbx.store.memory.table import MemoryTable
from vpbx.store.models import (
    Page,
    PhoneNumber,
    Versioned,
)
from vpbx.store.ports import NumberStore


class MemoryNumberStore(MemoryTable, NumberStore):
    def create_number(self, tenant_id: str, number: PhoneNumber) -> Versioned[PhoneNumber]:
        with self._lock:
            if number.number in self._number_owner:
                raise AlreadyExists(f"number {number.number} is already taken")
            created = self._create_in(tenant_id, NUMBERS, number.number, number)
            self._number_owner[number.number] = tenant_id
            return created

    def update_number(self, tenant_id: str, number: PhoneNumber, expected_version: int) -> Versioned[PhoneNumber]:
        return self._update_in(tenant_id, NUMBERS, number.number, number, expected_version)

    def delete_number(self, tenant_id: str, number: str, expected_version: int) -> None:
        with self._lock:
            self._delete_in(tenant_id, NUMBERS, number, expected_version)
            self._number_owner.pop(number, None)

    def get_number(self, tenant_id: str, number: str) -> Versioned[PhoneNumber]:
        return self._read_in(tenant_id, NUMBERS, number)

    def list_numbers(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Versioned[PhoneNumber]]:
        return self._list_in(tenant_id, NUMBERS, limit, cursor)

    def route_number(self, number: str) -> tuple[str, PhoneNumber] | None:
        with self._lock:
            tenant_id = self._number_owner.get(number)
            if tenant_id is None:
                return None
            stored: Versioned[PhoneNumber] = self._get(keys.tenant_pk(tenant_id), keys.NUMBER_PREFIX + number)
            return tenant_id, stored.item
