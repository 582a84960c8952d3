"""Swagger UI at /v1/docs, rendered by headless Chromium against a real `vpbx serve`.

Chromium comes from Debian (scripts/ensure-chromium.sh, run by `make test` through `make system-deps`). The page
inlines the Swagger UI bundle and the spec, so the assertions read only the DOM outside <script>/<style>: operation
blocks exist there only once the JavaScript has run and rendered the spec.
"""

import json
import re
import shutil
import struct
import subprocess
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import LocalServer

pytestmark = pytest.mark.e2e

CHROMIUM_TIMEOUT_SECONDS = 120
WINDOW = (1280, 1600)
MIN_SCREENSHOT_BYTES = 30_000  # a blank or error page of this size compresses to a few kilobytes
OPENAPI_FILE = Path(__file__).resolve().parents[2] / "openapi.json"
API_TITLE = "vpbx — virtual PBX API"


@dataclass
class RenderedPage:
    """What a user sees: element classes, operation paths and title text, ignoring inline scripts and styles."""

    classes: set[str] = field(default_factory=set)
    operations: list[tuple[str, str]] = field(default_factory=list)  # (METHOD, path)
    titles: list[str] = field(default_factory=list)


class _VisibleDom(HTMLParser):
    _OPAQUE = {"script", "style"}

    def __init__(self) -> None:
        super().__init__()
        self.page = RenderedPage()
        self._opaque_depth = 0
        self._in_title = False
        self._method: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._OPAQUE:
            self._opaque_depth += 1
        if self._opaque_depth:
            return
        attributes = dict(attrs)
        classes = set((attributes.get("class") or "").split())
        self.page.classes |= classes
        if "opblock-summary-method" in classes:
            self._method = ""
        if "opblock-summary-path" in classes and attributes.get("data-path"):
            self.page.operations.append(((self._method or "?").upper(), str(attributes["data-path"])))
        if tag in {"h1", "h2"} and "title" in classes:
            self._in_title = True
            self.page.titles.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._OPAQUE:
            self._opaque_depth = max(0, self._opaque_depth - 1)
        if tag in {"h1", "h2"}:
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._opaque_depth:
            return
        if self._method == "":
            self._method = data.strip()
        if self._in_title:
            self.page.titles[-1] += data


def visible_dom(html: str) -> RenderedPage:
    parser = _VisibleDom()
    parser.feed(html)
    parser.close()
    return parser.page


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium is not installed: run `make system-deps` (scripts/ensure-chromium.sh)")
    return found


def run_chromium(chromium: str, profile: Path, *arguments: str) -> subprocess.CompletedProcess[bytes]:
    command = [
        chromium,
        "--headless",
        "--no-sandbox",  # the tests run as root in CI, where Chromium's sandbox refuses to start
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        *arguments,
    ]
    return subprocess.run(command, capture_output=True, timeout=CHROMIUM_TIMEOUT_SECONDS, check=False)


def committed_operations() -> set[tuple[str, str]]:
    spec = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
    return {(method.upper(), path) for path, item in spec["paths"].items() for method in item}


def test_static_html_has_no_rendered_operations(local_server: LocalServer) -> None:
    # What the assertions below tell apart: before JavaScript runs, the page is a "Loading..." placeholder.
    response = requests.get(f"{local_server.base_url}/v1/docs", timeout=30)
    assert response.status_code == 200
    page = visible_dom(response.text)
    assert page.operations == []
    assert "opblock" not in page.classes


def test_swagger_ui_renders_every_operation(local_server: LocalServer, chromium: str, tmp_path: Path) -> None:
    result = run_chromium(chromium, tmp_path / "profile", "--dump-dom", f"{local_server.base_url}/v1/docs")
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    page = visible_dom(result.stdout.decode("utf-8"))
    assert {"swagger-ui", "information-container", "opblock"} <= page.classes
    assert any(API_TITLE in title for title in page.titles), page.titles
    assert ("POST", "/v1/subscribers") in page.operations
    assert set(page.operations) == committed_operations()
    assert "errors-wrapper" not in page.classes  # Swagger UI lists spec errors there


def test_swagger_ui_screenshot_is_not_blank(local_server: LocalServer, chromium: str, tmp_path: Path) -> None:
    screenshot = tmp_path / "docs.png"
    url = f"{local_server.base_url}/v1/docs"
    result = run_chromium(chromium, tmp_path / "profile", f"--screenshot={screenshot}", url)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    png = screenshot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == WINDOW
    assert len(png) > MIN_SCREENSHOT_BYTES, f"{len(png)} bytes: the page looks blank"


def test_swagger_ui_shows_the_walkthrough_example_of_an_operation(
    local_server: LocalServer, chromium: str, tmp_path: Path
) -> None:
    """A deep link opens createSubscriber: its request example is the README's, not `"string"` placeholders."""
    url = f"{local_server.base_url}/v1/docs#/Subscribers/createSubscriber"
    result = run_chromium(chromium, tmp_path / "profile", "--dump-dom", url)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    text = visible_text(result.stdout.decode("utf-8"))
    assert "Anna Petrova" in text
    assert "An employee's SIP phone (walk-through step 1)" in text  # the example's name in the examples menu


def visible_text(html: str) -> str:
    """The page's text outside <script> and <style> (where the inlined spec would match anything)."""
    without_code = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.DOTALL | re.IGNORECASE)
    return unescape(re.sub(r"<[^>]+>", "", without_code))
