"""The CRM lookup against a local test server, and its refusal of internal addresses (SSRF).

Every test here connects to 127.0.0.1 only: refused targets go through a connector that records attempts.
"""

import datetime
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from vpbx.api.deps import build_crm_client
from vpbx.api.settings import Settings
from vpbx.domain.calls import CrmRefused
from vpbx.service.crm import (
    MAX_TIMEOUT_SECONDS,
    CrmClient,
    CrmRequest,
    crm_lookup_for_call,
    direct_connector,
    refusal_reason,
)

Reply = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class CrmServer:
    port: int
    reply: Reply = field(default=lambda handler: _json(handler, 200, {"extension": "101"}))
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/lookup"


def _json(handler: BaseHTTPRequestHandler, status: int, document: object) -> None:
    _raw(handler, status, json.dumps(document).encode())


def _raw(handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _serve(wrap: Callable[[socket.socket], socket.socket] | None = None) -> Iterator[CrmServer]:
    state = CrmServer(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            state.requests.append(
                {"path": self.path, "host": self.headers.get("Host"), "body": json.loads(self.rfile.read(length))}
            )
            state.reply(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if wrap is not None:
        server.socket = wrap(server.socket)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def crm_server() -> Iterator[CrmServer]:
    yield from _serve()


@dataclass
class RecordingConnector:
    """Connects only to 127.0.0.1 and records every attempt; anything else fails the test."""

    attempts: list[tuple[str, int]] = field(default_factory=list)

    def __call__(self, address: tuple[str, int], timeout: float) -> socket.socket:
        self.attempts.append(address)
        assert address[0] == "127.0.0.1", f"tried to connect to {address}"
        return direct_connector(address, timeout)


def local_client(**overrides: Any) -> CrmClient:
    settings: dict[str, Any] = {"allow_insecure": True, "connector": RecordingConnector()}
    settings.update(overrides)
    return CrmClient(**settings)


def ask(client: CrmClient, url: str, timeout: float = 2.0) -> str | None:
    return client.lookup(
        CrmRequest(url=url, caller="+74951234567", called="+74957654321", call_id="call-1", timeout_seconds=timeout)
    )


# ---------------------------------------------------------------------------------------------- answers


def test_found_posts_the_documented_request_and_returns_the_extension(crm_server: CrmServer) -> None:
    assert ask(local_client(), crm_server.url) == "101"
    assert crm_server.requests == [
        {
            "path": "/lookup",
            "host": f"127.0.0.1:{crm_server.port}",
            "body": {"caller": "+74951234567", "called": "+74957654321", "call_id": "call-1"},
        }
    ]


def test_numeric_extension_is_accepted_as_text(crm_server: CrmServer) -> None:
    crm_server.reply = lambda h: _json(h, 200, {"extension": 205})
    assert ask(local_client(), crm_server.url) == "205"


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(lambda h: _json(h, 200, {"extension": None}), id="null-extension"),
        pytest.param(lambda h: _json(h, 404, {"extension": "101"}), id="http-404"),
        pytest.param(lambda h: _json(h, 500, {"error": "boom"}), id="http-500"),
        pytest.param(lambda h: _raw(h, 200, b"{not json"), id="bad-json"),
        pytest.param(lambda h: _raw(h, 200, b"\xff\xfe"), id="not-utf8"),
        pytest.param(lambda h: _json(h, 200, ["101"]), id="not-an-object"),
        pytest.param(lambda h: _json(h, 200, {"ext": "101"}), id="no-extension-key"),
        pytest.param(lambda h: _json(h, 200, {"extension": "1O1"}), id="not-digits"),
        pytest.param(lambda h: _json(h, 200, {"extension": "1234567"}), id="too-long"),
        pytest.param(lambda h: _json(h, 200, {"extension": True}), id="boolean"),
        pytest.param(lambda h: _json(h, 200, {"extension": "101", "pad": "x" * 20_000}), id="oversized"),
    ],
)
def test_not_found_and_bad_answers_give_no_extension(crm_server: CrmServer, reply: Reply) -> None:
    crm_server.reply = reply
    assert ask(local_client(), crm_server.url) is None
    assert len(crm_server.requests) == 1  # the server was really asked


def test_oversized_body_without_length_is_cut_at_the_cap(crm_server: CrmServer) -> None:
    def chunked_flood(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(b'{"extension": "101", "pad": "' + b"x" * 100_000 + b'"}')

    crm_server.reply = chunked_flood
    assert ask(local_client(max_response_bytes=1024), crm_server.url) is None


def test_slow_answer_times_out_within_the_deadline(crm_server: CrmServer) -> None:
    release = threading.Event()

    def slow(handler: BaseHTTPRequestHandler) -> None:
        release.wait(5)
        _json(handler, 200, {"extension": "101"})

    crm_server.reply = slow
    started = time.monotonic()
    try:
        assert ask(local_client(), crm_server.url, timeout=0.3) is None
        assert time.monotonic() - started < 2.0
    finally:
        release.set()


def test_dripping_answer_is_cut_by_the_total_deadline(crm_server: CrmServer) -> None:
    release = threading.Event()

    def drip(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        for _ in range(1000):
            if release.wait(0.05):
                return
            handler.wfile.write(b" ")
            handler.wfile.flush()

    crm_server.reply = drip
    started = time.monotonic()
    try:
        assert ask(local_client(), crm_server.url, timeout=0.4) is None
        assert time.monotonic() - started < 2.0
    finally:
        release.set()


def test_slow_dns_counts_against_the_deadline() -> None:
    def stuck_resolver(host: str, port: int) -> list[str]:
        time.sleep(1.5)
        return ["127.0.0.1"]

    connector = RecordingConnector()
    started = time.monotonic()
    assert ask(local_client(resolver=stuck_resolver, connector=connector), "http://crm.test/", timeout=0.2) is None
    assert time.monotonic() - started < 1.0
    assert connector.attempts == []


def test_timeout_is_capped_at_five_seconds() -> None:
    assert MAX_TIMEOUT_SECONDS <= 5


# ---------------------------------------------------------------------------------------------- refusals (SSRF)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/lookup",
        "https://10.1.2.3/lookup",
        "https://172.16.0.1/",
        "https://192.168.1.1/",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/lookup",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:169.254.169.254]/",
        "https://0.0.0.0/",
        "https://[fe80::1]/",
        "http://127.0.0.1:8080/lookup",  # plain http is refused outright by default
        "http://crm.example.com/lookup",
        "ftp://crm.example.com/lookup",
        "file:///etc/passwd",
        "https://user:secret@crm.example.com/",
        "https://crm.example.com:99999/",
        "not a url",
    ],
)
def test_default_setting_refuses_internal_targets_without_connecting(url: str) -> None:
    connector = RecordingConnector()
    client = CrmClient(connector=connector, resolver=lambda host, port: ["93.184.216.34"])
    assert ask(client, url) is None
    assert connector.attempts == []


def test_hostname_resolving_to_loopback_is_refused_without_connecting() -> None:
    resolved: list[str] = []
    connector = RecordingConnector()

    def resolver(host: str, port: int) -> list[str]:
        resolved.append(host)
        return ["127.0.0.1"]

    assert ask(CrmClient(connector=connector, resolver=resolver), "https://crm.evil.test/lookup") is None
    assert resolved == ["crm.evil.test"]
    assert connector.attempts == []


def test_real_localhost_name_is_refused_by_default() -> None:
    connector = RecordingConnector()
    assert ask(CrmClient(connector=connector), "https://localhost/lookup") is None
    assert connector.attempts == []


def test_one_internal_address_among_public_ones_refuses_the_host() -> None:
    connector = RecordingConnector()
    client = CrmClient(connector=connector, resolver=lambda host, port: ["93.184.216.34", "10.0.0.7"])
    assert ask(client, "https://crm.example.com/") is None
    assert connector.attempts == []


def test_insecure_setting_still_refuses_private_networks() -> None:
    connector = RecordingConnector()
    client = CrmClient(allow_insecure=True, connector=connector, resolver=lambda host, port: ["10.0.0.5"])
    assert ask(client, "http://crm.internal/lookup") is None
    assert connector.attempts == []


def test_insecure_setting_allows_plain_http_to_loopback_only() -> None:
    connector = RecordingConnector()
    client = CrmClient(allow_insecure=True, connector=connector, resolver=lambda host, port: ["93.184.216.34"])
    assert ask(client, "http://crm.example.com/lookup") is None
    assert connector.attempts == []


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("10.0.0.1", True),
        ("172.31.255.255", True),
        ("192.168.0.10", True),
        ("100.64.0.1", True),  # carrier-grade NAT
        ("169.254.169.254", True),
        ("224.0.0.1", True),
        ("239.255.255.250", True),
        ("240.0.0.1", True),
        ("255.255.255.255", True),
        ("0.0.0.0", True),  # noqa: S104 - an address under test, not a bind
        ("::", True),
        ("::1", True),
        ("fe80::1", True),
        ("fc00::1", True),
        ("ff02::1", True),
        ("::ffff:127.0.0.1", True),
        ("::ffff:10.0.0.1", True),
        ("::ffff:169.254.169.254", True),
        ("::127.0.0.1", True),  # IPv4-compatible form
        ("64:ff9b::a9fe:a9fe", True),  # NAT64 of 169.254.169.254
        ("2002:7f00:1::", True),  # 6to4 of 127.0.0.1
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", True),  # Teredo with a private client
        ("not-an-ip", True),
        ("8.8.8.8", False),
        ("93.184.216.34", False),
        ("2001:4860:4860::8888", False),
        ("::ffff:8.8.8.8", False),
    ],
)
def test_refusal_reason_by_address(address: str, refused: bool) -> None:
    assert (refusal_reason(address, allow_loopback=False) is not None) is refused


def test_loopback_allowance_covers_loopback_but_not_private() -> None:
    assert refusal_reason("127.0.0.1", allow_loopback=True) is None
    assert refusal_reason("::ffff:127.0.0.1", allow_loopback=True) is None
    assert refusal_reason("10.0.0.1", allow_loopback=True) is not None
    assert refusal_reason("169.254.169.254", allow_loopback=True) is not None


def test_insecure_setting_is_off_unless_set() -> None:
    assert CrmClient().allow_insecure is False
    assert build_crm_client(Settings.from_env({})).allow_insecure is False
    assert build_crm_client(Settings.from_env({"VPBX_ALLOW_INSECURE_CRM": "1"})).allow_insecure is True


# ---------------------------------------------------------------------------------------------- https, pinned address


@dataclass
class Certificate:
    cert_file: Path
    key_file: Path


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "crm.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("crm.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return Certificate(cert_file, key_file)


@pytest.fixture
def tls_server(certificate: Certificate) -> Iterator[CrmServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate.cert_file, certificate.key_file)
    yield from _serve(lambda sock: context.wrap_socket(sock, server_side=True))


def _trusting(certificate: Certificate) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate.cert_file))


def test_https_connects_to_the_checked_address_with_the_name_for_sni_and_host(
    tls_server: CrmServer, certificate: Certificate
) -> None:
    lookups: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    client = local_client(resolver=resolver, ssl_context=_trusting(certificate))
    assert ask(client, f"https://crm.test:{tls_server.port}/route?src=vpbx") == "101"
    assert lookups == ["crm.test"]  # resolved once; the connection used that answer
    assert tls_server.requests[0]["host"] == f"crm.test:{tls_server.port}"
    assert tls_server.requests[0]["path"] == "/route?src=vpbx"


def test_https_certificate_must_match_the_name(tls_server: CrmServer, certificate: Certificate) -> None:
    client = local_client(resolver=lambda host, port: ["127.0.0.1"], ssl_context=_trusting(certificate))
    assert ask(client, f"https://other.test:{tls_server.port}/") is None
    assert tls_server.requests == []


def test_https_untrusted_certificate_is_refused(tls_server: CrmServer) -> None:
    client = local_client(resolver=lambda host, port: ["127.0.0.1"])
    assert ask(client, f"https://crm.test:{tls_server.port}/") is None
    assert tls_server.requests == []


# ---------------------------------------------------------------------------------------------- executor binding


def test_lookup_for_call_binds_called_number_and_call_id(crm_server: CrmServer) -> None:
    lookup = crm_lookup_for_call(local_client(), called="+74950000000", call_id="c-42")
    assert lookup(crm_server.url, "+79161234567", 1.0) == "101"
    assert crm_server.requests[0]["body"] == {"caller": "+79161234567", "called": "+74950000000", "call_id": "c-42"}


def test_withheld_caller_is_sent_as_null(crm_server: CrmServer) -> None:
    lookup = crm_lookup_for_call(local_client(), called="+74950000000", call_id="c-43")
    lookup(crm_server.url, None, 1.0)
    assert crm_server.requests[0]["body"]["caller"] is None
    assert ipaddress.ip_address("127.0.0.1").is_loopback


# ---------------------------------------------------------------------------------------------- refusals for the trace


@pytest.mark.parametrize(
    ("client", "url", "reason"),
    [
        (CrmClient(), "http://127.0.0.1:8080/lookup", "scheme 'http' is not allowed"),
        (CrmClient(), "https://127.0.0.1/lookup", "127.0.0.1 is not a public address"),
        (CrmClient(), "https://user:secret@crm.example.com/", "credentials in the URL"),
        (CrmClient(allow_insecure=True, resolver=lambda host, port: ["10.0.0.5"]), "http://crm.internal/", "public"),
        (CrmClient(allow_insecure=True, resolver=lambda host, port: ["93.184.216.34"]), "http://crm.example/", "loop"),
    ],
)
def test_the_executor_binding_raises_refusals_so_the_trace_can_name_them(
    client: CrmClient, url: str, reason: str
) -> None:
    connector = client.connector = RecordingConnector()
    lookup = crm_lookup_for_call(client, called="+74950000000", call_id="c-44")
    with pytest.raises(CrmRefused, match=reason):
        lookup(url, "+79161234567", 1.0)
    assert ask(client, url) is None  # `lookup` itself still answers None, as documented
    assert connector.attempts == []


def test_failures_that_are_not_refusals_still_answer_none_to_the_executor() -> None:
    def resolver(host: str, port: int) -> list[str]:
        raise OSError("no such host")

    lookup = crm_lookup_for_call(CrmClient(resolver=resolver), called="+74950000000", call_id="c-45")
    assert lookup("https://crm.example.com/", None, 1.0) is None


def test_the_deployed_template_never_allows_insecure_crms() -> None:
    from vpbx.api.settings import INSECURE_CRM_ENV, flag
    from vpbx.local.template import local_api, resolve_environment

    api = local_api()
    functions = [route.function for route in api.routes] + ([api.authorizer] if api.authorizer else [])
    settings = {
        function.logical_id: resolve_environment(api.template, function.environment, {}).get(INSECURE_CRM_ENV, "")
        for function in functions
    }
    assert settings
    assert not any(flag(value) for value in settings.values()), settings
