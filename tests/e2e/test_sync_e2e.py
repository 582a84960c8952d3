"""Scenario as code against a real `vpbx serve`: `vpbx push`, `vpbx pull` (a round trip), conflicts, and the preview
of a pushed change before publishing."""

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from vpbx.domain.scenario import Scenario

from tests.e2e.conftest import LocalServer
from tests.helpers.http import Client, create_tenant

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
VPBX = str(Path(sys.executable).parent / "vpbx")


@pytest.fixture
def admin(local_server: LocalServer) -> Client:
    tenant_id = f"sync-{uuid.uuid4().hex[:8]}"
    return create_tenant(Client(local_server.base_url, local_server.operator_key), tenant_id, "Sync")


def vpbx(*args: str, key: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [VPBX, *args, "--key", key], capture_output=True, text=True, timeout=120, check=False, cwd=REPO
    )


def test_push_pull_round_trip_conflict_and_preview(admin: Client, tmp_path: Path) -> None:
    workspace = tmp_path / "office.json"
    workspace.write_text((REPO / "examples" / "office-hours.json").read_text())

    pushed = vpbx("push", str(workspace), "--api", admin.base_url, "--scenario-id", "main", "--publish", key=admin.key)
    assert pushed.returncode == 0, pushed.stderr
    assert "5 created, 0 updated, 0 unchanged" in pushed.stdout
    assert "published version 1" in pushed.stdout
    assert "created subscriber 101" in pushed.stderr
    assert json.loads(workspace.read_text())["remote"]["scenario_id"] == "main"

    pulled = tmp_path / "pulled.json"
    result = vpbx("pull", "main", "--api", admin.base_url, "-o", str(pulled), key=admin.key)
    assert result.returncode == 0, result.stderr
    assert subprocess.run([VPBX, "validate", str(pulled)], capture_output=True, check=False).returncode == 0
    original, copy = json.loads(workspace.read_text()), json.loads(pulled.read_text())
    assert [s["extension"] for s in copy["subscribers"]] == ["101", "102", "103"]
    assert copy["scenario"] == Scenario.model_validate(original["scenario"]).dump()
    assert copy["schedules"][0]["weekly"] == original["schedules"][0]["weekly"]
    again = vpbx("push", str(pulled), "--api", admin.base_url, key=admin.key)
    assert again.returncode == 0, again.stderr
    assert "0 created, 0 updated, 5 unchanged" in again.stdout  # the round trip changes nothing

    # A change pushed and previewed before publishing: after hours, ring 102 for 30 s before voicemail.
    changed = json.loads(pulled.read_text())
    scenario = changed["scenario"]
    scenario["elements"].append(
        {"id": "late", "type": "internal_subscriber", "extension": "102", "limit_wait": True, "wait_seconds": 30}
    )
    scenario["connections"] = [c for c in scenario["connections"] if c.get("exit") != "closed"] + [
        {"from": "hours", "exit": "closed", "to": "late"},
        {"from": "late", "exit": "no_answer", "to": "vm"},
    ]
    pulled.write_text(json.dumps(changed))
    assert vpbx("push", str(pulled), "--api", admin.base_url, key=admin.key).returncode == 0
    preview = admin("POST", "/v1/scenarios/main/preview", {"at": "2026-11-23T10:00:00+03:00", "days": 7})
    assert preview.status_code == 200, preview.text
    assert preview.json()["changed"] is True
    assert "now ring 102 (30 s) → voicemail 101" in preview.json()["text"]

    # Someone renames 102 on the server; the stale workspace edits 102 too: push refuses and writes nothing.
    current = admin("GET", "/v1/subscribers/102")
    renamed = admin("PUT", "/v1/subscribers/102", {"name": "Boris (on leave)"}, if_match=current.headers["ETag"])
    assert renamed.status_code == 200, renamed.text
    stale = json.loads(workspace.read_text())
    stale["subscribers"][1]["name"] = "Boris S."
    stale["scenario"]["name"] = "Changed locally"
    workspace.write_text(json.dumps(stale))
    refused = vpbx("push", str(workspace), "--api", admin.base_url, key=admin.key)
    assert refused.returncode == 1
    assert "push refused" in refused.stderr
    assert "subscriber 102" in refused.stderr
    assert admin("GET", "/v1/scenarios/main").json()["name"] == "Main line"


def test_pull_and_push_report_bad_input(admin: Client, tmp_path: Path) -> None:
    missing = vpbx("pull", "ghost", "--api", admin.base_url, "-o", str(tmp_path / "x.json"), key=admin.key)
    wrong_key = vpbx("pull", "ghost", "--api", admin.base_url, "-o", str(tmp_path / "x.json"), key="vpbx_wrong")
    no_server = vpbx("pull", "main", "--api", "http://127.0.0.1:9", "-o", str(tmp_path / "x.json"), key="k")
    no_id = vpbx("push", str(REPO / "examples" / "seed.json"), "--api", admin.base_url, key=admin.key)

    assert (missing.returncode, wrong_key.returncode, no_server.returncode, no_id.returncode) == (2, 2, 2, 2)
    assert "not found" in missing.stderr
    assert "401" in wrong_key.stderr or "403" in wrong_key.stderr
    assert "cannot reach" in no_server.stderr
    assert "--scenario-id" in no_id.stderr
