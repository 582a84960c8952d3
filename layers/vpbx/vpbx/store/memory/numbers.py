"""NumberStore in memory: numbers unique platform-wide (the owner map stands for the guard item)."""

from __future__ import annotations  # `Versioned[X]` in signatures would build generic models at import

from collections.abc import Callable

from vpbx.domain.errors import AlreadyExists
from vpbx.store import keys
from vpbx.store.common import (
    NUMBERS,
    REFERENCE_ATTEMPTS,
    directory_changed,
    missing_scenario,
    too_many_numbers,
)
from vpbx.store.memory.table import MemoryTable
from vpbx.store.models import (
    Page,
    PhoneNumber,
    Versioned,
)
from vpbx.store.ports import CallRoute, DirectoryChanged, NumberStore


class MemoryNumberStore(MemoryTable, NumberStore):
    def create_number(self, tenant_id: str, number: PhoneNumber) -> Versioned[PhoneNumber]:
        def create() -> Versioned[PhoneNumber]:
            if number.number in self._number_owner:
                raise AlreadyExists(f"number {number.number} is already taken")
            created = self._create_in(tenant_id, NUMBERS, number.number, number)
            self._number_owner[number.number] = tenant_id
            return created

        return self._write_pointing(tenant_id, number, create)

    def update_number(self, tenant_id: str, number: PhoneNumber, expected_version: int) -> Versioned[PhoneNumber]:
        self._read_in(tenant_id, NUMBERS, number.number)
        return self._write_pointing(
            tenant_id, number, lambda: self._update_in(tenant_id, NUMBERS, number.number, number, expected_version)
        )

    def _write_pointing(
        self, tenant_id: str, number: PhoneNumber, write: Callable[[], Versioned[PhoneNumber]]
    ) -> Versioned[PhoneNumber]:
        """As on DynamoDB: a number pointing at a scenario commits on the revision at which the scenario existed."""
        scenario_id = number.scenario_id
        if scenario_id is None:
            with self._lock:
                return write()
        for _ in range(REFERENCE_ATTEMPTS):
            seen = self._revision(tenant_id)
            if not self._scenario_exists(tenant_id, scenario_id):
                raise missing_scenario(scenario_id)
            others = [n for n in self._numbers_pointing_at(tenant_id, scenario_id) if n != number.number]
            if len(others) >= keys.MAX_NUMBERS_PER_SCENARIO:
                raise too_many_numbers(scenario_id, len(others))
            self._about_to_write("point_number")
            try:
                with self._at_revision(tenant_id, seen, f"number {number.number}"):
                    return write()
            except DirectoryChanged:
                continue
        raise directory_changed(f"number {number.number} pointing at scenario {scenario_id!r}")

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

    def call_route(self, tenant_id: str, number: str) -> CallRoute | None:
        """The route as the DynamoDB store keeps it, derived here from the number, the draft and the revision."""
        with self._lock:
            if self._number_owner.get(number) != tenant_id:
                return None
            stored: Versioned[PhoneNumber] = self._get(keys.tenant_pk(tenant_id), keys.NUMBER_PREFIX + number)
            scenario_id = stored.item.scenario_id
            draft = self._get(keys.tenant_pk(tenant_id), keys.SCENARIO_PREFIX + scenario_id) if scenario_id else None
            published = draft.item.published_version if draft is not None else None
            return CallRoute(scenario_id, published, self._revision(tenant_id))
