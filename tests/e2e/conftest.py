"""A real `vpbx serve` in a subprocess on a free port, shared by the e2e tests of a session."""

import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

READY_TIMEOUT_SECONDS = 90


@dataclass(frozen=True)
class LocalServer:
    base_url: str
    operator_key: str
    demo_tenant: str
    demo_admin_key: str
    output: list[str]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _command(port: int, extra_args: list[str]) -> list[str]:
    console_script = Path(sys.executable).parent / "vpbx"
    if console_script.exists():
        return [str(console_script), "serve", "--port", str(port), *extra_args]
    return [sys.executable, "-m", "vpbx.local", "--port", str(port), *extra_args]


@contextmanager
def running_local_server(
    extra_env: dict[str, str] | None = None, extra_args: list[str] | None = None
) -> Iterator[LocalServer]:
    """`vpbx serve` in a subprocess on a free port until the block ends; `extra_env` adds to its environment,
    `extra_args` to its command line."""
    port = _free_port()
    operator_key = "vpbx_" + secrets.token_urlsafe(32)
    env = {**os.environ, "VPBX_OPERATOR_KEY": operator_key, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    env.pop("DYNAMODB_ENDPOINT", None)
    env.pop("TABLE_NAME", None)
    process = subprocess.Popen(
        _command(port, extra_args or []),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_until_ready(process, base_url, output)
        demo_key = _printed(output, r"demo admin key: (\S+)")
        demo_tenant = _printed(output, r"demo tenant: (\S+)")
        yield LocalServer(base_url, operator_key, demo_tenant, demo_key, output)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def local_server() -> Iterator[LocalServer]:
    with running_local_server() as server:
        yield server


def _wait_until_ready(process: subprocess.Popen[str], base_url: str, output: list[str]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("vpbx serve exited early:\n" + "".join(output))
        if any("demo admin key:" in line for line in output):
            try:
                if requests.get(f"{base_url}/v1/openapi.json", timeout=5).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass
        time.sleep(0.2)
    raise RuntimeError("vpbx serve did not become ready:\n" + "".join(output))


def _printed(output: list[str], pattern: str) -> str:
    for line in output:
        found = re.search(pattern, line)
        if found:
            return found.group(1)
    raise RuntimeError(f"vpbx serve did not print {pattern!r}")
