"""Scenario drafts, validation, publishing, versions, rollback, simulation and diagrams for one tenant.

A draft may be saved while invalid (editing is incremental); publishing refuses errors. A published version pins the
scenario graph and its settings; the directory objects it names (subscribers, schedules, caller lists) are resolved
live, by calls (service/version_cache.py) and by simulations of that version alike, so an edit of an employee or of
office hours applies without republishing. The version keeps the directory as validated at publish, for information.
"""

# String annotations: `Page[Versioned[ScenarioDraft]]` in signatures would otherwise build generic models at import.
from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from vpbx.domain.analysis import Analysis, analyze
from vpbx.domain.base import Extension, Instant, LazyModel, ResourceId, StrictModel
from vpbx.domain.calls import Action
from vpbx.domain.diagram import to_mermaid, to_mermaid_diff
from vpbx.domain.diff import DEFAULT_DAYS, MAX_DAYS, ScenarioDiff, diff
from vpbx.domain.directory import Directory
from vpbx.domain.errors import Conflict, InvalidField, InvalidInput, InvalidScenario, NotFound, VersionMismatch
from vpbx.domain.phone import InvalidPhoneNumber, normalize_e164
from vpbx.domain.scenario import (
    MAX_ELEMENTS,
    MAX_SERIALIZED_BYTES,
    ElementId,
    References,
    Scenario,
    references_of,
)
from vpbx.domain.simulated_queues import QueueScript
from vpbx.domain.simulation import SimulationOutcome, SimulationResult, simulate
from vpbx.domain.validation import Problem, ValidationReport, validate
from vpbx.service.versioned import VersionMeta, new_id
from vpbx.store.common import REFERENCE_ATTEMPTS
from vpbx.store.models import DirectorySnapshot, Page, ScenarioDraft, ScenarioVersion, Tenant, Versioned
from vpbx.store.ports import DirectoryChanged, DirectoryReader, ScenarioStore, TenantLookup

R = TypeVar("R")

if TYPE_CHECKING:
    from vpbx.domain.executor import CrmLookup

MAX_SCRIPTED_OUTCOMES = 1_000
MAX_SIMULATED_QUEUES = 20
NATIONAL_NUMBER = re.compile(r"^[0-9][0-9 ()\-.]{4,31}$")  # digits and separators, no '+'
DIAL_DELAY_CODES = frozenset({"wait_below_dial_delay"})
PREVIEW_BUDGET_SECONDS = 5.0  # of the scenarios function's 15 s; a scenario of ~1,000 elements can use it all

# ------------------------------------------------------------------------------------------------ input models


class ScenarioReplace(Scenario):
    """Body of `PUT /v1/scenarios/{id}`: the whole scenario (DESIGN.md §2) without id or version."""


class ScenarioCreate(Scenario):
    """Body of `POST /v1/scenarios`; the server generates `id` when it is absent."""

    id: ResourceId | None = None

    def scenario(self) -> Scenario:
        return Scenario.model_validate(self.model_dump(by_alias=True, exclude={"id"}))


class RollbackRequest(LazyModel):
    """Body of `POST /v1/scenarios/{id}/rollback`: which published version calls should use from now on."""

    model_config = {"extra": "forbid"}

    version: int = Field(ge=1, description="An existing published version number")


OutcomeEntry = str | dict[str, str]


class SimulateRequest(StrictModel):
    """Body of `POST /v1/scenarios/{id}/simulate`. Every field is optional.

    Without `version` the draft runs; with it, that published version. Either runs against the tenant's current
    directory, as a call would now.
    """

    version: int | None = Field(default=None, ge=1, description="A published version; the draft when absent")
    outcomes: dict[ElementId, list[OutcomeEntry] | OutcomeEntry] = Field(
        default_factory=dict,
        max_length=MAX_ELEMENTS,
        description='Element id -> what telephony reports, in order ("busy", "no_answer", "digits:1" or '
        '{"kind": "digits", "digits": "1"}); the last one repeats. Unscripted: rings go unanswered, menus time out.',
        json_schema_extra={"additionalProperties": False},  # keys are element ids: patternProperties says which
    )
    caller: str | None = Field(
        default=None,
        max_length=32,
        description="Caller's number, E.164 or national digits read with the tenant's default_country (as a call's "
        "`from`); withheld when absent",
    )
    at: Instant | None = Field(default=None, description="When the call starts, ISO-8601 (default: now; naive = UTC)")
    crm: dict[ElementId, Extension | None] = Field(
        default_factory=dict,
        max_length=MAX_ELEMENTS,
        description="external_routing element id -> the extension the CRM answers (null: not found). "
        "Simulations never call the real CRM.",
        json_schema_extra={"additionalProperties": False},
    )
    queues: dict[ResourceId, QueueScript] = Field(
        default_factory=dict,
        max_length=MAX_SIMULATED_QUEUES,
        description="Queue id -> its agents on the simulated clock: when each is free (`agents`: spans of seconds "
        'since the call started, e.g. {"101": [[0, 60]], "102": [[30, 300]]}), whether an offered agent '
        "answers (`answers`, default true) and how many callers wait ahead (`ahead`). Each `waiting` report moves "
        "the clock on by the queue's poll_seconds. A queue without a script has no free agent: its caller times out.",
        json_schema_extra={"additionalProperties": False},
    )

    def script(self) -> dict[str, list[OutcomeEntry]]:
        return {
            element: entries if isinstance(entries, list) else [entries] for element, entries in self.outcomes.items()
        }

    @field_validator("caller")
    @classmethod
    def _e164_caller(cls, value: str | None) -> str | None:
        """E.164 is checked here; national digits are read with the tenant's default country by the service."""
        if value is None:
            return None
        try:
            return normalize_e164(value)
        except InvalidPhoneNumber as exc:
            if value.lstrip().startswith("+") or not NATIONAL_NUMBER.match(value.strip()):
                raise PydanticCustomError("value_error", "{problem}", {"problem": str(exc)}) from None
            return value.strip()

    @field_validator("outcomes")
    @classmethod
    def _bounded_script(cls, value: dict[str, Any]) -> dict[str, Any]:
        if sum(len(entries) if isinstance(entries, list) else 1 for entries in value.values()) > MAX_SCRIPTED_OUTCOMES:
            raise PydanticCustomError(
                "value_error", "at most {limit} scripted outcomes", {"limit": MAX_SCRIPTED_OUTCOMES}
            )
        return value


# ------------------------------------------------------------------------------------------------ service


class ScenarioPorts(ScenarioStore, DirectoryReader, TenantLookup, Protocol):
    """The scenario service's storage: scenarios, resolving the directory they name, the tenant's SIP domain."""


INSECURE_CRM_ALLOWED = " (allowed here only: this server runs with --allow-insecure-crm, for development)"


class ScenarioService:
    def __init__(self, repository: ScenarioPorts, tenant_id: str, allow_insecure_crm: bool = False) -> None:
        """`allow_insecure_crm` (`vpbx serve --allow-insecure-crm` only): a plain-http CRM URL is a warning, so a
        CRM on the developer's machine can be published; the lookup still reaches loopback only."""
        self.repository = repository
        self.tenant_id = tenant_id
        self.allow_insecure_crm = allow_insecure_crm

    # ------------------------------------------------------------------------ drafts
    def list_drafts(self, limit: int, cursor: str | None) -> Page[Versioned[ScenarioDraft]]:
        return self.repository.list_scenarios(self.tenant_id, limit, cursor)

    def create(self, body: ScenarioCreate) -> Versioned[ScenarioDraft]:
        scenario = body.scenario()
        _check_size(scenario)
        return self.repository.create_scenario(self.tenant_id, body.id or new_id("scn"), scenario)

    def get(self, scenario_id: str) -> Versioned[ScenarioDraft]:
        return self.repository.get_scenario(self.tenant_id, scenario_id)

    def replace(self, scenario_id: str, body: Scenario, expected_version: int) -> Versioned[ScenarioDraft]:
        scenario = Scenario.model_validate(body.model_dump(by_alias=True))
        _check_size(scenario)
        return self.repository.update_scenario(self.tenant_id, scenario_id, scenario, expected_version)

    def delete(self, scenario_id: str, expected_version: int) -> None:
        """Refused (409) while phone numbers point at it: the store checks that with the delete, atomically."""
        self.repository.delete_scenario(self.tenant_id, scenario_id, expected_version)

    # ------------------------------------------------------------------------ validation and publishing
    def validate(self, scenario: Scenario) -> ValidationReport:
        """Validate against the tenant's current directory."""
        return self._validate(scenario, self.live_directory(scenario))

    def validate_draft(self, scenario_id: str) -> tuple[Versioned[ScenarioDraft], ValidationReport]:
        draft = self.get(scenario_id)
        return draft, self.validate(draft.item.scenario)

    def publish(
        self, scenario_id: str, expected_version: int, by: str | None, at: datetime | None = None
    ) -> ScenarioVersion:
        """Validate the draft against the directory and publish it (with the directory it was validated on, for
        information); a directory change between the two makes the store refuse the write, and it is checked again
        (REFERENCE_ATTEMPTS times, then 409)."""
        draft = self.get(scenario_id)
        if draft.version != expected_version:  # a stale If-Match loses before the draft's content is judged
            raise VersionMismatch(
                f"scenario {scenario_id!r} is at version {draft.version}, not {expected_version}",
                details=[
                    {
                        "loc": ["header", "If-Match"],
                        "msg": f"the draft is at version {draft.version}",
                        "type": "stale",
                        "current_version": draft.version,
                    }
                ],
            )

        def attempt(revision: int) -> ScenarioVersion:
            snapshot = self.snapshot(draft.item.scenario)
            report = self._validate(draft.item.scenario, self._with_tenant_crm(draft.item.scenario, snapshot))
            if not report.ok:
                raise InvalidScenario(
                    f"scenario {scenario_id!r} has {len(report.errors)} error(s); fix them before publishing",
                    details=problem_details(report.errors, draft.item.scenario),
                )
            return self.repository.publish_scenario(
                self.tenant_id, scenario_id, expected_version, snapshot, at or datetime.now(UTC), by, revision
            )

        return self._at_a_stable_directory(attempt, f"scenario {scenario_id!r} was published")

    def rollback(self, scenario_id: str, version: int, expected_version: int) -> Versioned[ScenarioDraft]:
        """Point calls at an earlier version, if everything it names still exists (409 naming what is missing)."""
        target = self.get_version(scenario_id, version)  # a clear 404 naming the version
        named = dataclasses.replace(references_of(target.scenario), any_extension=False)  # only what it names

        def attempt(revision: int) -> Versioned[ScenarioDraft]:
            missing = missing_references(named, self.repository.resolve_directory(self.tenant_id, named))
            if missing:
                raise missing_references_conflict(scenario_id, version, missing)
            return self.repository.rollback_scenario(
                self.tenant_id, scenario_id, version, expected_version, directory_revision=revision
            )

        return self._at_a_stable_directory(attempt, f"scenario {scenario_id!r} was rolled back")

    def _at_a_stable_directory(self, attempt: Callable[[int], R], what: str) -> R:
        """Run `attempt(revision)`: its checks and its write, which the store commits only if the tenant's directory
        revision is still the one read; a lost race checks again, REFERENCE_ATTEMPTS times, then 409."""
        for _ in range(REFERENCE_ATTEMPTS):
            try:
                return attempt(self.repository.directory_revision(self.tenant_id))
            except DirectoryChanged:
                continue
        raise DirectoryChanged(f"the directory kept changing while {what}; retry")

    def list_versions(self, scenario_id: str, limit: int, cursor: str | None) -> Page[ScenarioVersion]:
        self.get(scenario_id)
        return self.repository.list_scenario_versions(self.tenant_id, scenario_id, limit, cursor)

    def get_version(self, scenario_id: str, version: int) -> ScenarioVersion:
        try:
            return self.repository.get_scenario_version(self.tenant_id, scenario_id, version)
        except NotFound:
            raise NotFound(f"scenario {scenario_id!r} has no published version {version}") from None

    # ------------------------------------------------------------------------ simulation and diagrams
    def simulate(self, scenario_id: str, request: SimulateRequest) -> Simulation:
        """Run one call: the draft or a published version, on the live directory (as a call starting now would)."""
        scenario, directory, version = self._runnable(scenario_id, request.version)
        at = request.at or datetime.now(UTC)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        tenant = self._tenant()
        caller = _caller_number(request.caller, tenant.default_country if tenant else None)
        result = simulate(
            scenario,
            directory,
            outcomes=request.script(),
            caller=caller,
            at=at,
            crm_lookup=scripted_crm(scenario, request.crm, directory.tenant_crm_url),
            sip_domain=tenant.sip_domain if tenant else None,
            queues=request.queues,
        )
        return Simulation(scenario_id=scenario_id, version=version, at=at, caller=caller, result=result)

    def diagram(self, scenario_id: str, version: int | None, highlight: SimulateRequest | None = None) -> Diagram:
        """Mermaid text of the draft or a version; with `highlight`, the path that simulated call took, drawn bold."""
        scenario = self._scenario_of(scenario_id, version)
        path = []
        if highlight is not None:
            run = highlight.model_copy(update={"version": version})
            path = self.simulate(scenario_id, run).result.path()
        directory = self.live_directory(scenario) if references_of(scenario).queues else None  # queue labels
        mermaid = to_mermaid(scenario, path, directory)
        return Diagram(scenario_id=scenario_id, version=version, mermaid=mermaid, highlight=path)

    def _validate(self, scenario: Scenario, directory: Directory) -> ValidationReport:
        report = validate(scenario, directory)
        if not self.allow_insecure_crm:
            return report
        allowed = {"severity": "warning"}
        problems = [
            problem.model_copy(update={**allowed, "message": problem.message + INSECURE_CRM_ALLOWED})
            if problem.code == "insecure_url"
            else problem
            for problem in report.problems
        ]
        return report.model_copy(update={"problems": problems})

    # ------------------------------------------------------------------------ preview and analysis
    def preview(self, scenario_id: str, request: PreviewRequest) -> PreviewOut:
        """What changes for callers between two versions of a scenario (default: the version calls use now and the
        draft), both run against the tenant's current directory."""
        from_version = request.from_version
        if from_version is None:
            from_version = self.get(scenario_id).item.published_version
        return self.compare(scenario_id, from_version, request.to_version, request.days, request.at)

    def compare(
        self, scenario_id: str, from_version: int | None, to_version: int | None, days: int, at: datetime | None
    ) -> PreviewOut:
        """The behavioural diff of `from_version` (None: nothing published) and `to_version` (None: the draft)."""
        old = self.get_version(scenario_id, from_version).scenario if from_version else _nothing_published()
        new = self._comparable(scenario_id, to_version)
        named = references_of(old) | references_of(new)
        tenant = self._tenant()
        snapshot = self.repository.resolve_directory(self.tenant_id, named)
        directory = snapshot.to_directory(tenant_crm_url=tenant.crm_url if tenant else None)
        start = at or datetime.now(UTC)
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
        result = diff(
            old, new, directory, start=start, days=days, sip_domain=tenant.sip_domain if tenant else None,
            time_budget_seconds=PREVIEW_BUDGET_SECONDS,
        )  # fmt: skip
        return PreviewOut(
            scenario_id=scenario_id,
            from_version=from_version,
            to_version=to_version,
            changed=result.changed,
            text="\n".join(result.lines()),
            diff=result,
            mermaid=to_mermaid_diff(old, new),
        )

    def analysis(self, scenario_id: str, version: int | None) -> AnalysisOut:
        """Worst-case waits, reachability and dial-delay warnings of the draft or a version (current directory)."""
        scenario = self._scenario_of(scenario_id, version)
        directory = self.live_directory(scenario)
        warnings = [p for p in validate(scenario, directory).problems if p.code in DIAL_DELAY_CODES]
        result = analyze(scenario, directory)
        return AnalysisOut(
            scenario_id=scenario_id,
            version=version,
            analysis=result,
            dial_delay_warnings=warnings,
            text="\n".join(result.lines()),
        )

    def _comparable(self, scenario_id: str, version: int | None) -> Scenario:
        """A version's graph, or the draft (validated, like a simulation)."""
        if version is not None:
            return self.get_version(scenario_id, version).scenario
        scenario, _, _ = self._runnable(scenario_id, None)
        return scenario

    def _scenario_of(self, scenario_id: str, version: int | None) -> Scenario:
        if version is None:
            return self.get(scenario_id).item.scenario
        return self.get_version(scenario_id, version).scenario

    def _runnable(self, scenario_id: str, version: int | None) -> tuple[Scenario, Directory, int | None]:
        if version is not None:
            published = self.get_version(scenario_id, version)
            return published.scenario, self.live_directory(published.scenario), version
        scenario = self.get(scenario_id).item.scenario
        directory = self.live_directory(scenario)
        report = self._validate(scenario, directory)
        if not report.ok:
            raise InvalidScenario(
                f"scenario {scenario_id!r} has {len(report.errors)} error(s); a simulation needs a valid scenario",
                details=problem_details(report.errors, scenario),
            )
        return scenario, directory, None

    def _tenant(self) -> Tenant | None:
        try:
            return self.repository.get_tenant(self.tenant_id)
        except NotFound:
            return None

    # ------------------------------------------------------------------------ directory lookups
    def live_directory(self, scenario: Scenario) -> Directory:
        """The tenant's current subscribers, schedules and caller lists that `scenario` refers to, and the tenant's
        CRM when an external routing element has no url of its own (the tenant is read only then)."""
        return self._with_tenant_crm(scenario, self.snapshot(scenario))

    def _with_tenant_crm(self, scenario: Scenario, snapshot: DirectorySnapshot) -> Directory:
        uses_tenant_crm = any(url is None for _, url in references_of(scenario).crm_urls)
        tenant = self._tenant() if uses_tenant_crm else None
        return snapshot.to_directory(tenant_crm_url=tenant.crm_url if tenant else None)

    def snapshot(self, scenario: Scenario) -> DirectorySnapshot:
        """The existing directory objects `scenario` names now (every subscriber when the CRM may pick anyone);
        O(1) requests however many it names."""
        return self.repository.resolve_directory(self.tenant_id, references_of(scenario))


def _caller_number(given: str | None, default_country: str | None) -> str | None:
    """A simulated caller as a call's `from` is read: national digits with the tenant's default country."""
    if given is None or given.startswith("+"):
        return given
    try:
        return normalize_e164(given, default_country)
    except InvalidPhoneNumber as exc:
        hint = "" if default_country else "; national numbers need the tenant's default_country"
        message = f"{exc}{hint}"
        raise InvalidField(message, [{"loc": ["body", "caller"], "msg": message, "type": "value_error"}]) from None


def _nothing_published() -> Scenario:
    """What calls meet before the first publication: no entry, so they hang up."""
    return Scenario(name="nothing published", elements=[])


def missing_references(named: References, found: DirectorySnapshot) -> list[tuple[str, str]]:
    """(kind, id) of each directory object `named` that `found` lacks, in a stable order."""
    present = {
        "extension": {s.extension for s in found.subscribers},
        "schedule": {s.id for s in found.schedules},
        "caller_list": {c.id for c in found.caller_lists},
        "queue": {q.id for q in found.queues},
    }
    wanted = {
        "extension": named.extensions,
        "schedule": named.schedules,
        "caller_list": named.caller_lists,
        "queue": named.queues,
    }
    return [(kind, ident) for kind, idents in wanted.items() for ident in sorted(idents - present[kind])]


def missing_references_conflict(scenario_id: str, version: int, missing: list[tuple[str, str]]) -> Conflict:
    names = ", ".join(f"{kind} {ident}" for kind, ident in missing)
    return Conflict(
        f"version {version} of scenario {scenario_id!r} names directory objects that no longer exist: {names}",
        details=[
            {"loc": ["body", "version"], "msg": f"{kind} {ident} does not exist", "type": "missing_reference"}
            for kind, ident in missing
        ],
    )


def scripted_crm(scenario: Scenario, answers: dict[str, str | None], tenant_crm_url: str | None = None) -> CrmLookup:
    """A CRM stand-in answering per external_routing element (the executor hands it the element's url, or the
    tenant's when the element has none)."""
    crm_urls = dict(references_of(scenario).crm_urls)  # element id -> the url its lookup calls
    by_url = {
        url or tenant_crm_url: answers[element_id] for element_id, url in crm_urls.items() if element_id in answers
    }
    unknown = sorted(set(answers) - set(crm_urls))
    if unknown:
        raise InvalidInput(
            f"crm answers name {', '.join(map(repr, unknown))}, which are not external_routing elements",
            details=[
                {
                    "loc": ["body", "crm", element_id],
                    "msg": "not an external_routing element",
                    "type": "unknown_element",
                }
                for element_id in unknown
            ],
        )

    def lookup(url: str, caller: str | None, timeout_seconds: float) -> str | None:
        return by_url.get(url)

    return lookup


def _check_size(scenario: Scenario) -> None:
    size = len(json.dumps(scenario.dump(), separators=(",", ":")).encode())
    if size > MAX_SERIALIZED_BYTES:
        raise InvalidInput(
            f"scenario is {size} bytes serialized; the limit is {MAX_SERIALIZED_BYTES}",
            details=[{"loc": ["body", "elements"], "msg": "scenario too large", "type": "too_large"}],
        )


# ------------------------------------------------------------------------------------------------ output models


class ValidationSummary(LazyModel):
    ok: bool = Field(description="No errors: the scenario can be published")
    error_count: int
    warning_count: int
    problems: list[Problem]


def summary_of(report: ValidationReport) -> ValidationSummary:
    return ValidationSummary(
        ok=report.ok, error_count=len(report.errors), warning_count=len(report.warnings), problems=report.problems
    )


class Simulation(LazyModel):
    """A simulated call: what ran, and what happened step by step."""

    scenario_id: str
    version: int | None = Field(description="The published version that ran; null for the draft")
    at: datetime
    caller: str | None
    result: SimulationResult


class PreviewRequest(StrictModel):
    """Body of `POST /v1/scenarios/{id}/preview`. Every field is optional."""

    from_version: int | None = Field(
        default=None, ge=1, description="The version compared from; default the version calls use now"
    )
    to_version: int | None = Field(default=None, ge=1, description="The version compared to; default the draft")
    days: int = Field(default=DEFAULT_DAYS, ge=1, le=MAX_DAYS, description="Days of schedules explored from `at`")
    at: Instant | None = Field(default=None, description="First day explored, ISO-8601 (default: today)")


class PreviewOut(LazyModel):
    """What changes for callers: the calls that behave differently, in words and in detail."""

    scenario_id: str
    from_version: int | None = Field(description="The version compared from; null: nothing was published")
    to_version: int | None = Field(description="The version compared to; null: the draft")
    changed: bool = Field(description="Some explored call behaves differently, or a worst-case wait changed")
    text: str = Field(description="The differences in words, one statement per line")
    diff: ScenarioDiff
    mermaid: str = Field(description="Mermaid flowchart of both versions: added, removed and changed in colour")


class AnalysisOut(LazyModel):
    scenario_id: str
    version: int | None = Field(description="The published version analysed; null for the draft")
    analysis: Analysis
    dial_delay_warnings: list[Problem] = Field(
        description="Rings shorter than their target's network dial delay (mobile, satellite, abroad)"
    )
    text: str = Field(description="The analysis in words")


class Diagram(LazyModel):
    scenario_id: str
    version: int | None = Field(description="The published version drawn; null for the draft")
    mermaid: str = Field(description="Mermaid `flowchart TD` source")
    highlight: list[str] = Field(description="Element ids drawn bold (a simulated call's path), in order")


class ScenarioOut(VersionMeta, Scenario):
    """A scenario draft as returned by the API, with where it stands: published version, validation summary."""

    id: str
    published_version: int | None = Field(description="The version calls use now; null until first published")
    latest_version: int = Field(description="The highest version ever published (0: none)")
    validation: ValidationSummary | None = Field(
        default=None, description="The draft checked against the current directory"
    )


class ScenarioSummary(VersionMeta):
    """A scenario in a listing: no elements, so that a page stays small."""

    id: str
    name: str
    description: str | None
    element_count: int
    published_version: int | None
    latest_version: int


class ValidationOut(ValidationSummary):
    scenario_id: str
    version: int = Field(description="The draft version that was checked (publish it with If-Match: this)")


class VersionSummary(LazyModel):
    scenario_id: str
    version: int
    name: str
    element_count: int
    published_at: datetime
    published_by: str | None
    current: bool = Field(description="Calls use this version now")


class VersionOut(VersionSummary):
    """A published version: immutable. Calls and simulations of it use the live directory."""

    scenario: Scenario
    directory: DirectorySnapshot = Field(
        description="The directory objects the version named, as validated at publish: for information only. Calls "
        "and simulations resolve subscribers, schedules and caller lists from the current directory."
    )
    preview: PreviewOut | None = Field(
        default=None,
        exclude_if=lambda value: value is None,  # absent unless asked for: the other answers stay as they were
        description="Only in the answer of `POST …/publish?preview=true`: what changed for callers against the "
        "version calls used before; absent otherwise",
    )


class SimulationStepOut(LazyModel):
    """A simulated step as the API shows it: the action typed, like a live call's trace."""

    seq: int
    element_id: str
    element_type: str
    action: Action | None
    outcome: str | None
    exit: str | None


class SimulationOut(LazyModel):
    scenario_id: str
    version: int | None = Field(description="The published version that ran; null for the draft")
    at: datetime
    caller: str | None
    steps: list[SimulationStepOut]
    result: SimulationOutcome
    path: list[str] = Field(description="Element ids in the order the call went through them")


def scenario_out(record: Versioned[ScenarioDraft], report: ValidationReport | None = None) -> ScenarioOut:
    draft = record.item
    return ScenarioOut(
        **draft.scenario.model_dump(by_alias=True),
        id=draft.id,
        published_version=draft.published_version,
        latest_version=draft.latest_version,
        validation=summary_of(report) if report is not None else None,
        version=record.version,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def scenario_summary(record: Versioned[ScenarioDraft]) -> ScenarioSummary:
    draft = record.item
    return ScenarioSummary(
        id=draft.id,
        name=draft.scenario.name,
        description=draft.scenario.description,
        element_count=len(draft.scenario.elements),
        published_version=draft.published_version,
        latest_version=draft.latest_version,
        version=record.version,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def validation_out(record: Versioned[ScenarioDraft], report: ValidationReport) -> ValidationOut:
    return ValidationOut(scenario_id=record.item.id, version=record.version, **dict(summary_of(report)))


def version_summary(version: ScenarioVersion, current: int | None) -> VersionSummary:
    return VersionSummary(
        scenario_id=version.scenario_id,
        version=version.number,
        name=version.scenario.name,
        element_count=len(version.scenario.elements),
        published_at=version.published_at,
        published_by=version.published_by,
        current=version.number == current,
    )


def version_out(version: ScenarioVersion, current: int | None) -> VersionOut:
    return VersionOut(**dict(version_summary(version, current)), scenario=version.scenario, directory=version.directory)


def simulation_out(simulation: Simulation) -> SimulationOut:
    return SimulationOut(
        scenario_id=simulation.scenario_id,
        version=simulation.version,
        at=simulation.at,
        caller=simulation.caller,
        steps=[SimulationStepOut.model_validate(step.model_dump()) for step in simulation.result.steps],
        result=simulation.result.result,
        path=simulation.result.path(),
    )


def problem_details(problems: list[Problem], scenario: Scenario) -> list[dict[str, Any]]:
    """Validation errors as error details: loc into the scenario body (["body", "elements", 3, "wait_seconds"]),
    msg, type (the problem's code), plus the element id and code for clients that group by element."""
    index_of = {element.id: index for index, element in enumerate(scenario.elements)}
    details = []
    for problem in problems:
        loc: list[str | int] = ["body"]
        element_index = problem.element_index
        if element_index is None and problem.element_id is not None:
            element_index = index_of.get(problem.element_id)
        if problem.connection_index is not None:
            loc += ["connections", problem.connection_index]
        elif element_index is not None:
            loc += ["elements", element_index]
        if problem.field:
            loc += problem.field.split(".")
        detail: dict[str, Any] = {"loc": loc, "msg": problem.message, "type": problem.code, "code": problem.code}
        if problem.element_id is not None:
            detail["element_id"] = problem.element_id
        details.append(detail)
    return details
