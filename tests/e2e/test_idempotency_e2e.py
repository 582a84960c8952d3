"""Idempotency-Key over real HTTP against `vpbx serve`: concurrent duplicates of one create make one object."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.e2e.conftest import LocalServer
from tests.helpers.http import Client, create_tenant

pytestmark = pytest.mark.e2e
DUPLICATES = 10
OFFICE = {"name": "Office", "timezone": "Europe/Moscow", "weekly": {"mon": ["09:00-18:00"]}}


def test_concurrent_retries_with_one_key_create_one_schedule(local_server: LocalServer) -> None:
    tenant_id = f"idem-{uuid.uuid4().hex[:8]}"
    admin = create_tenant(Client(local_server.base_url, local_server.operator_key), tenant_id, "Idempotency")
    headers = {"X-Api-Key": admin.key, "Idempotency-Key": str(uuid.uuid4())}

    def post(_: int) -> requests.Response:
        return requests.post(f"{local_server.base_url}/v1/schedules", json=OFFICE, headers=headers, timeout=60)

    with ThreadPoolExecutor(max_workers=DUPLICATES) as pool:
        responses = list(pool.map(post, range(DUPLICATES)))

    statuses = sorted(response.status_code for response in responses)
    assert set(statuses) <= {201, 409}, [response.text for response in responses]
    created = [response.json() for response in responses if response.status_code == 201]
    assert created, statuses
    assert all(body == created[0] for body in created)
    in_use = [response.json()["error"]["code"] for response in responses if response.status_code == 409]
    assert set(in_use) <= {"idempotency_key_in_use"}
    assert [item["id"] for item in admin("GET", "/v1/schedules").json()["items"]] == [created[0]["id"]]
