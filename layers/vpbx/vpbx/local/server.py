"""`vpbx serve`: the API from template.yaml over real HTTP, on an embedded moto DynamoDB unless an endpoint is given.

Prints the operator key (VPBX_OPERATOR_KEY, or a generated one), a demo tenant with its admin key and a curl line.
"""

import json
import logging
import os
import signal
import sys
import time
import uuid
import warnings
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from vpbx.api.cors import ORIGINS_ENV
from vpbx.api.settings import INSECURE_CRM_ENV, STATE_TOKEN_SECRET_ENV, flag
from vpbx.local.gateway import REQUEST_ID_HEADER, HttpResponse, LocalGateway
from vpbx.local.instances import DEFAULT_MAX_INSTANCES, ProcessPool
from vpbx.local.template import local_api, resolve_environment, template_path
from vpbx.service.state_tokens import StateTokenKeys

LOCAL_TABLE = "vpbx-local"
DEMO_TENANT = "demo"
DEMO_SIP_DOMAIN = "pbx.demo.local"  # so the demo's first SIP call has URIs to ring; PUT /v1/tenants/demo changes it
OPERATOR_KEY_ENV = "VPBX_OPERATOR_KEY"
INSTANCES_ENV = "VPBX_LOCAL_INSTANCES"
MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit; the functions enforce their own, smaller one
MAX_HEADER_BYTES = 10 * 1024  # API Gateway's limit on the request line and headers together (approximately)
READ_TIMEOUT_ENV = "VPBX_LOCAL_READ_TIMEOUT_SECONDS"
DEFAULT_READ_TIMEOUT_SECONDS = 10.0
BODY_CHUNK_BYTES = 64 * 1024
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


class _RequestHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 in front of the gateway. Whatever the client sends, the answer is JSON in the error shape: the
    standard library's own refusals (bad request line, headers too long) included."""

    server: "_Server"
    protocol_version = "HTTP/1.1"
    # One segment per small response: buffered headers and body leave in one write (flushed after each request),
    # and no Nagle wait in between; written separately they met the client's delayed ACK (~40 ms per request).
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    # Every read on the socket waits at most this long (StreamRequestHandler applies it), and the body must arrive
    # within it in total: a client that stalls inside a request, or idles on a kept-alive connection, is cut off
    # instead of holding its thread forever.
    timeout = float(os.environ.get(READ_TIMEOUT_ENV) or DEFAULT_READ_TIMEOUT_SECONDS)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # every method reaches the gateway, which answers 405 with Allow (or 404)
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        refused = self._refuse_framing()
        if refused is not None:
            self.close_connection = True  # the rest of the stream cannot be trusted to start a new request
            self._send(refused)
            return
        try:
            body = self._read_body(int(self.headers.get("Content-Length") or 0))
        except TimeoutError:
            self.close_connection = True
            self._send(
                local_error(408, "request_timeout", f"The request body did not arrive within {self.timeout:g} s")
            )
            return
        except ConnectionError:
            self.close_connection = True  # the client left mid-body: nobody to answer
            return
        response = self.server.gateway.handle(self.command, self.path, list(self.headers.items()), body)
        self._send(response)

    def parse_request(self) -> bool:
        """The standard parser, with a 408 when the headers stop arriving (it would close without an answer)."""
        try:
            return super().parse_request()
        except TimeoutError:
            self.send_error(408, f"The request headers did not arrive within {self.timeout:g} s")
            return False

    def _read_body(self, length: int) -> bytes:
        """`length` bytes within one read timeout in total, so a client dripping bytes cannot hold the thread."""
        deadline = time.monotonic() + (self.timeout or DEFAULT_READ_TIMEOUT_SECONDS)
        chunks: list[bytes] = []
        left = length
        try:
            while left > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("request body")
                self.connection.settimeout(remaining)
                chunk = self.rfile.read1(min(left, BODY_CHUNK_BYTES))
                if not chunk:
                    raise ConnectionAbortedError("client closed the connection mid-body")
                chunks.append(chunk)
                left -= len(chunk)
        finally:
            self.connection.settimeout(self.timeout)
        return b"".join(chunks)

    def _refuse_framing(self) -> HttpResponse | None:
        """400/411/413/431 for requests whose size or framing API Gateway would not accept either."""
        header_bytes = sum(len(name) + len(value) + 4 for name, value in self.headers.items())
        if header_bytes > MAX_HEADER_BYTES:
            return local_error(431, "request_header_fields_too_large", f"Headers over {MAX_HEADER_BYTES} bytes")
        lengths = self.headers.get_all("Content-Length") or []
        if self.headers.get("Transfer-Encoding") is not None:
            if lengths:
                return local_error(400, "bad_request", "Send Content-Length or Transfer-Encoding, not both")
            return local_error(411, "length_required", "Send the body with a Content-Length (no chunked encoding)")
        if len(set(lengths)) > 1 or not all(value.strip().isascii() and value.strip().isdigit() for value in lengths):
            return local_error(400, "bad_request", "Content-Length must be one non-negative integer")
        if lengths and int(lengths[0]) > MAX_REQUEST_BYTES:
            return local_error(413, "payload_too_large", "The request is too large")
        return None

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's refusals (malformed request line, 414, 431, unsupported version) as JSON."""
        status = HTTPStatus(code)
        self.close_connection = True
        self.request_version = self.protocol_version  # still "HTTP/0.9" when the request line did not parse: no headers
        self._send(local_error(status, status.phrase.lower().replace(" ", "_").replace("-", "_"), message or ""))

    def _send(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in {"content-length", "connection"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], gateway: LocalGateway) -> None:
        super().__init__(address, _RequestHandler)
        self.gateway = gateway


def local_error(status: int, code: str, message: str) -> HttpResponse:
    """A refusal before the gateway (framing, size): its own request id, like any other response."""
    request_id = str(uuid.uuid4())
    body = json.dumps({"error": {"code": code, "message": message, "details": [], "request_id": request_id}})
    return HttpResponse(
        int(status), [("Content-Type", "application/json"), (REQUEST_ID_HEADER, request_id)], body.encode()
    )


def serve(
    port: int = 3000,
    dynamodb_endpoint: str | None = None,
    host: str = "127.0.0.1",
    instances: int | None = None,
    cors_origins: list[str] | None = None,
    allow_insecure_crm: bool = False,
    allow_insecure_webhooks: bool = False,
) -> None:
    """Run until interrupted (Ctrl-C or SIGTERM). `instances`: concurrent instances per function (default
    VPBX_LOCAL_INSTANCES or 4), each its own process, as Lambda scales out. `cors_origins`: browser origins allowed
    to call the API (default VPBX_CORS_ORIGINS; `*` for any). `allow_insecure_crm`: external_routing may call
    http:// and loopback CRMs (default VPBX_ALLOW_INSECURE_CRM; the deployed template never allows them).
    `allow_insecure_webhooks`: webhooks may target loopback https receivers, trusting VPBX_WEBHOOK_CA_FILE (default
    VPBX_ALLOW_INSECURE_WEBHOOKS; tests only, never in the template)."""
    if cors_origins:
        os.environ[ORIGINS_ENV] = ",".join(cors_origins)
    if allow_insecure_crm:
        os.environ[INSECURE_CRM_ENV] = "true"
    if allow_insecure_webhooks:
        from vpbx.service.webhook_delivery import INSECURE_WEBHOOKS_ENV

        os.environ[INSECURE_WEBHOOKS_ENV] = "true"
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    moto = None
    if dynamodb_endpoint is None:
        moto, dynamodb_endpoint = _start_moto()
    try:
        gateway = _prepare(dynamodb_endpoint, instances or int(os.environ.get(INSTANCES_ENV) or DEFAULT_MAX_INSTANCES))
        webhooks = _start_webhooks(dynamodb_endpoint)
        try:
            with _Server((host, port), gateway) as server:
                url = f"http://{host}:{server.server_address[1]}"
                _announce(url, dynamodb_endpoint, embedded=moto is not None)
                server.serve_forever()
        finally:
            webhooks.stop()
            gateway.close()
    finally:
        if moto is not None:
            moto.stop()


def _raise_keyboard_interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _start_moto() -> tuple[Any, str]:
    for name, value in FAKE_AWS.items():
        os.environ.setdefault(name, value)
    from vpbx.local.moto import SerializedMotoServer

    moto = SerializedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    return moto, f"http://{host}:{port}"


def _prepare(endpoint: str, instances: int) -> LocalGateway:
    """Environment as the template sets it, the table, the repository, then the bootstrap keys."""
    for name, value in FAKE_AWS.items():
        os.environ.setdefault(name, value)
    api = local_api()
    table_name = os.environ.get("TABLE_NAME") or LOCAL_TABLE
    for function in [route.function for route in api.routes] + ([api.authorizer] if api.authorizer else []):
        for name, value in resolve_environment(api.template, function.environment, {"Table": table_name}).items():
            if name in (ORIGINS_ENV, INSECURE_CRM_ENV):  # the command line or the environment wins over the template
                os.environ.setdefault(name, value)
            elif name != "POWERTOOLS_SERVICE_NAME":  # process-wide; each function names its own service in code
                os.environ[name] = value
    # the instances share one state-token secret (docs/CALLS.md, State tokens): the environment's, else one per run
    os.environ.setdefault(STATE_TOKEN_SECRET_ENV, StateTokenKeys.generate())
    os.environ.update(
        {
            "TABLE_NAME": table_name,
            "DYNAMODB_ENDPOINT": endpoint,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )

    import boto3

    from vpbx.api import deps
    from vpbx.api.settings import get_settings
    from vpbx.store import schema
    from vpbx.store.dynamodb import DynamoRepository

    get_settings.cache_clear()
    client = boto3.client("dynamodb", endpoint_url=endpoint)
    if table_name not in client.list_tables().get("TableNames", []):
        schema.create_table(client, table_name, template_path())
    deps.set_repository(DynamoRepository(table_name, endpoint_url=endpoint))
    _bootstrap(deps.get_repository())
    pool = ProcessPool(instances)  # started after the environment above: the instances inherit it
    functions = {
        function.logical_id: function for function in [api.authorizer, *(r.function for r in api.routes)] if function
    }
    pool.warm(list(functions.values()))
    return LocalGateway(api, pool)


_announcement: list[str] = []


def _start_webhooks(endpoint: str) -> Any:
    """The same dispatcher as the template's stream function, fed from the embedded table's stream (local/webhooks)."""
    from vpbx.api import deps
    from vpbx.local.webhooks import LocalWebhooks

    webhooks = LocalWebhooks(endpoint, os.environ["TABLE_NAME"], deps.get_repository())
    _announcement.append(webhooks.describe())
    return webhooks


def _bootstrap(repository: Any) -> None:
    from vpbx.api.keys import generate_secret, issue_key
    from vpbx.domain.errors import AlreadyExists
    from vpbx.service import admin

    now = datetime.now(UTC)
    operator_secret = os.environ.get(OPERATOR_KEY_ENV) or generate_secret()
    admin.ensure_operator_key(repository, operator_secret, now, name="local operator")
    try:
        _, issued = admin.create_tenant(
            repository, "Demo Company", now, tenant_id=DEMO_TENANT, sip_domain=DEMO_SIP_DOMAIN, default_country="RU"
        )
    except AlreadyExists:  # a persistent DynamoDB from an earlier run: give the demo tenant a fresh admin key
        issued = issue_key(DEMO_TENANT, "admin", "local demo admin", now)
        repository.put_api_key(issued.key)
    _announcement[:] = [operator_secret, issued.secret]


def _crm_policy() -> str:
    if flag(os.environ.get(INSECURE_CRM_ENV, "")):
        return "http and loopback CRMs allowed (development only)"
    return "public https only (--allow-insecure-crm for a CRM on this machine)"


def _announce(url: str, endpoint: str, embedded: bool) -> None:
    operator_secret, demo_secret, webhooks = _announcement
    where = "embedded moto server" if embedded else "external"
    lines = [
        f"vpbx local API listening on {url}",
        f"DynamoDB ({where}): {endpoint}",
        f"operator key: {operator_secret}",
        f"demo tenant: {DEMO_TENANT}",
        f"demo admin key: {demo_secret}",
        f"docs: {url}/v1/docs",
        f"CORS origins: {os.environ.get(ORIGINS_ENV) or 'none (--cors-origin URL to allow a browser app)'}",
        f"CRM lookups: {_crm_policy()}",
        f"webhooks: {webhooks}",
        f"try: curl -s {url}/v1/tenants/{DEMO_TENANT} -H 'X-Api-Key: {demo_secret}'",
    ]
    print("\n".join(lines), flush=True)
