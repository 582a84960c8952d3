"""`vpbx`: scenario tools on workspace files (validate, simulate, diagram, analyze, diff) and the local API server.

Exit codes: 0 success (warnings allowed), 1 the scenario is invalid (for `diff`: the scenarios behave differently),
2 bad input (unreadable file, bad option; for `diff` also an invalid scenario), 3 an internal error. Imports are
lazy so the pure commands start fast and never load boto3 or moto.
"""

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from vpbx import __version__
from vpbx.domain.errors import InvalidScenario, VpbxError

if TYPE_CHECKING:
    from vpbx.domain.directory import Directory
    from vpbx.domain.scenario import Scenario
    from vpbx.workspace import Workspace

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_CHANGED = 1  # `vpbx diff`: the scenarios behave differently (a CI gate fails on it)
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
DEBUG_ENV = "VPBX_DEBUG"
API_KEY_ENV = "VPBX_API_KEY"


class BadInput(Exception):
    """An option or file the user gave cannot be used; the message says which and why."""


class ScenarioInvalid(Exception):
    """The workspace parsed but its scenario has errors; the problems were already printed."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: argparse already printed
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ScenarioInvalid:
        return EXIT_INVALID
    except BrokenPipeError:  # `vpbx diagram … | head`: the reader is gone, which is not an error
        _silence_stdout()
        return EXIT_OK
    except InvalidScenario as exc:
        _error(exc.message)
        return EXIT_INVALID
    except (BadInput, VpbxError, ValueError, OSError) as exc:
        _error(getattr(exc, "message", None) or str(exc))
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get(DEBUG_ENV):
            raise
        _error(f"internal error: {type(exc).__name__}: {exc} (set {DEBUG_ENV}=1 for the traceback)")
        return EXIT_INTERNAL


# ---------------------------------------------------------------------------------------------------- parser


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vpbx", description="Virtual PBX scenario tools and local API server.")
    parser.add_argument("--version", action="version", version=f"vpbx {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check a workspace's scenario: errors and warnings")
    _add_file(validate)
    _add_json(validate)
    validate.set_defaults(handler=_validate_command)

    simulate = commands.add_parser("simulate", help="walk a call through the scenario with scripted outcomes")
    _add_file(simulate)
    _add_call_options(simulate)
    _add_json(simulate)
    simulate.set_defaults(handler=_simulate_command)

    diagram = commands.add_parser("diagram", help="print the scenario as a Mermaid flowchart")
    _add_file(diagram)
    diagram.add_argument(
        "--path-from-simulation", action="store_true", help="highlight the path a simulated call takes"
    )
    _add_call_options(diagram)
    diagram.set_defaults(handler=_diagram_command)

    analyze = commands.add_parser("analyze", help="summarize the scenario: paths, ring times, reachability")
    _add_file(analyze)
    _add_json(analyze)
    analyze.set_defaults(handler=_analyze_command)

    diff = commands.add_parser(
        "diff",
        help="what changes for callers between two workspaces (exit 0 no change, 1 changes, 2 bad input)",
        description="Run both scenarios through the same calls (schedule boundaries, caller lists, CRM answers, "
        "outcomes) over the NEW workspace's directory and print the calls that behave differently.",
    )
    diff.add_argument("old", metavar="OLD", help="workspace JSON file of the current scenario")
    diff.add_argument("new", metavar="NEW", help="workspace JSON file of the changed scenario")
    diff.add_argument("--days", type=int, default=14, help="days of schedules to explore (default 14, at most 62)")
    diff.add_argument("--at", metavar="ISO-8601", help="first day explored (default today)")
    diff.add_argument(
        "--mermaid", action="store_true", help="print the new scenario as a Mermaid diagram of the change"
    )
    _add_json(diff)
    diff.set_defaults(handler=_diff_command)

    push = commands.add_parser(
        "push",
        help="make a tenant match a workspace: directory objects and the scenario draft (If-Match), --publish",
        description="Creates the workspace's subscribers, schedules and caller lists and its scenario draft, or "
        "replaces those that differ, each write conditioned on the version just read. Refuses, writing nothing, when "
        "an object changed on the server since the workspace was pulled. Records the new versions in the workspace.",
    )
    _add_file(push)
    _add_remote(push)
    push.add_argument("--scenario-id", metavar="ID", help="scenario id on the server (default: the workspace's remote)")
    push.add_argument("--publish", action="store_true", help="publish the draft afterwards and print what changed")
    push.set_defaults(handler=_push_command)

    pull = commands.add_parser("pull", help="write a tenant's scenario and the directory objects it names to a file")
    pull.add_argument("scenario_id", metavar="SCENARIO_ID", help="the scenario to pull")
    _add_remote(pull)
    pull.add_argument("-o", "--output", metavar="FILE", required=True, help="workspace file to write ('-': stdout)")
    pull.set_defaults(handler=_pull_command)

    serve = commands.add_parser("serve", help="run the local API on an embedded DynamoDB")
    serve.add_argument("--port", type=int, default=3000, help="TCP port (default 3000)")
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--dynamodb-endpoint", metavar="URL", help="use this DynamoDB instead of the embedded one")
    serve.add_argument(
        "--instances",
        type=int,
        metavar="N",
        help="concurrent instances per function (default VPBX_LOCAL_INSTANCES or 4)",
    )
    serve.add_argument(
        "--cors-origin",
        action="append",
        metavar="ORIGIN",
        help="browser origin allowed to call the API, e.g. http://localhost:5173 (repeatable)",
    )
    serve.add_argument(
        "--allow-insecure-crm",
        action="store_true",
        help="let external_routing call http:// and loopback CRMs (development only; default VPBX_ALLOW_INSECURE_CRM)",
    )
    serve.add_argument(
        "--allow-insecure-webhooks",
        action="store_true",
        help="let webhooks target loopback https receivers, trusting VPBX_WEBHOOK_CA_FILE (tests only; default "
        "VPBX_ALLOW_INSECURE_WEBHOOKS)",
    )
    serve.set_defaults(handler=_serve_command)
    return parser


def _add_file(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="workspace JSON file ('-' reads standard input)")


def _add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def _add_remote(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api", metavar="URL", required=True, help="the API's base URL, e.g. http://127.0.0.1:3000")
    parser.add_argument("--key", metavar="KEY", help="API key (default: the VPBX_API_KEY environment variable)")


def _add_call_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--outcomes", metavar="JSON|@FILE", help="telephony outcomes to replay, as JSON text or @path to a JSON file"
    )
    parser.add_argument("--at", metavar="ISO-8601", help="when the call arrives (default now; no offset means UTC)")
    parser.add_argument("--caller", metavar="E164", help="the caller's number (default: withheld)")
    parser.add_argument(
        "--queues",
        metavar="JSON|@FILE",
        help='queue agents on the simulated clock, e.g. {"support": {"agents": {"101": [[0, 60]]}}} (seconds since '
        "the call started when each agent is free; `answers`: {ext: false} for one who does not pick up)",
    )


# ---------------------------------------------------------------------------------------------------- commands


def _validate_command(args: argparse.Namespace) -> int:
    workspace = _load(args.file)
    report = _validate(workspace)
    problems = _problem_dicts(workspace, report)
    ok = _is_valid(workspace, report)
    if args.json:
        _print_json({"ok": ok, **_counts(problems), "problems": problems})
    else:
        counts = _counts(problems)
        verdict = "valid" if ok else "invalid"
        print(
            f"{args.file}: {verdict} ({_plural(counts['errors'], 'error')}, {_plural(counts['warnings'], 'warning')})"
        )
        for problem in problems:
            print(f"  {_problem_line(problem)}")
    return EXIT_OK if ok else EXIT_INVALID


def _simulate_command(args: argparse.Namespace) -> int:
    workspace = _load(args.file)
    scenario = _valid_scenario(args.file, workspace)
    result = _simulate(scenario, workspace.directory, args)
    if args.json:
        _print_json(result.model_dump(mode="json"))
        return EXIT_OK
    dumped = result.model_dump(mode="json")
    for step in dumped.get("steps", []):
        print(_step_line(step))
    outcome = dumped.get("result") or {}
    reason = f" ({outcome['reason']})" if outcome.get("reason") else ""
    print(f"result: {outcome.get('status')} at {outcome.get('element_id')}{reason}")
    return EXIT_OK


def _diagram_command(args: argparse.Namespace) -> int:
    from vpbx.domain.diagram import to_mermaid

    workspace = _load(args.file)
    path: list[str] | None = None
    if args.path_from_simulation:
        scenario = _valid_scenario(args.file, workspace)
        path = _simulate(scenario, workspace.directory, args).path()
    else:
        if args.outcomes or args.at or args.caller or args.queues:
            raise BadInput("--outcomes, --at, --caller and --queues only apply with --path-from-simulation")
        scenario = _parsed_scenario(args.file, workspace)
    sys.stdout.write(to_mermaid(scenario, highlight_path=path, directory=workspace.directory))
    return EXIT_OK


def _analyze_command(args: argparse.Namespace) -> int:
    from vpbx.domain.analysis import analyze

    workspace = _load(args.file)
    scenario = _valid_scenario(args.file, workspace)
    analysis = analyze(scenario, workspace.directory)
    if args.json:
        _print_json(analysis.model_dump(mode="json"))
    else:
        for line in analysis.lines():
            print(line)
    return EXIT_OK


def _diff_command(args: argparse.Namespace) -> int:
    from vpbx.domain.diff import MAX_DAYS, diff

    if not 1 <= args.days <= MAX_DAYS:
        raise BadInput(f"--days must be between 1 and {MAX_DAYS}, got {args.days}")
    old_workspace, new_workspace = _load(args.old), _load(args.new)
    try:
        old = _valid_scenario(args.old, old_workspace)
        new = _valid_scenario(args.new, new_workspace)
    except ScenarioInvalid:
        return EXIT_BAD_INPUT  # 1 means "behaviour changed" here; the problems are printed
    try:
        result = diff(old, new, new_workspace.directory, start=_moment(args.at), days=args.days)
    except Exception as exc:  # a scenario the executor cannot run is bad input, not a crash of the gate
        if os.environ.get(DEBUG_ENV):
            raise
        raise BadInput(f"cannot compare the scenarios: {type(exc).__name__}: {exc}") from None
    if args.mermaid:
        from vpbx.domain.diagram import to_mermaid_diff

        sys.stdout.write(to_mermaid_diff(old, new))
    elif args.json:
        _print_json(result.model_dump(mode="json"))
    else:
        for line in result.lines():
            print(line)
    return EXIT_CHANGED if result.changed else EXIT_OK


def _push_command(args: argparse.Namespace) -> int:
    from vpbx import sync

    workspace = _load(args.file)
    _valid_scenario(args.file, workspace)
    data = _workspace_data(args.file)
    remote = data.get("remote")
    scenario_id = args.scenario_id or (remote.get("scenario_id") if isinstance(remote, dict) else None)
    if not scenario_id:
        raise BadInput(f"{args.file} names no scenario on the server: pass --scenario-id")
    api = _api(args)
    say = _progress
    try:
        steps = sync.plan(api, data, scenario_id, say)
        result = sync.apply(api, steps, say)
        published = None
        if args.publish and (result.scenario_changed or _never_published(api, scenario_id)):
            published = sync.publish(api, scenario_id, result.draft_version or 0, say)
    except sync.Conflict as exc:
        _error(f"push refused: {exc}")
        return EXIT_INVALID
    except sync.RemoteError as exc:
        raise BadInput(str(exc)) from None
    if args.file != "-":
        data["remote"] = {"scenario_id": scenario_id, "versions": result.versions}
        _write_json(args.file, data)
    print(
        f"pushed {args.file} to scenario {scenario_id}: {len(result.created)} created, {len(result.updated)} updated, "
        f"{len(result.unchanged)} unchanged"
    )
    if published is not None:
        print(f"published version {published.get('version')}")
        print((published.get("preview") or {}).get("text", ""))
    elif args.publish:
        print("nothing to publish: the draft is the published version")
    return EXIT_OK


def _pull_command(args: argparse.Namespace) -> int:
    from vpbx import sync
    from vpbx.workspace import workspace_from_data

    try:
        data = sync.pull(_api(args), args.scenario_id, _progress)
    except sync.RemoteError as exc:
        raise BadInput(str(exc)) from None
    problems = workspace_from_data(data, args.output).problems
    for problem in problems:
        _error(f"warning: {problem}")
    if args.output == "-":
        _print_json(data)
    else:
        _write_json(args.output, data)
    counts = ", ".join(f"{len(data.get(key, []))} {key.replace('_', ' ')}" for key in sync.WORKSPACE_KEYS.values())
    print(f"pulled scenario {args.scenario_id} into {args.output}: {counts}", file=sys.stderr)
    return EXIT_OK


def _api(args: argparse.Namespace) -> Any:
    from vpbx import sync

    key = args.key or os.environ.get(API_KEY_ENV)
    if not key:
        raise BadInput(f"no API key: pass --key or set {API_KEY_ENV}")
    try:
        return sync.Api(args.api, key)
    except sync.RemoteError as exc:
        raise BadInput(str(exc)) from None


def _never_published(api: Any, scenario_id: str) -> bool:
    """An unchanged draft still needs publishing when no version was ever published."""
    from urllib.parse import quote

    _, draft, _ = api.request("GET", f"/v1/scenarios/{quote(scenario_id, safe='')}")
    return draft.get("published_version") is None


def _workspace_data(path: str) -> dict[str, Any]:
    from vpbx.workspace import _read_text

    data = json.loads(_read_text(path))
    assert isinstance(data, dict)  # _load parsed it already
    return data


def _write_json(path: str, data: object) -> None:
    try:
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise BadInput(f"{path}: cannot write: {exc.strerror or exc}") from None


def _progress(message: str) -> None:
    print(message, file=sys.stderr)


def _serve_command(args: argparse.Namespace) -> int:
    from vpbx.local.server import serve  # boto3 and moto load only here

    if not 0 < args.port < 65536:
        raise BadInput(f"--port must be between 1 and 65535, got {args.port}")
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how one stops the server
        serve(
            port=args.port,
            dynamodb_endpoint=args.dynamodb_endpoint,
            host=args.host,
            instances=args.instances,
            cors_origins=args.cors_origin,
            allow_insecure_crm=args.allow_insecure_crm,
            allow_insecure_webhooks=args.allow_insecure_webhooks,
        )
    return EXIT_OK


# ---------------------------------------------------------------------------------------------------- helpers


def _load(path: str) -> "Workspace":
    from vpbx.workspace import WorkspaceError, load_workspace

    try:
        return load_workspace(path)
    except WorkspaceError as exc:
        raise BadInput(str(exc)) from None


def _validate(workspace: "Workspace") -> Any:
    from vpbx.domain.validation import validate

    return validate(workspace.scenario_raw, workspace.directory)


def _is_valid(workspace: "Workspace", report: Any) -> bool:
    return bool(report.ok) and not workspace.problems


def _parsed_scenario(path: str, workspace: "Workspace") -> "Scenario":
    """The scenario as parsed, even with graph errors (a diagram helps find them); exit 1 when it does not parse."""
    report = _validate(workspace)
    if report.scenario is None:
        _report_invalid(path, workspace, report)
    scenario: Scenario = report.scenario
    return scenario


def _valid_scenario(path: str, workspace: "Workspace") -> "Scenario":
    report = _validate(workspace)
    if not _is_valid(workspace, report) or report.scenario is None:
        _report_invalid(path, workspace, report)
    scenario: Scenario = report.scenario
    return scenario


def _report_invalid(path: str, workspace: "Workspace", report: Any) -> None:
    problems = [p for p in _problem_dicts(workspace, report) if p["severity"] == "error"]
    _error(f"{path}: the scenario is invalid ({_plural(len(problems), 'error')}); see `vpbx validate {path}`")
    for problem in problems:
        print(f"  {_problem_line(problem)}", file=sys.stderr)
    raise ScenarioInvalid


def _simulate(scenario: "Scenario", directory: "Directory", args: argparse.Namespace) -> Any:
    from vpbx.domain.simulation import simulate

    return simulate(
        scenario,
        directory,
        outcomes=_outcomes(args.outcomes),
        caller=_caller(args.caller),
        at=_moment(args.at),
        queues=_outcomes(args.queues, "--queues", "queue scripts"),
    )


def _outcomes(text: str | None, option: str = "--outcomes", what: str = "outcomes") -> Any:
    """The parsed JSON as is: the simulator checks the script's shape and names the element at fault."""
    if text is None:
        return None
    source = option
    if text.startswith("@"):
        source = text[1:]
        try:
            with open(source, encoding="utf-8") as stream:
                text = stream.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"{option}: cannot read {source}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        parsed = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise BadInput(f"{source}: {what} are not valid JSON: {exc}") from None
    return parsed


def _moment(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(f"--at: {text!r} is not an ISO-8601 date-time (e.g. 2026-11-23T10:00:00+03:00)") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _caller(text: str | None) -> str | None:
    if text is None:
        return None
    from vpbx.domain.phone import InvalidPhoneNumber, normalize_e164

    try:
        return normalize_e164(text)
    except InvalidPhoneNumber as exc:
        raise BadInput(f"--caller: {exc}") from None


def _problem_dicts(workspace: "Workspace", report: Any) -> list[dict[str, Any]]:
    """Workspace (directory) problems first, then the validator's, as plain dicts with a readable `location`."""
    from_workspace = [
        {
            "severity": "error",
            "code": "invalid_directory",
            "message": problem.message,
            "location": problem.location,
            "element_id": None,
            "connection_index": None,
            "field": None,
        }
        for problem in workspace.problems
    ]
    return from_workspace + [_problem_dict(problem) for problem in report.problems]


def _problem_dict(problem: Any) -> dict[str, Any]:
    element_id = getattr(problem, "element_id", None)
    connection_index = getattr(problem, "connection_index", None)
    field = getattr(problem, "field", None)
    element_index = getattr(problem, "element_index", None)
    if element_id is not None:
        location = f"elements[{element_id}]"
    elif element_index is not None:
        location = f"elements[{element_index}]"
    elif connection_index is not None:
        location = f"connections[{connection_index}]"
    else:
        location = "scenario"
    if field:
        location = f"{location}.{field}"
    return {
        "severity": str(problem.severity),
        "code": str(problem.code),
        "message": str(problem.message),
        "location": location,
        "element_id": element_id,
        "connection_index": connection_index,
        "field": field,
    }


def _problem_line(problem: dict[str, Any]) -> str:
    return f"{problem['severity']:<7} {problem['code']}  {problem['location']}: {problem['message']}"


def _counts(problems: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "errors": sum(p["severity"] == "error" for p in problems),
        "warnings": sum(p["severity"] == "warning" for p in problems),
    }


def _step_line(step: dict[str, Any]) -> str:
    parts = [f"{step.get('seq', '?'):>3}  {step.get('element_id')} ({step.get('element_type')})"]
    if step.get("at_seconds"):
        parts.append(f"at {step['at_seconds']} s")
    action = step.get("action")
    if action:
        parts.append(_action_text(action))
    if step.get("outcome"):
        parts.append(f"outcome {step['outcome']}")
    if step.get("exit"):
        parts.append(f"-> {step['exit']}")
    return "  ".join(parts)


def _action_text(action: object) -> str:
    if not isinstance(action, dict):
        return str(action)
    kind = action.get("type")
    if kind == "ring":
        targets = ",".join(
            str(t.get("extension") or t.get("number") or t.get("uri")) for t in action.get("targets", [])
        )
        timeout = action.get("timeout_seconds")
        limit = f"{timeout} s" if timeout is not None else "no limit"
        return f"ring {targets} ({action.get('strategy')}, {limit})"
    if kind in ("voicemail", "fax"):
        return f"{kind} {action.get('mailbox') or action.get('extension')}"
    if kind == "hangup":
        return f"hangup ({action.get('reason')})"
    if kind == "collect":
        return f"collect {action.get('max_digits', 1)} digit(s) within {action.get('timeout_seconds')} s"
    if kind == "enqueue":
        announce = action.get("announce") or {}
        said = f" (announce {announce['text']!r})" if announce.get("text") else ""
        return f"enqueue {action.get('queue_id')} at position {action.get('position')}{said}"
    return str(kind)


def _target_text(target: dict[str, Any]) -> str:
    return str(target.get("extension") or target.get("number") or target.get("uri"))


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _print_json(data: object) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail on the closed pipe."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _error(message: str) -> None:
    print(f"vpbx: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
