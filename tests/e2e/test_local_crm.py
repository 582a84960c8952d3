"""The CRM element tried locally, over real HTTP: `vpbx serve --allow-insecure-crm` asks a CRM on this machine (plain
http on 127.0.0.1) which extension takes the caller and rings it; a server without the flag refuses that CRM, and
the call's trace says "refused" (a configuration problem), not that the CRM knew no extension.
"""

import json
import os
import random
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from vpbx.api.settings import INSECURE_CRM_ENV

from tests.e2e.conftest import LocalServer, running_local_server
from tests.helpers.http import Client, create_tenant, issue_key

pytestmark = pytest.mark.e2e
CALLER = "+79161234567"


@dataclass
class LocalCrm:
    """A tiny CRM: every caller belongs to extension 102; the requests it got are kept."""

    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/vpbx/route"


@pytest.fixture(scope="module")
def local_crm() -> Iterator[LocalCrm]:
    crm = LocalCrm()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            crm.requests.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0))))
            body = json.dumps({"extension": "102"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    crm.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield crm
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def insecure_crm_server() -> Iterator[LocalServer]:
    with running_local_server(extra_args=["--allow-insecure-crm"]) as server:
        yield server


def crm_scenario(url: str) -> dict[str, Any]:
    return {
        "id": "crm",
        "name": "Who is this caller's manager?",
        "elements": [
            {"id": "start", "type": "incoming_call"},
            {"id": "crm", "type": "external_routing", "url": url, "timeout_seconds": 2, "wait_seconds": 20},
            {"id": "desk", "type": "internal_subscriber", "extension": "101"},
            {"id": "vm", "type": "voicemail", "mailbox": "101"},
        ],
        "connections": [
            {"from": "start", "to": "crm"},
            {"from": "crm", "exit": "not_found", "to": "desk"},
            {"from": "crm", "exit": "no_answer", "to": "vm"},
        ],
    }


@dataclass
class CrmTenant:
    admin: Client
    telephony: Client
    number: str
    draft_etag: str


def tenant_with_crm_scenario(server: LocalServer, url: str) -> CrmTenant:
    tenant_id = f"e2e-crm-{uuid.uuid4().hex[:8]}"
    admin = create_tenant(Client(server.base_url, server.operator_key), tenant_id, "CRM")
    got = admin("GET", f"/v1/tenants/{tenant_id}")
    settings = {"name": "CRM", "sip_domain": "pbx.crm.local", "default_country": "RU"}
    assert admin("PUT", f"/v1/tenants/{tenant_id}", settings, if_match=got.headers["ETag"]).status_code == 200
    for extension in ("101", "102"):
        made = admin("POST", "/v1/subscribers", {"extension": extension, "name": f"Employee {extension}"})
        assert made.status_code == 201, made.text
    draft = admin("POST", "/v1/scenarios", crm_scenario(url))
    assert draft.status_code == 201, draft.text
    number = f"+7495{random.randrange(10**6, 10**7)}"
    return CrmTenant(admin, issue_key(admin, tenant_id, "telephony"), number, draft.headers["ETag"])


def publish_and_call(tenant: CrmTenant, call_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Publish the draft, point the number at it, start a call: its first action and its trace."""
    published = tenant.admin("POST", "/v1/scenarios/crm/publish", if_match=tenant.draft_etag)
    assert published.status_code == 201, published.text
    assigned = tenant.admin("POST", "/v1/numbers", {"number": tenant.number, "scenario_id": "crm"})
    assert assigned.status_code == 201, assigned.text
    started = tenant.telephony("POST", "/v1/calls", {"call_id": call_id, "from": CALLER, "to": tenant.number})
    assert started.status_code == 201, started.text
    call = tenant.admin("GET", f"/v1/calls/{call_id}")
    assert call.status_code == 200, call.text
    return started.json()["action"], call.json()["trace"]


def crm_step(trace: list[dict[str, Any]]) -> dict[str, Any]:
    return next(step for step in trace if step["element_id"] == "crm")


def test_with_the_flag_a_local_crm_routes_the_call_to_its_extension(
    insecure_crm_server: LocalServer, local_crm: LocalCrm
) -> None:
    assert "http and loopback CRMs allowed" in "".join(insecure_crm_server.output)
    demo = Client(insecure_crm_server.base_url, insecure_crm_server.demo_admin_key)
    settings = demo("GET", f"/v1/tenants/{insecure_crm_server.demo_tenant}").json()
    assert (settings["sip_domain"], settings["default_country"]) == ("pbx.demo.local", "RU")  # a first call has URIs
    tenant = tenant_with_crm_scenario(insecure_crm_server, local_crm.url())
    asked_before = len(local_crm.requests)

    action, trace = publish_and_call(tenant, "crm-local-1")

    assert action["type"] == "ring"
    assert [target["extension"] for target in action["targets"]] == ["102"]  # the CRM's answer, not the fallback
    assert action["targets"][0]["uri"] == "sip:102@pbx.crm.local"
    assert action["timeout_seconds"] == 20
    assert local_crm.requests[asked_before:] == [{"caller": CALLER, "called": tenant.number, "call_id": "crm-local-1"}]
    assert crm_step(trace)["action"]["targets"][0]["extension"] == "102"


def test_without_the_flag_the_local_crm_is_refused_and_the_trace_says_so(
    local_server: LocalServer, local_crm: LocalCrm
) -> None:
    assert not os.environ.get(INSECURE_CRM_ENV), "the shared server must run with the secure default"
    plain_http = tenant_with_crm_scenario(local_server, local_crm.url())
    refused_at_publish = plain_http.admin("POST", "/v1/scenarios/crm/publish", if_match=plain_http.draft_etag)
    assert refused_at_publish.status_code == 422
    assert "insecure_url" in refused_at_publish.text

    tenant = tenant_with_crm_scenario(local_server, local_crm.url("https"))  # https passes validation…
    asked_before = len(local_crm.requests)

    action, trace = publish_and_call(tenant, "crm-refused-1")

    assert [target["extension"] for target in action["targets"]] == ["101"]  # …but the lookup refuses loopback
    step = crm_step(trace)
    assert step["exit"] == "not_found"
    assert step["detail"] == "CRM lookup refused: 127.0.0.1: 127.0.0.1 is not a public address", step
    assert len(local_crm.requests) == asked_before  # never contacted
