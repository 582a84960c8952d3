"""Real HTTP against `vpbx serve`: a client bound to one API key, and a fresh tenant with keys of other roles."""

from typing import Any

import requests

TIMEOUT = 30


class Client:
    """Sends requests to `base_url` with one API key (and an If-Match when asked)."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.key = key

    def __call__(self, method: str, path: str, json: Any = None, if_match: str | None = None) -> requests.Response:
        headers = {"X-Api-Key": self.key}
        if if_match is not None:
            headers["If-Match"] = if_match
        return requests.request(method, self.base_url + path, json=json, headers=headers, timeout=TIMEOUT)

    def with_key(self, key: str) -> "Client":
        return Client(self.base_url, key)


def create_tenant(operator: Client, tenant_id: str, name: str) -> Client:
    """The tenant's admin client (its first admin key), the tenant created by the operator."""
    created = operator("POST", "/v1/tenants", {"id": tenant_id, "name": name})
    assert created.status_code == 201, created.text
    return operator.with_key(created.json()["admin_key"]["secret"])


def issue_key(admin: Client, tenant_id: str, role: str, name: str | None = None) -> Client:
    """A client with a new key of `role` in the tenant, issued by its admin."""
    issued = admin("POST", f"/v1/tenants/{tenant_id}/keys", {"role": role, "name": name or role})
    assert issued.status_code == 201, issued.text
    return admin.with_key(issued.json()["secret"])
