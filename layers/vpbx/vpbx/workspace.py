"""A workspace file: one JSON object holding a scenario and the directory it refers to, for the CLI and examples.

```json
{"description": "...", "subscribers": [...], "schedules": [...], "caller_lists": [...], "queues": [...],
 "scenario": {...}}
```
Only `scenario` is required; it is kept raw so that validation can report its problems with their locations.
`remote` is written by `vpbx pull` and `vpbx push`: the scenario id on the server and the version of every object
(`{"scenario_id": "main", "versions": {"scenario": 3, "/v1/subscribers/101": 1}}`), so a push can tell a change
made on the server since from its own.
Directory entries that do not parse are reported as located problems (`subscribers[2].extension: ...`) and left out.
"""

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from vpbx.domain.directory import CallerList, Directory, Schedule, Subscriber
from vpbx.domain.queues import Queue

MAX_WORKSPACE_BYTES = 16 * 1024 * 1024
STDIN_NAME = "-"
OPTIONAL_KEYS = ("description", "subscribers", "schedules", "caller_lists", "queues")
SYNC_KEYS = ("remote",)  # written by `vpbx pull` / `vpbx push`, not by hand

T = TypeVar("T", bound=BaseModel)


class WorkspaceError(ValueError):
    """The file cannot be used at all: unreadable, not JSON, not an object, or without a scenario."""


@dataclass(frozen=True)
class WorkspaceProblem:
    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass(frozen=True)
class Workspace:
    scenario_raw: object
    directory: Directory
    problems: tuple[WorkspaceProblem, ...] = field(default_factory=tuple)
    description: str | None = None


def load_workspace(path: str | Path) -> Workspace:
    """Read and parse a workspace file (`-` reads standard input); raises WorkspaceError with a clear message."""
    return parse_workspace(_read_text(str(path)), source=str(path))


def parse_workspace(text: str, source: str = "<workspace>") -> Workspace:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorkspaceError(f"{source}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise WorkspaceError(f"{source}: JSON is nested too deeply") from None
    return workspace_from_data(data, source)


def workspace_from_data(data: object, source: str = "<workspace>") -> Workspace:
    if not isinstance(data, dict):
        raise WorkspaceError(f"{source}: expected a JSON object with a 'scenario' key, got {_json_type(data)}")
    if "scenario" not in data:
        raise WorkspaceError(f"{source}: missing the 'scenario' key")
    problems = [
        WorkspaceProblem(str(key), f"unknown key; expected one of: scenario, {', '.join(OPTIONAL_KEYS)}")
        for key in data
        if key != "scenario" and key not in OPTIONAL_KEYS and key not in SYNC_KEYS
    ]
    subscribers = _parse_entries(data, "subscribers", Subscriber, lambda s: s.extension, "extension", problems)
    schedules = _parse_entries(data, "schedules", Schedule, lambda s: s.id, "id", problems)
    caller_lists = _parse_entries(data, "caller_lists", CallerList, lambda c: c.id, "id", problems)
    queues = _parse_entries(data, "queues", Queue, lambda q: q.id, "id", problems)
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        problems.append(WorkspaceProblem("description", f"expected a string, got {_json_type(description)}"))
        description = None
    return Workspace(
        scenario_raw=data["scenario"],
        directory=Directory.of(subscribers, schedules, caller_lists, queues=queues),
        problems=tuple(problems),
        description=description,
    )


def _read_text(path: str) -> str:
    try:
        if path == STDIN_NAME:
            raw = sys.stdin.buffer.read(MAX_WORKSPACE_BYTES + 1)
        else:
            with open(path, "rb") as stream:
                raw = stream.read(MAX_WORKSPACE_BYTES + 1)
    except FileNotFoundError:
        raise WorkspaceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise WorkspaceError(f"{path}: is a directory, expected a workspace JSON file") from None
    except OSError as exc:
        raise WorkspaceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_WORKSPACE_BYTES:
        raise WorkspaceError(f"{path}: larger than {MAX_WORKSPACE_BYTES // (1024 * 1024)} MiB")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise WorkspaceError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def _parse_entries(
    data: dict[str, Any],
    key: str,
    model: type[T],
    identity: Callable[[T], str],
    identity_field: str,
    problems: list[WorkspaceProblem],
) -> list[T]:
    entries = data.get(key, [])
    if not isinstance(entries, list):
        problems.append(WorkspaceProblem(key, f"expected a list, got {_json_type(entries)}"))
        return []
    parsed: list[T] = []
    first_seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        where = f"{key}[{index}]"
        try:
            item = model.model_validate(entry)
        except ValidationError as exc:
            problems.extend(_located(where, exc))
            continue
        name = identity(item)
        if name in first_seen:
            duplicate = f"duplicate {identity_field} {name!r} (first at {key}[{first_seen[name]}])"
            problems.append(WorkspaceProblem(f"{where}.{identity_field}", duplicate))
            continue
        first_seen[name] = index
        parsed.append(item)
    return parsed


def _located(where: str, exc: ValidationError) -> list[WorkspaceProblem]:
    return [WorkspaceProblem(where + _path(error["loc"]), _message(error["msg"])) for error in exc.errors()]


def _path(loc: tuple[int | str, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


def _message(msg: str) -> str:
    return msg.removeprefix("Value error, ")


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")
