"""The README walk-through through the clients a SaaS frontend generates from openapi.json, against `vpbx serve`.

`make clients` (part of `make test`) generates them into clients/generated; without them these tests skip and say so.
Each language gets a fresh tenant: the walk-through creates extension 101 and scenario main.
"""

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import LocalServer
from tests.helpers.http import Client, create_tenant

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
GENERATED = REPO / "clients" / "generated"
PYTHON_CLIENT = GENERATED / "python" / "vpbx_client"
TYPESCRIPT_WALKTHROUGH = GENERATED / "typescript" / "out" / "walkthrough.js"
CLIENTS_PYTHON = REPO / ".venv-clients" / "bin" / "python"
EXPECTED_LINES = ["subscriber 101 Anna Petrova", "published version 1", "simulated: start → mgr → sales"]


def _admin_key(server: LocalServer, language: str) -> str:
    admin = create_tenant(
        Client(server.base_url, server.operator_key), f"client-{language}-{uuid.uuid4().hex[:8]}", language
    )
    return admin.key


def _run(command: list[str]) -> str:
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{' '.join(command[:2])} failed:\n{done.stdout}\n{done.stderr}"
    for expected in EXPECTED_LINES:
        assert expected in done.stdout, done.stdout
    return done.stdout


def test_the_generated_python_client_runs_the_walkthrough(local_server: LocalServer) -> None:
    if not (PYTHON_CLIENT.exists() and CLIENTS_PYTHON.exists()):
        pytest.skip("no generated Python client: run `make clients`")
    key = _admin_key(local_server, "python")
    script = str(REPO / "clients" / "python" / "walkthrough.py")
    env_prefix = ["env", f"PYTHONPATH={PYTHON_CLIENT.parent}"]
    _run([*env_prefix, str(CLIENTS_PYTHON), script, "--base-url", local_server.base_url, "--api-key", key])


def test_the_generated_typescript_client_runs_the_walkthrough(local_server: LocalServer) -> None:
    node = shutil.which("node")
    if node is None or not TYPESCRIPT_WALKTHROUGH.exists():
        pytest.skip("no generated TypeScript client or no node: run `make clients`")
    key = _admin_key(local_server, "typescript")
    _run([node, str(TYPESCRIPT_WALKTHROUGH), local_server.base_url, key])
