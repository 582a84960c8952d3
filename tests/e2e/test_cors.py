"""CORS for browser frontends, against `vpbx serve --cors-origin …`: preflights on every route without a key, the
allow-origin header on every response (errors included) for an allowed origin only — and headless Chromium on a page
of another origin: its fetch with X-Api-Key succeeds from the allowed origin and is blocked from any other.
"""

import json
import re
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import LocalServer, running_local_server
from tests.e2e.test_swagger_ui import run_chromium
from tests.security.harness import HttpApi, World, build_world
from tests.security.inventory import concrete_path, template_routes

pytestmark = pytest.mark.e2e
TIMEOUT = 30


class PageServer:
    """Serves one HTML page (`html`, settable) on a port of its own: a frontend's origin (http://127.0.0.1:<port>)."""

    def __init__(self, html: str = "") -> None:
        self.html = html
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                page = outer.html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium is not installed: run `make system-deps` (scripts/ensure-chromium.sh)")
    return found


@pytest.fixture(scope="module")
def allowed_page() -> Iterator[PageServer]:
    page = PageServer()  # its port first: the API server must know this origin before it starts
    yield page
    page.close()


@pytest.fixture(scope="module")
def cors_server(allowed_page: PageServer) -> Iterator[LocalServer]:
    with running_local_server({"VPBX_CORS_ORIGINS": allowed_page.origin}) as server:
        yield server


@pytest.fixture(scope="module")
def world(cors_server: LocalServer) -> World:
    return build_world(HttpApi(cors_server.base_url, cors_server.operator_key), 9)


def fetch_page(api: str, path: str, key: str) -> str:
    """A frontend page: fetch the API with the key in a header (so the browser must preflight), print the outcome."""
    script = f"""
      fetch({json.dumps(api + path)}, {{headers: {{"X-Api-Key": {json.dumps(key)}}}}})
        .then(async (r) => {{ document.getElementById("out").textContent =
            "status " + r.status + " etag " + r.headers.get("ETag") + " rid " + r.headers.get("X-Request-Id")
            + " body " + (await r.text()).slice(0, 60); }})
        .catch((e) => {{ document.getElementById("out").textContent = "blocked " + e.name; }});
    """
    return f"<!doctype html><html><body><pre id='out'>pending</pre><script>{script}</script></body></html>"


def browse(chromium: str, tmp_path: Path, page: PageServer, html: str) -> str:
    """What the page at `page`'s origin printed after running `html` in headless Chromium."""
    page.html = html
    result = run_chromium(chromium, tmp_path / "profile", "--dump-dom", page.origin + "/")
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    found = re.search(r"<pre id=\"out\">(.*?)</pre>", result.stdout.decode())
    assert found, result.stdout.decode()[:2000]
    return found.group(1)


def test_a_page_on_the_allowed_origin_reads_the_api_with_its_key(
    cors_server: LocalServer, allowed_page: PageServer, chromium: str, tmp_path: Path
) -> None:
    html = fetch_page(cors_server.base_url, f"/v1/tenants/{cors_server.demo_tenant}", cors_server.demo_admin_key)
    outcome = browse(chromium, tmp_path, allowed_page, html)
    assert outcome.startswith("status 200"), outcome
    assert " rid " in outcome
    assert "rid null" not in outcome  # X-Request-Id is exposed to the page


def test_a_page_on_another_origin_is_blocked(cors_server: LocalServer, chromium: str, tmp_path: Path) -> None:
    html = fetch_page(cors_server.base_url, f"/v1/tenants/{cors_server.demo_tenant}", cors_server.demo_admin_key)
    other_page = PageServer()  # same host, another port: another origin, not in the allow list
    try:
        outcome = browse(chromium, tmp_path, other_page, html)
    finally:
        other_page.close()
    assert outcome == "blocked TypeError", outcome


def test_every_route_answers_its_preflight_without_a_key(
    cors_server: LocalServer, allowed_page: PageServer, world: World
) -> None:
    paths = sorted({concrete_path(route.resource, world, 0) for route in template_routes()})
    for path in paths:
        request = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-api-key,if-match"}
        allowed = requests.options(
            cors_server.base_url + path, headers={"Origin": allowed_page.origin, **request}, timeout=TIMEOUT
        )
        assert allowed.status_code == 204, (path, allowed.text)
        assert allowed.headers["Access-Control-Allow-Origin"] == allowed_page.origin
        assert "x-api-key" in allowed.headers["Access-Control-Allow-Headers"].lower()
        assert "if-match" in allowed.headers["Access-Control-Allow-Headers"].lower()
        assert allowed.headers["X-Request-Id"]
        other = requests.options(
            cors_server.base_url + path, headers={"Origin": "https://evil.example", **request}, timeout=TIMEOUT
        )
        assert other.status_code == 204
        assert "Access-Control-Allow-Origin" not in other.headers
    assert len(paths) >= 20


def test_errors_carry_cors_and_request_ids_too(cors_server: LocalServer, allowed_page: PageServer) -> None:
    origin = {"Origin": allowed_page.origin}
    no_key = requests.get(f"{cors_server.base_url}/v1/subscribers", headers=origin, timeout=TIMEOUT)
    missing = requests.get(
        f"{cors_server.base_url}/v1/subscribers/999999",
        headers={**origin, "X-Api-Key": cors_server.demo_admin_key},
        timeout=TIMEOUT,
    )
    for response, status in ((no_key, 401), (missing, 404)):
        assert response.status_code == status
        assert response.headers["Access-Control-Allow-Origin"] == allowed_page.origin
        assert "X-Request-Id" in response.headers["Access-Control-Expose-Headers"]
        assert response.json()["error"]["request_id"] == response.headers["X-Request-Id"]
