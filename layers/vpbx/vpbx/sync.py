"""Scenario as code over HTTP: `vpbx pull` writes a tenant's scenario and its directory objects into a workspace file,
`vpbx push` makes the tenant match a workspace file.

A pulled workspace records where it came from in its `remote` key: the scenario id and the version of every object it
holds. Push plans first (one GET per object) and writes nothing when an object changed on the server since that
version *and* differs from the workspace (someone else edited it: a conflict, named in the message). Otherwise it
creates what is missing and replaces what differs, each write conditioned with If-Match on the version it just read
(a change in between is a 412, reported as a conflict), then records the new versions in the workspace's `remote`.
Only the standard library is used, so the command works wherever vpbx is installed.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from vpbx.domain.directory import CallerList, Schedule, Subscriber
from vpbx.domain.scenario import Scenario, references_of

TIMEOUT_SECONDS = 30
PAGE_LIMIT = 100
Say = Callable[[str], None]


class RemoteError(Exception):
    """The API answered an error or could not be reached; the message says which request and why."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Conflict(Exception):
    """Objects changed on the server since the workspace was pulled; nothing (more) was written."""


@dataclass(frozen=True)
class Kind:
    """A directory object type as the API serves it."""

    name: str
    collection: str
    key: str
    model: type[BaseModel]


SUBSCRIBERS = Kind("subscriber", "/v1/subscribers", "extension", Subscriber)
SCHEDULES = Kind("schedule", "/v1/schedules", "id", Schedule)
CALLER_LISTS = Kind("caller list", "/v1/caller-lists", "id", CallerList)
WORKSPACE_KEYS = {SUBSCRIBERS: "subscribers", SCHEDULES: "schedules", CALLER_LISTS: "caller_lists"}


class Api:
    """A minimal JSON client of the vpbx API with one key."""

    def __init__(self, base_url: str, key: str) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise RemoteError(f"--api must be an http(s) URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.key = key

    def request(
        self, method: str, path: str, body: object = None, if_match: int | None = None
    ) -> tuple[int, Any, int | None]:
        """(status, JSON body, ETag version); RemoteError for an error status other than 404 and 412."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"X-Api-Key": self.key, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if if_match is not None:
            headers["If-Match"] = f'"{if_match}"'
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310  (an http(s) URL)
                return response.status, _json(response.read()), _etag(response.headers.get("ETag"))
        except urllib.error.HTTPError as error:
            payload = _json(error.read())
            if error.code in (404, 412):
                return error.code, payload, None
            raise RemoteError(f"{method} {path}: {error.code} {_error_text(payload)}", error.code) from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise RemoteError(f"cannot reach {self.base_url}: {reason}") from None


# ------------------------------------------------------------------------------------------------ pull


def pull(api: Api, scenario_id: str, say: Say) -> dict[str, Any]:
    """The workspace of one scenario: the draft and every directory object it names, with their versions."""
    status, draft, version = api.request("GET", f"/v1/scenarios/{_quote(scenario_id)}")
    if status == 404:
        raise RemoteError(f"scenario {scenario_id!r} not found", 404)
    scenario = Scenario.model_validate(_fields(draft, Scenario))
    say(f"scenario {scenario_id}: draft version {version}, {len(scenario.elements)} elements")
    versions: dict[str, int] = {"scenario": version or 0}
    named = references_of(scenario)
    subscribers = (
        _list_all(api, SUBSCRIBERS)
        if named.any_extension
        else [s for ext in sorted(named.extensions) if (s := _get(api, SUBSCRIBERS, ext, say))]
    )
    objects = {
        SUBSCRIBERS: subscribers,
        SCHEDULES: [s for i in sorted(named.schedules) if (s := _get(api, SCHEDULES, i, say))],
        CALLER_LISTS: [c for i in sorted(named.caller_lists) if (c := _get(api, CALLER_LISTS, i, say))],
    }
    workspace: dict[str, Any] = {}
    if scenario.description:
        workspace["description"] = scenario.description
    for kind, found in objects.items():
        workspace[WORKSPACE_KEYS[kind]] = [_fields(item, kind.model) for item in found]
        versions.update({f"{kind.collection}/{item[kind.key]}": int(item.get("version", 0)) for item in found})
        say(f"{WORKSPACE_KEYS[kind]}: {len(found)}")
    workspace["scenario"] = scenario.dump()
    workspace["remote"] = {"scenario_id": scenario_id, "versions": versions}
    return workspace


def _get(api: Api, kind: Kind, key: str, say: Say) -> dict[str, Any] | None:
    status, body, version = api.request("GET", f"{kind.collection}/{_quote(key)}")
    if status == 404:
        say(f"warning: {kind.name} {key} is named by the scenario but does not exist; left out")
        return None
    return {**body, "version": version if version is not None else body.get("version", 0)}


def _list_all(api: Api, kind: Kind) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {"limit": PAGE_LIMIT, **({"cursor": cursor} if cursor else {})}
        _, page, _ = api.request("GET", f"{kind.collection}?{urllib.parse.urlencode(query)}")
        items += page.get("items", [])
        cursor = page.get("next_cursor")
        if not cursor:
            return items


# ------------------------------------------------------------------------------------------------ push


@dataclass
class Step:
    kind: Kind | None  # None: the scenario
    key: str
    action: str  # create, update, unchanged, conflict
    body: dict[str, Any]
    server_version: int | None = None


@dataclass
class PushResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)
    draft_version: int | None = None
    scenario_changed: bool = False


def plan(api: Api, workspace: dict[str, Any], scenario_id: str, say: Say) -> list[Step]:
    """What push would do, object by object; Conflict (naming every one) when the server moved on since the pull."""
    known: dict[str, int] = ((workspace.get("remote") or {}).get("versions")) or {}
    steps: list[Step] = []
    for kind, key_name in WORKSPACE_KEYS.items():
        for entry in workspace.get(key_name) or []:
            body = _fields(entry, kind.model)
            key = str(body[kind.key])
            steps.append(_step(api, kind, key, body, known.get(f"{kind.collection}/{key}")))
    scenario_body = Scenario.model_validate(workspace["scenario"]).dump()
    steps.append(_step(api, None, scenario_id, scenario_body, known.get("scenario")))
    conflicts = [step for step in steps if step.action == "conflict"]
    if conflicts:
        names = "; ".join(f"{_label(s)} (server version {s.server_version})" for s in conflicts)
        raise Conflict(
            f"{len(conflicts)} object(s) changed on the server since this workspace was pulled and differ from it: "
            f"{names}. Pull again (or merge by hand), then push."
        )
    for step in steps:
        say(f"plan: {step.action} {_label(step)}")
    return steps


def _step(api: Api, kind: Kind | None, key: str, body: dict[str, Any], known_version: int | None) -> Step:
    path = f"{kind.collection if kind else '/v1/scenarios'}/{_quote(key)}"
    status, current, version = api.request("GET", path)
    if status == 404:
        return Step(kind, key, "create", body)
    theirs = _fields(current, kind.model if kind else Scenario)
    ours = kind.model.model_validate(body).model_dump(mode="json") if kind else body
    theirs_normal = kind.model.model_validate(theirs).model_dump(mode="json") if kind else _scenario_dump(theirs)
    if ours == theirs_normal:
        return Step(kind, key, "unchanged", body, version)
    if known_version is not None and version != known_version:
        return Step(kind, key, "conflict", body, version)
    return Step(kind, key, "update", body, version)


def apply(api: Api, steps: list[Step], say: Say) -> PushResult:
    """Create and replace as planned, each replace conditioned on the version read by the plan."""
    result = PushResult()
    for step in steps:
        label = _label(step)
        collection = step.kind.collection if step.kind else "/v1/scenarios"
        path = f"{collection}/{_quote(step.key)}"
        if step.action == "unchanged":
            result.unchanged.append(label)
            version = step.server_version
        elif step.action == "create":
            body = step.body if step.kind else {"id": step.key, **step.body}
            _, _, version = api.request("POST", collection, body)
            result.created.append(label)
            say(f"created {label}")
        else:
            body = {k: v for k, v in step.body.items() if not step.kind or k != step.kind.key}
            status, _, version = api.request("PUT", path, body, if_match=step.server_version)
            if status == 412:
                raise Conflict(
                    f"{label} changed on the server while pushing; nothing after it was written. Pull again."
                )
            result.updated.append(label)
            say(f"updated {label}")
        key = f"{step.kind.collection}/{step.key}" if step.kind else "scenario"
        result.versions[key] = version or 0
        if step.kind is None:
            result.draft_version = version
            result.scenario_changed = step.action != "unchanged"
    return result


def publish(api: Api, scenario_id: str, draft_version: int, say: Say) -> dict[str, Any]:
    status, body, _ = api.request(
        "POST", f"/v1/scenarios/{_quote(scenario_id)}/publish?preview=true", if_match=draft_version
    )
    if status == 412:
        raise Conflict(f"scenario {scenario_id} changed on the server before it could be published; pull again")
    say(f"published version {body.get('version')}")
    return dict(body)


# ------------------------------------------------------------------------------------------------ helpers


def _fields(data: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """The object as a workspace holds it: the model's own fields, none of the server's (version, timestamps…)."""
    names = {info.alias or name for name, info in model.model_fields.items()}
    return {key: value for key, value in data.items() if key in names}


def _scenario_dump(data: dict[str, Any]) -> dict[str, Any]:
    return Scenario.model_validate(data).dump()


def _label(step: Step) -> str:
    return f"{step.kind.name if step.kind else 'scenario'} {step.key}"


def _quote(key: str) -> str:
    return urllib.parse.quote(key, safe="")


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return {"error": {"message": raw[:200].decode("utf-8", "replace")}}


def _etag(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(value.strip().removeprefix("W/").strip('"'))
    except ValueError:
        return None


def _error_text(payload: Any) -> str:
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return str(payload)[:200]
    details = "; ".join(
        f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}"
        for d in error.get("details") or []
        if isinstance(d, dict)
    )
    return f"{error.get('code')}: {error.get('message')}" + (f" ({details})" if details else "")
