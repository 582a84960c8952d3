"""The `vpbx` command line: exit codes 0/1/2 for every command, clear messages, never a traceback."""

import json
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from vpbx.cli import main
from vpbx.workspace import WorkspaceError, load_workspace, parse_workspace

ROOT = Path(__file__).resolve().parents[2]
OFFICE_HOURS = str(ROOT / "examples" / "office-hours.json")
SEED = str(ROOT / "examples" / "seed.json")
MONDAY_10_MOSCOW = "2026-11-23T10:00:00+03:00"


def write_workspace(tmp_path: Path, data: object, name: str = "workspace.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def seed_workspace(**scenario_changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(SEED).read_text(encoding="utf-8"))
    data["scenario"].update(scenario_changes)
    return data


def invalid_workspace(tmp_path: Path) -> str:
    """Parses, but the manager's extension is not in the directory."""
    data = seed_workspace()
    data["scenario"]["elements"][1]["extension"] = "999"
    return write_workspace(tmp_path, data)


def unparseable_workspace(tmp_path: Path) -> str:
    return write_workspace(tmp_path, {"scenario": {"name": "Broken", "elements": [{"id": "x", "type": "teleport"}]}})


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


# ---------------------------------------------------------------------------------------------------- validate


def test_validate_a_valid_workspace_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["validate", OFFICE_HOURS], capsys)

    assert code == 0
    assert out.splitlines()[0] == f"{OFFICE_HOURS}: valid (0 errors, 0 warnings)"


def test_validate_reports_located_errors_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["validate", invalid_workspace(tmp_path)], capsys)

    assert code == 1
    assert "invalid (1 error" in out
    assert "unknown_extension  elements[manager].extension:" in out


def test_validate_warnings_alone_still_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = seed_workspace()
    data["scenario"]["elements"].append({"id": "orphan", "type": "hangup"})  # unreachable: a warning
    code, out, _ = run(["validate", write_workspace(tmp_path, data)], capsys)

    assert code == 0
    assert "valid (0 errors, 1 warning)" in out
    assert "unreachable_element" in out


def test_validate_json_lists_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["validate", "--json", invalid_workspace(tmp_path)], capsys)
    report = json.loads(out)

    assert code == 1
    assert report["ok"] is False
    assert report["errors"] == 1
    assert report["problems"][0]["code"] == "unknown_extension"
    assert report["problems"][0]["element_id"] == "manager"


def test_validate_reports_bad_directory_entries_with_their_location(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = seed_workspace()
    data["subscribers"].append({"extension": "12ab", "name": "Typo"})
    code, out, _ = run(["validate", write_workspace(tmp_path, data)], capsys)

    assert code == 1
    assert "invalid_directory  subscribers[2].extension:" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"subscribers": []}', "missing the 'scenario' key"),
        ("[" * 100_000, "nested too deeply"),
    ],
)
def test_validate_unusable_input_exits_2_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    code, out, err = run(["validate", str(path)], capsys)

    assert code == 2
    assert out == ""
    assert message in err


def test_validate_a_missing_file_or_a_directory_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["validate", str(tmp_path / "nope.json")], capsys)[0] == 2
    code, _, err = run(["validate", str(tmp_path)], capsys)

    assert code == 2
    assert "is a directory" in err


def test_validate_reads_standard_input(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    stdin = types.SimpleNamespace(buffer=open(SEED, "rb"))  # noqa: SIM115 - closed below
    monkeypatch.setattr(sys, "stdin", stdin)
    try:
        code, out, _ = run(["validate", "-"], capsys)
    finally:
        stdin.buffer.close()

    assert code == 0
    assert out.startswith("-: valid")


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run([], capsys)[0] == 2
    assert run(["frobnicate"], capsys)[0] == 2
    assert run(["validate"], capsys)[0] == 2


# ---------------------------------------------------------------------------------------------------- simulate


def test_simulate_prints_one_line_per_step_and_the_result(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["simulate", OFFICE_HOURS, "--at", MONDAY_10_MOSCOW], capsys)
    lines = out.splitlines()

    assert code == 0
    assert [line.split()[1] for line in lines[:-1]] == ["start", "hours", "mgr", "sales", "vm"]
    assert "ring 101 (single, 20 s)" in lines[2]
    assert lines[-1] == "result: voicemail at vm"


def test_simulate_json_follows_scripted_outcomes(capsys: pytest.CaptureFixture[str]) -> None:
    outcomes = json.dumps({"sales": ["answered"]})
    code, out, _ = run(["simulate", OFFICE_HOURS, "--at", MONDAY_10_MOSCOW, "--outcomes", outcomes, "--json"], capsys)
    result = json.loads(out)

    assert code == 0
    assert result["result"] == {"status": "connected", "element_id": "sales", "reason": None}
    assert [step["element_id"] for step in result["steps"]] == ["start", "hours", "mgr", "sales"]


def test_simulate_reads_outcomes_from_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "outcomes.json"
    script.write_text(json.dumps({"manager": ["answered"]}), encoding="utf-8")
    code, out, _ = run(["simulate", SEED, "--outcomes", f"@{script}"], capsys)

    assert code == 0
    assert out.splitlines()[-1] == "result: connected at manager"


def test_simulate_naive_time_means_utc(capsys: pytest.CaptureFixture[str]) -> None:
    # 06:30 UTC is 09:30 in Moscow: open. The same wall time read as Moscow time would be closed.
    code, out, _ = run(["simulate", OFFICE_HOURS, "--at", "2026-11-23T06:30:00"], capsys)

    assert code == 0
    assert "hours (schedule)  -> open" in out


def test_simulate_an_invalid_scenario_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["simulate", invalid_workspace(tmp_path)], capsys)

    assert code == 1
    assert out == ""
    assert "the scenario is invalid (1 error)" in err
    assert "unknown_extension" in err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--outcomes", "{bad"], "not valid JSON"),
        (["--outcomes", '{"ghost": ["answered"]}'], "'ghost'"),
        (["--outcomes", '{"manager": ["teleported"]}'], "teleported"),
        (["--outcomes", "@/nonexistent/outcomes.json"], "cannot read"),
        (["--at", "next tuesday"], "--at"),
        (["--caller", "12345"], "--caller"),
    ],
)
def test_simulate_bad_options_exit_2(capsys: pytest.CaptureFixture[str], options: list[str], message: str) -> None:
    code, out, err = run(["simulate", SEED, *options], capsys)

    assert code == 2
    assert out == ""
    assert message in err


def test_simulate_an_unreadable_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["simulate", str(tmp_path / "missing.json")], capsys)[0] == 2


# ---------------------------------------------------------------------------------------------------- diagram


def test_diagram_prints_a_mermaid_flowchart(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["diagram", OFFICE_HOURS], capsys)

    assert code == 0
    assert out.startswith("flowchart TD\n")
    assert "Subscriber 101 (20 s)" in out
    assert "visited" not in out


def test_diagram_highlights_the_simulated_path(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["diagram", OFFICE_HOURS, "--path-from-simulation", "--at", "2026-11-04T10:00:00+03:00"], capsys)

    assert code == 0
    assert "class n_start,n_hours,n_vm visited" in out


def test_diagram_draws_a_scenario_with_graph_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["diagram", invalid_workspace(tmp_path)], capsys)

    assert code == 0
    assert "Subscriber 999" in out


def test_diagram_of_an_unparseable_scenario_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["diagram", unparseable_workspace(tmp_path)], capsys)

    assert code == 1
    assert out == ""
    assert "unknown_element_type" in err


def test_diagram_path_needs_a_valid_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["diagram", invalid_workspace(tmp_path), "--path-from-simulation"], capsys)[0] == 1


def test_diagram_rejects_call_options_without_a_simulation(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["diagram", SEED, "--at", MONDAY_10_MOSCOW], capsys)

    assert code == 2
    assert "--path-from-simulation" in err


def test_diagram_of_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["diagram", str(tmp_path / "missing.json")], capsys)[0] == 2


def test_an_unexpected_failure_is_reported_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*_: object, **__: object) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr("vpbx.domain.diagram.to_mermaid", broken)
    monkeypatch.delenv("VPBX_DEBUG", raising=False)
    code, _, err = run(["diagram", SEED], capsys)

    assert code == 3
    assert "internal error: RuntimeError: boom" in err


# ---------------------------------------------------------------------------------------------------- analyze


def test_analyze_prints_the_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["analyze", SEED], capsys)

    assert code == 0
    assert "senior" in out


def test_analyze_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["analyze", SEED, "--json"], capsys)

    assert code == 0
    assert sorted(json.loads(out)["reachable_extensions"]) == ["101", "102"]


def test_analyze_exit_codes_for_invalid_and_unreadable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["analyze", invalid_workspace(tmp_path)], capsys)[0] == 1
    assert run(["analyze", str(tmp_path / "missing.json")], capsys)[0] == 2


# ---------------------------------------------------------------------------------------------------- serve


class FakeServer:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def serve(
        self,
        port: int = 3000,
        dynamodb_endpoint: str | None = None,
        host: str = "127.0.0.1",
        instances: int | None = None,
        cors_origins: list[str] | None = None,
        allow_insecure_crm: bool = False,
        allow_insecure_webhooks: bool = False,
    ) -> None:
        call: dict[str, Any] = {"port": port, "dynamodb_endpoint": dynamodb_endpoint, "host": host}
        call |= {"instances": instances} | ({"cors_origins": cors_origins} if cors_origins else {})
        call |= {"allow_insecure_webhooks": True} if allow_insecure_webhooks else {}
        self.calls.append(call | ({"allow_insecure_crm": True} if allow_insecure_crm else {}))


@pytest.fixture
def fake_server(monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    server = FakeServer()
    module = types.ModuleType("vpbx.local.server")
    module.serve = server.serve  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vpbx.local.server", module)
    return server


def test_serve_passes_its_options_to_the_server(fake_server: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(
        ["serve", "--port", "3100", "--dynamodb-endpoint", "http://127.0.0.1:5000", "--instances", "2"], capsys
    )

    assert code == 0
    expected = {"port": 3100, "dynamodb_endpoint": "http://127.0.0.1:5000", "host": "127.0.0.1", "instances": 2}
    assert fake_server.calls == [expected]


def test_serve_passes_allow_insecure_crm(fake_server: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["serve", "--allow-insecure-crm"], capsys)[0] == 0
    assert fake_server.calls[0]["allow_insecure_crm"] is True


def test_serve_passes_allow_insecure_webhooks(fake_server: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["serve", "--allow-insecure-webhooks"], capsys)[0] == 0
    assert fake_server.calls[0]["allow_insecure_webhooks"] is True


def test_serve_passes_cors_origins(fake_server: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["serve", "--cors-origin", "http://localhost:5173", "--cors-origin", "https://app.example.com"]
    assert run(args, capsys)[0] == 0
    assert fake_server.calls[0]["cors_origins"] == ["http://localhost:5173", "https://app.example.com"]


def test_serve_defaults(fake_server: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["serve"], capsys)[0] == 0
    assert fake_server.calls == [{"port": 3000, "dynamodb_endpoint": None, "host": "127.0.0.1", "instances": None}]


def test_serve_rejects_a_bad_port(fake_server: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["serve", "--port", "70000"], capsys)[0] == 2
    assert run(["serve", "--port", "http"], capsys)[0] == 2
    assert fake_server.calls == []


# ---------------------------------------------------------------------------------------------------- workspace


def test_workspace_keeps_valid_directory_entries_and_locates_the_rest() -> None:
    workspace = parse_workspace(
        json.dumps(
            {
                "scenario": {},
                "subscribers": [
                    {"extension": "101", "name": "A"},
                    {"extension": "102", "name": "B", "kind": "mobile"},
                    {"extension": "101", "name": "C"},
                ],
                "schedules": {"id": "office"},
                "caller_list": [],
            }
        )
    )

    assert list(workspace.directory.subscribers) == ["101"]
    assert [str(p) for p in workspace.problems] == [
        "caller_list: unknown key; expected one of: scenario, description, subscribers, schedules, caller_lists, "
        "queues",
        "subscribers[1]: a mobile subscriber needs a target (E.164 number or SIP URI)",
        "subscribers[2].extension: duplicate extension '101' (first at subscribers[0])",
        "schedules: expected a list, got an object",
    ]


def test_workspace_rejects_non_utf8_files(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"scenario": "\xe9"}')

    with pytest.raises(WorkspaceError, match="not UTF-8"):
        load_workspace(path)


# ---------------------------------------------------------------------------------------------------- console script


def test_the_installed_console_script_validates_without_loading_aws_libraries() -> None:
    script = Path(sys.executable).parent / "vpbx"
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}  # stderr lists every module imported
    completed = subprocess.run(
        [str(script), "validate", OFFICE_HOURS], capture_output=True, text=True, timeout=60, env=env, check=False
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in completed.stderr.splitlines() if "|" in line}

    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "valid (0 errors, 0 warnings)" in completed.stdout
    assert "vpbx.domain.validation" in imported
    assert not {m for m in imported if m.split(".")[0] in {"boto3", "botocore", "moto"}}
