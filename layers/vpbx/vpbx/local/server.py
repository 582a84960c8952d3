"""`vpbx serve`: the API from template.yaml over real HTTP, on an embedded moto DynamoDB unless an endpoint is given.

Prints the operator key (VPBX_OPERATOR_KEY, or a generated one), a demo tenant with its admin key and a curl line.
"""

import logging
import os
import signal
import sys
import warnings
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from vpbx.local.gateway import HttpResponse, LocalGateway
from vpbx.local.template import local_api, resolve_environment, template_path

LOCAL_TABLE = "vpbx-local"
DEMO_TENANT = "demo"
OPERATOR_KEY_ENV = "VPBX_OPERATOR_KEY"
MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit; the functions enforce their own, smaller one
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


class _RequestHandler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            self._send(self.server.gateway_too_large())
            return
        body = self.rfile.read(length) if length > 0 else b""
        response = self.server.gateway.handle(self.command, self.path, list(self.headers.items()), body)
        self._send(response)

    def _send(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in {"content-length", "connection"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], gateway: LocalGateway) -> None:
        super().__init__(address, _RequestHandler)
        self.gateway = gateway

    def gateway_too_large(self) -> HttpResponse:
        body = b'{"error": {"code": "payload_too_large", "message": "The request is too large", "details": []}}'
        return HttpResponse(413, [("Content-Type", "application/json")], body)


def serve(port: int = 3000, dynamodb_endpoint: str | None = None, host: str = "127.0.0.1") -> None:
    """Run until interrupted (Ctrl-C or SIGTERM)."""
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    moto = None
    if dynamodb_endpoint is None:
        moto, dynamodb_endpoint = _start_moto()
    try:
        gateway = _prepare(dynamodb_endpoint)
        with _Server((host, port), gateway) as server:
            url = f"http://{host}:{server.server_address[1]}"
            _announce(url, dynamodb_endpoint, embedded=moto is not None)
            server.serve_forever()
    finally:
        if moto is not None:
            moto.stop()


def _raise_keyboard_interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _start_moto() -> tuple[Any, str]:
    for name, value in FAKE_AWS.items():
        os.environ.setdefault(name, value)
    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    return moto, f"http://{host}:{port}"


def _prepare(endpoint: str) -> LocalGateway:
    """Environment as the template sets it, the table, the repository, then the bootstrap keys."""
    for name, value in FAKE_AWS.items():
        os.environ.setdefault(name, value)
    api = local_api()
    table_name = os.environ.get("TABLE_NAME") or LOCAL_TABLE
    for function in [route.function for route in api.routes] + ([api.authorizer] if api.authorizer else []):
        for name, value in resolve_environment(api.template, function.environment, {"Table": table_name}).items():
            if name != "POWERTOOLS_SERVICE_NAME":  # process-wide; each function names its own service in code
                os.environ[name] = value
    os.environ.update(
        {
            "TABLE_NAME": table_name,
            "DYNAMODB_ENDPOINT": endpoint,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )
    os.environ.setdefault("VPBX_ALLOW_INSECURE_CRM", "true")  # local CRMs are usually plain http

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
    return LocalGateway(api)


_announcement: list[str] = []


def _bootstrap(repository: Any) -> None:
    from vpbx.api.keys import generate_secret, issue_key
    from vpbx.domain.errors import AlreadyExists
    from vpbx.service import admin

    now = datetime.now(UTC)
    operator_secret = os.environ.get(OPERATOR_KEY_ENV) or generate_secret()
    admin.ensure_operator_key(repository, operator_secret, now, name="local operator")
    try:
        _, issued = admin.create_tenant(repository, "Demo Company", now, tenant_id=DEMO_TENANT)
    except AlreadyExists:  # a persistent DynamoDB from an earlier run: give the demo tenant a fresh admin key
        issued = issue_key(DEMO_TENANT, "admin", "local demo admin", now)
        repository.put_api_key(issued.key)
    _announcement[:] = [operator_secret, issued.secret]


def _announce(url: str, endpoint: str, embedded: bool) -> None:
    operator_secret, demo_secret = _announcement
    where = "embedded moto server" if embedded else "external"
    lines = [
        f"vpbx local API listening on {url}",
        f"DynamoDB ({where}): {endpoint}",
        f"operator key: {operator_secret}",
        f"demo tenant: {DEMO_TENANT}",
        f"demo admin key: {demo_secret}",
        f"docs: {url}/v1/docs",
        f"try: curl -s {url}/v1/tenants/{DEMO_TENANT} -H 'X-Api-Key: {demo_secret}'",
    ]
    print("\n".join(lines), flush=True)
