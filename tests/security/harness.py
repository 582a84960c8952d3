"""The API in-process, exactly as `vpbx serve` dispatches it, minus the socket.

Requests go through vpbx.local.gateway.LocalGateway: route match from template.yaml → the REQUEST authorizer function
(401/403 like API Gateway) → the function's handler with the authorizer context. The repository is a DynamoRepository
on the session's moto server, so every probe exercises the real key layout and conditions. Every response body is
scanned for leaked internals (tests.security.audit).
"""

import json
import secrets
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from vpbx.api.settings import get_settings
from vpbx.local.gateway import LocalGateway
from vpbx.local.template import local_api
from vpbx.service import admin
from vpbx.store.dynamodb import DynamoRepository

from tests.helpers.scenarios import seed_scenario
from tests.helpers.tables import dynamodb_client, installed_repository, temporary_table
from tests.security.audit import AUDIT

PROCESS_ENV = {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_DEV": "false"}


@dataclass(frozen=True)
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def error_code(self) -> str:
        """The error code of an error response, asserting the one error shape on the way."""
        body = self.json()
        assert isinstance(body, dict), self.text
        assert set(body) == {"error"}, self.text
        assert set(body["error"]) == {"code", "message", "details", "request_id"}, self.text
        return str(body["error"]["code"])


class Api(ABC):
    """What the world builder and the suites need: the API in-process or `vpbx serve` over HTTP. Every response
    body is scanned for leaked internals."""

    operator_key: str

    def request(
        self,
        method: str,
        path: str,
        key: str | None = None,
        json_body: Any = None,
        *,
        raw_body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> ApiResponse:
        all_headers: dict[str, str] = {}
        body = raw_body
        if body is None and json_body is not None:
            body = json.dumps(json_body).encode()
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        if key is not None:
            all_headers["X-Api-Key"] = key
        all_headers.update(headers or {})
        response = self._send(method, path, all_headers, body)
        AUDIT.scan(response.status, response.body, f"{method} {path}")
        return response

    @abstractmethod
    def _send(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> ApiResponse: ...


@dataclass
class InProcessApi(Api):
    gateway: LocalGateway
    repository: DynamoRepository
    endpoint: str
    table_name: str
    operator_key: str
    requests: int = 0

    def _send(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> ApiResponse:
        response = self.gateway.handle(method, path, list(headers.items()), body or b"")
        self.requests += 1
        return ApiResponse(response.status, {name.lower(): value for name, value in response.headers}, response.body)

    def items(self) -> list[dict[str, Any]]:
        """Every item in the table (to check what a failed request left behind)."""
        client = dynamodb_client(self.endpoint)
        found: list[dict[str, Any]] = []
        for page in client.get_paginator("scan").paginate(TableName=self.table_name, ConsistentRead=True):
            found.extend(page["Items"])
        return found


@dataclass
class HttpApi(Api):
    """The same interface over real HTTP (vpbx serve)."""

    base_url: str
    operator_key: str

    def _send(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> ApiResponse:
        import requests

        response = requests.request(method, self.base_url + path, data=body, headers=headers, timeout=60)
        return ApiResponse(
            response.status_code, {name.lower(): value for name, value in response.headers.items()}, response.content
        )


@contextmanager
def in_process_api(endpoint: str) -> Iterator[InProcessApi]:
    """A fresh table, the repository installed for every handler, an operator key; torn down afterwards."""
    with (
        temporary_table(endpoint, "vpbx-sec") as table_name,
        pytest.MonkeyPatch.context() as patch,
    ):
        for name, value in PROCESS_ENV.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        try:
            with installed_repository(endpoint, table_name) as repository:
                operator_key = "vpbx_" + secrets.token_urlsafe(32)
                admin.ensure_operator_key(repository, operator_key, datetime.now(UTC), name="security suite")
                yield InProcessApi(LocalGateway(local_api()), repository, endpoint, table_name, operator_key)
        finally:
            get_settings.cache_clear()


@pytest.fixture(scope="module")
def api(moto_server: str) -> Iterator[InProcessApi]:
    """The in-process API on a table of the test module's own (the security and reliability suites' fixture)."""
    with in_process_api(moto_server) as built:
        yield built


# ------------------------------------------------------------------------------------------------ a tenant's world


def path_number(number: str) -> str:
    return quote(number, safe="")


@dataclass
class World:
    """One tenant with OBJECTS_PER_KIND objects of every kind, ids that never collide with another tenant's."""

    tenant_id: str
    keys: dict[str, str] = field(default_factory=dict)  # role -> secret
    key_ids: list[str] = field(default_factory=list)
    extensions: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    schedules: list[str] = field(default_factory=list)
    caller_lists: list[str] = field(default_factory=list)
    queues: list[str] = field(default_factory=list)
    scenarios: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    webhooks: list[str] = field(default_factory=list)

    def own_ids(self) -> set[str]:
        return {
            self.tenant_id,
            *self.key_ids,
            *self.extensions,
            *self.numbers,
            *self.schedules,
            *self.caller_lists,
            *self.queues,
            *self.scenarios,
            *self.calls,
            *self.webhooks,
        }


OBJECTS_PER_KIND = 5
ROLES = ("admin", "editor", "viewer", "telephony")


def build_world(api: Api, index: int, tenant_id: str | None = None) -> World:
    """Tenant number `index` (1-based) with its keys, directory, published scenarios, numbers and live calls."""
    tenant_id = tenant_id or f"sec{index}-{uuid.uuid4().hex[:6]}"
    created = api.request("POST", "/v1/tenants", api.operator_key, {"id": tenant_id, "name": f"Tenant {index}"})
    assert created.status == 201, created.text
    world = World(tenant_id)
    world.keys["admin"] = created.json()["admin_key"]["secret"]
    world.key_ids.append(created.json()["admin_key"]["id"])
    admin_key = world.keys["admin"]

    def ok(response: ApiResponse, status: int = 201) -> ApiResponse:
        assert response.status == status, response.text
        return response

    for role in ROLES[1:]:
        issued = ok(api.request("POST", f"/v1/tenants/{tenant_id}/keys", admin_key, {"role": role, "name": role}))
        world.keys[role] = issued.json()["secret"]
        world.key_ids.append(issued.json()["id"])
    ok(api.request("POST", f"/v1/tenants/{tenant_id}/keys", admin_key, {"role": "viewer", "name": "spare"}))
    listed = api.request("GET", f"/v1/tenants/{tenant_id}/keys", admin_key).json()["items"]
    world.key_ids = sorted(key["id"] for key in listed)
    assert len(world.key_ids) == OBJECTS_PER_KIND

    for n in range(OBJECTS_PER_KIND):
        extension = f"{index}{n:02d}"  # tenant 1: 100..104, tenant 2: 200..204 — never shared
        ok(api.request("POST", "/v1/subscribers", admin_key, {"extension": extension, "name": f"Employee {extension}"}))
        world.extensions.append(extension)
        schedule = ok(
            api.request(
                "POST",
                "/v1/schedules",
                admin_key,
                {"id": f"{tenant_id}-hours{n}", "name": "Hours", "timezone": "Europe/Moscow", "weekly": {}},
            )
        )
        world.schedules.append(schedule.json()["id"])
        caller_list = ok(
            api.request("POST", "/v1/caller-lists", admin_key, {"id": f"{tenant_id}-vip{n}", "name": "VIP"})
        )
        world.caller_lists.append(caller_list.json()["id"])
        members = [{"extension": extension} for extension in world.extensions]
        line = ok(
            api.request(
                "POST", "/v1/queues", admin_key, {"id": f"{tenant_id}-line{n}", "name": "Line", "members": members}
            )
        )
        world.queues.append(line.json()["id"])
    for n in range(OBJECTS_PER_KIND):
        scenario_id = f"{tenant_id}-main{n}"
        body = {"id": scenario_id, **seed_scenario(world.extensions[0], world.extensions[1])}
        draft = ok(api.request("POST", "/v1/scenarios", admin_key, body))
        publish = f"/v1/scenarios/{scenario_id}/publish"
        ok(api.request("POST", publish, admin_key, headers={"If-Match": draft.headers["etag"]}))
        world.scenarios.append(scenario_id)
        number = f"+7495{index}{secrets.randbelow(10**5):05d}{n}"
        ok(api.request("POST", "/v1/numbers", admin_key, {"number": number, "scenario_id": scenario_id}))
        world.numbers.append(number)
        call_id = f"{tenant_id}-call{n}"
        start = {"call_id": call_id, "from": "+79161234567", "to": number}
        ok(api.request("POST", "/v1/calls", world.keys["telephony"], start))
        world.calls.append(call_id)
        hook = {"url": f"https://hooks.invalid/{tenant_id}/{n}", "events": ["call.started"]}
        world.webhooks.append(ok(api.request("POST", "/v1/webhooks", admin_key, hook)).json()["id"])
    return world
