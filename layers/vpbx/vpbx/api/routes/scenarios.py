"""HTTP routes of call scenarios: drafts, validation, publishing, versions, rollback, simulation, diagrams,
previews of a change and analysis.

Drafts are versioned resources (ETag, If-Match on PUT/DELETE/publish/rollback). A draft may be saved while invalid;
every single-draft response carries its validation summary against the tenant's current directory.
"""

from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import ValidationError

from vpbx.api.context import current_caller, version_from_if_match
from vpbx.api.deps import get_repository
from vpbx.api.errors import JSON_CONTENT_TYPE, RequestInvalid, validation_details
from vpbx.api.idempotency import IdempotencyKey, idempotent
from vpbx.api.models import Cursor, Limit, PageOf
from vpbx.api.resources import IfMatch, item_location, page_of, versioned_response
from vpbx.api.responses import (
    CREATE_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    created,
    deleted_docs,
    documented,
    error_doc,
    idempotent_errors,
)
from vpbx.api.settings import get_settings
from vpbx.domain.base import Instant
from vpbx.domain.diff import DEFAULT_DAYS
from vpbx.service.scenarios import (
    AnalysisOut,
    Diagram,
    PreviewOut,
    PreviewRequest,
    RollbackRequest,
    ScenarioCreate,
    ScenarioOut,
    ScenarioReplace,
    ScenarioService,
    ScenarioSummary,
    SimulateRequest,
    SimulationOut,
    ValidationOut,
    VersionOut,
    VersionSummary,
    scenario_out,
    scenario_summary,
    simulation_out,
    validation_out,
    version_out,
    version_summary,
)
from vpbx.store.ports import DEFAULT_PAGE_LIMIT

router = Router()
TAGS = ["Scenarios"]
SCENARIOS = "/v1/scenarios"

ScenarioIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]
VersionPath = Annotated[int, Path(ge=1, description="Published version number")]
INVALID_SCENARIO = error_doc("invalid_scenario: the scenario has validation errors (details are the problems)")
DIAGRAM_RESPONSES = documented(200, Diagram, "The diagram", {**READ_ERRORS, 422: INVALID_SCENARIO}, False)
DIAGRAM_RESPONSES[200]["content"]["text/plain"] = {"schema": {"type": "string", "description": "format=mermaid"}}
IN_USE = error_doc("in_use: phone numbers point at this scenario (details name them)")


def _service() -> ScenarioService:
    return ScenarioService(get_repository(), current_caller(router).tenant_id, get_settings().allow_insecure_crm)


def _draft(service: ScenarioService, scenario_id: str, status: int = HTTPStatus.OK) -> Response[ScenarioOut]:
    """The draft as stored now, validated against the current directory, with its ETag."""
    record, report = service.validate_draft(scenario_id)
    location = item_location(SCENARIOS, scenario_id) if status == HTTPStatus.CREATED else None
    return versioned_response(scenario_out(record, report), record.version, status, location)


# ------------------------------------------------------------------------------------------------ drafts


@router.get(
    SCENARIOS,
    operation_id="listScenarios",
    summary="List scenarios (summaries without elements)",
    description="The tenant's scenario drafts as summaries (no elements, so a page stays small), a page at a "
    "time, each with the version calls use now (`published_version`).",
    tags=TAGS,
    responses=documented(200, PageOf[ScenarioSummary], "A page of scenarios", READ_ERRORS, etag=False),
)
def list_scenarios(limit: Limit = DEFAULT_PAGE_LIMIT, cursor: Cursor = None) -> PageOf[ScenarioSummary]:
    return page_of(_service().list_drafts(limit, cursor), scenario_summary)


@router.post(
    SCENARIOS,
    operation_id="createScenario",
    summary="Create a scenario draft (id optional; an invalid draft is saved, see its validation)",
    description="Saves a new scenario draft: elements joined by connections (see the `Scenario` schema for "
    "every element type and its exits). A draft may be invalid; the response's `validation` says "
    "why, and only a valid draft can be published. The id is generated when absent. Answers 201 "
    "with the draft, its ETag and Location.",
    middlewares=[idempotent],
    tags=TAGS,
    responses=created(ScenarioOut, CREATE_ERRORS),
)
def create_scenario(
    body: Annotated[ScenarioCreate, Body()],
    idempotency_key: IdempotencyKey = None,
) -> Response[ScenarioOut]:
    service = _service()
    record = service.create(body)
    return _draft(service, record.item.id, HTTPStatus.CREATED)


@router.get(
    f"{SCENARIOS}/<scenario_id>",
    operation_id="getScenario",
    summary="Get a scenario draft with its validation summary",
    description="The draft as stored now, validated against the tenant's current directory, with its ETag "
    "(send it in `If-Match` to replace, publish or roll back).",
    tags=TAGS,
    responses=documented(200, ScenarioOut, "The draft", READ_ERRORS),
)
def get_scenario(scenario_id: ScenarioIdPath) -> Response[ScenarioOut]:
    return _draft(_service(), scenario_id)


@router.put(
    f"{SCENARIOS}/<scenario_id>",
    operation_id="replaceScenario",
    summary="Replace a scenario draft (If-Match required); published versions are not affected",
    description="Replaces the whole draft. Needs `If-Match`; the draft version goes up by one. Published "
    "versions, and the calls that use them, are not affected until you publish again.",
    tags=TAGS,
    responses=documented(200, ScenarioOut, "Replaced", WRITE_ERRORS),
)
def replace_scenario(
    scenario_id: ScenarioIdPath,
    body: Annotated[ScenarioReplace, Body()],
    if_match: IfMatch,
) -> Response[ScenarioOut]:
    service = _service()
    service.replace(scenario_id, body, version_from_if_match(if_match))
    return _draft(service, scenario_id)


@router.delete(
    f"{SCENARIOS}/<scenario_id>",
    operation_id="deleteScenario",
    summary="Delete a scenario and its versions (If-Match required; 409 while phone numbers point at it)",
    description="Deletes the draft and all its published versions. Needs `If-Match`; refused with 409 "
    "`in_use` while phone numbers point at the scenario.",
    tags=TAGS,
    responses=deleted_docs({**WRITE_ERRORS, 409: IN_USE}),
)
def delete_scenario(scenario_id: ScenarioIdPath, if_match: IfMatch) -> Response[None]:
    _service().delete(scenario_id, version_from_if_match(if_match))
    return Response(status_code=HTTPStatus.NO_CONTENT, body=None)


# ------------------------------------------------------------------------------------------------ checks


@router.post(
    "/v1/scenarios/<scenario_id>/validate",
    operation_id="validateScenario",
    summary="Validate the draft against the tenant's current directory",
    description="Checks the draft against the tenant's current directory (missing subscribers, schedules or "
    "caller lists, unreachable elements, loops, exits without arrows…) and answers the report; "
    "`ok` is false when it has errors. The ETag is the draft version checked: publish with "
    "`If-Match` set to it.",
    tags=TAGS,
    responses=documented(
        200,
        ValidationOut,
        "The validation report (ok: false when it has errors)",
        READ_ERRORS,
    ),
)
def validate_scenario(scenario_id: ScenarioIdPath) -> Response[ValidationOut]:
    record, report = _service().validate_draft(scenario_id)
    return versioned_response(validation_out(record, report), record.version)


@router.post(
    "/v1/scenarios/<scenario_id>/simulate",
    operation_id="simulateScenario",
    summary="Run one call through the draft (live directory) or a published version (its snapshot)",
    description="Runs one call through the draft (against the live directory) or a published version (against "
    "its directory snapshot) without telephony: `outcomes` scripts what each element's action "
    "reports, `at` sets the call's start time. Answers every step, how the call ended and the "
    "path of element ids; 422 `invalid_scenario` when the draft does not validate.",
    tags=TAGS,
    responses=documented(
        200,
        SimulationOut,
        "Every step the call took and how it ended",
        {**READ_ERRORS, 422: INVALID_SCENARIO},
        False,
    ),
)
def simulate_scenario(
    scenario_id: ScenarioIdPath,
    body: Annotated[SimulateRequest | None, Body()] = None,
) -> SimulationOut:
    simulation = _service().simulate(scenario_id, body or SimulateRequest())
    return simulation_out(simulation)


@router.get(
    "/v1/scenarios/<scenario_id>/diagram",
    operation_id="getScenarioDiagram",
    summary="Mermaid flowchart of the draft or a version, optionally with a simulated call's path drawn bold",
    description="JSON `{mermaid, highlight, …}` by default; `format=mermaid` answers the bare text (text/plain) "
    "for mermaid-cli. `highlight=simulation` runs a default simulation (at `at`, from `caller`) and draws its path.",
    tags=TAGS,
    responses=DIAGRAM_RESPONSES,
)
def get_scenario_diagram(
    scenario_id: ScenarioIdPath,
    version: Annotated[int | None, Query(ge=1, description="A published version; the draft when absent")] = None,
    highlight: Annotated[Literal["simulation"] | None, Query(description="Draw a simulated call's path")] = None,
    caller: Annotated[str | None, Query(max_length=32, description="Caller for the simulation, E.164")] = None,
    at: Annotated[Instant | None, Query(description="Start of the simulated call, ISO-8601")] = None,
    format: Annotated[Literal["json", "mermaid"], Query(description="json (default) or mermaid text")] = "json",
) -> Response[Diagram | str]:
    run = _simulation_query(caller, at) if highlight == "simulation" else None
    diagram = _service().diagram(scenario_id, version, run)
    if format == "mermaid":
        return Response(200, "text/plain; charset=utf-8", diagram.mermaid)
    return Response(200, JSON_CONTENT_TYPE, diagram)


@router.post(
    "/v1/scenarios/<scenario_id>/preview",
    operation_id="previewScenario",
    summary="What changes for callers: the draft against the version calls use now, or any two versions",
    description="Runs both versions through the same calls over the tenant's current directory: every schedule "
    "opening and closing (holidays and short days included) in the next `days` days, a caller in each caller list and "
    "one in none, each CRM answer, and each outcome of each ring and menu (bounded: see `diff.bounds`). Answers the "
    "calls that behave differently, summarised in `text` and `diff.statements`, changes of worst-case wait per "
    "route end, and a Mermaid diagram with added, removed and changed elements in colour. The exploration has a "
    "5 s budget (`diff.bounds.truncated_by` says when it ran out, on scenarios of hundreds of elements). "
    "422 `invalid_scenario` when the draft does not validate.",
    tags=TAGS,
    responses=documented(200, PreviewOut, "The behavioural differences", {**READ_ERRORS, 422: INVALID_SCENARIO}, False),
)
def preview_scenario(
    scenario_id: ScenarioIdPath,
    body: Annotated[PreviewRequest | None, Body()] = None,
) -> PreviewOut:
    return _service().preview(scenario_id, body or PreviewRequest())


@router.get(
    "/v1/scenarios/<scenario_id>/analysis",
    operation_id="getScenarioAnalysis",
    summary="Worst-case waits per route end, reachable extensions and dial-delay warnings of the draft or a version",
    description="The draft (or `version`) analysed against the tenant's current directory: the longest a caller can "
    "wait before each route end when nobody answers, which extensions can ring in and out of hours, loops, and the "
    "rings shorter than their target's network dial delay.",
    tags=TAGS,
    responses=documented(200, AnalysisOut, "The analysis", READ_ERRORS, False),
)
def get_scenario_analysis(
    scenario_id: ScenarioIdPath,
    version: Annotated[int | None, Query(ge=1, description="A published version; the draft when absent")] = None,
) -> AnalysisOut:
    return _service().analysis(scenario_id, version)


def _simulation_query(caller: str | None, at: datetime | None) -> SimulateRequest:
    """The diagram's simulation from query parameters; a bad caller is a located 422, not a 500."""
    try:
        return SimulateRequest(caller=caller or None, at=at)
    except ValidationError as error:
        details = [{**detail, "loc": ["query", *detail["loc"]]} for detail in validation_details(error.errors())]
        raise RequestInvalid("The request is invalid", details) from None


# ------------------------------------------------------------------------------------------------ publishing


@router.post(
    "/v1/scenarios/<scenario_id>/publish",
    operation_id="publishScenario",
    summary="Publish the draft as a new immutable version (If-Match: the draft version you validated)",
    description="Freezes the draft, with a snapshot of the directory objects it uses, into a new immutable "
    "version that calls use from now on. `If-Match` must be the draft version you validated (412 "
    "if it changed since); 422 `invalid_scenario` when the draft has errors. Answers 201 with the "
    "version and its Location. With `preview=true` the answer also carries `preview`: what changed for "
    "callers against the version calls used before (as `POST …/preview` tells it).",
    middlewares=[idempotent],
    tags=TAGS,
    responses=documented(
        201,
        VersionOut,
        "Published; calls use it from now on",
        idempotent_errors({**WRITE_ERRORS, 422: INVALID_SCENARIO}),
        False,
        location=True,
    ),
)
def publish_scenario(
    scenario_id: ScenarioIdPath,
    if_match: IfMatch,
    idempotency_key: IdempotencyKey = None,
    preview: Annotated[bool, Query(description="Also answer what changed for callers (`preview`)")] = False,
) -> Response[VersionOut]:
    caller = current_caller(router)
    service = ScenarioService(get_repository(), caller.tenant_id, get_settings().allow_insecure_crm)
    before = service.get(scenario_id).item.published_version if preview else None
    version = service.publish(scenario_id, version_from_if_match(if_match), by=caller.key_id)
    location = f"/v1/scenarios/{scenario_id}/versions/{version.number}"
    body = version_out(version, version.number)
    if preview:
        change = service.compare(scenario_id, before, version.number, DEFAULT_DAYS, None)
        body = body.model_copy(update={"preview": change})
    return Response(201, JSON_CONTENT_TYPE, body, {"Location": location})


@router.get(
    "/v1/scenarios/<scenario_id>/versions",
    operation_id="listScenarioVersions",
    summary="List published versions, newest first",
    description="The scenario's published versions, newest first; `current` marks the one calls use now.",
    tags=TAGS,
    responses=documented(200, PageOf[VersionSummary], "A page of versions", READ_ERRORS, etag=False),
)
def list_scenario_versions(
    scenario_id: ScenarioIdPath, limit: Limit = DEFAULT_PAGE_LIMIT, cursor: Cursor = None
) -> PageOf[VersionSummary]:
    service = _service()
    page = service.list_versions(scenario_id, limit, cursor)
    current = service.get(scenario_id).item.published_version
    return PageOf(items=[version_summary(v, current) for v in page.items], next_cursor=page.next_cursor)


@router.get(
    "/v1/scenarios/<scenario_id>/versions/<version>",
    operation_id="getScenarioVersion",
    summary="Get a published version with its directory snapshot",
    description="One published version: the scenario as published and the directory snapshot it runs against.",
    tags=TAGS,
    responses=documented(200, VersionOut, "The version", READ_ERRORS, etag=False),
)
def get_scenario_version(scenario_id: ScenarioIdPath, version: VersionPath) -> VersionOut:
    service = _service()
    found = service.get_version(scenario_id, version)
    return version_out(found, service.get(scenario_id).item.published_version)


@router.post(
    "/v1/scenarios/<scenario_id>/rollback",
    operation_id="rollbackScenario",
    summary="Make calls use an earlier published version (If-Match: the draft version); calls in flight keep theirs",
    description="Makes calls use an earlier published version. `If-Match` is the draft's ETag; the draft "
    "itself is unchanged. Calls already in progress keep the version they started on.",
    tags=TAGS,
    responses=documented(
        200,
        ScenarioOut,
        "The draft, now pointing at that version",
        {**WRITE_ERRORS, 409: error_doc("conflict: the version names directory objects that no longer exist")},
    ),
)
def rollback_scenario(
    scenario_id: ScenarioIdPath,
    body: Annotated[RollbackRequest, Body()],
    if_match: IfMatch,
) -> Response[ScenarioOut]:
    service = _service()
    service.rollback(scenario_id, body.version, version_from_if_match(if_match))
    return _draft(service, scenario_id)
