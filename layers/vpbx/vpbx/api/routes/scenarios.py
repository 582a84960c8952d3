"""HTTP routes of call scenarios: drafts, validation, publishing, versions, rollback, simulation, diagrams.

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
from vpbx.api.models import Cursor, Limit, PageOf
from vpbx.api.resources import (
    CollectionHandlers,
    IfMatch,
    ResourceFamily,
    Summaries,
    register_collection,
    versioned_response,
)
from vpbx.api.responses import READ_ERRORS, WRITE_ERRORS, documented, error_doc
from vpbx.service.scenarios import (
    Diagram,
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

ScenarioIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]
VersionPath = Annotated[int, Path(ge=1, description="Published version number")]
INVALID_SCENARIO = error_doc("invalid_scenario: the scenario has validation errors (details are the problems)")
IN_USE = error_doc("in_use: phone numbers point at this scenario (details name them)")


def _service() -> ScenarioService:
    return ScenarioService(get_repository(), current_caller(router).tenant_id)


def _draft(service: ScenarioService, scenario_id: str, status: int = HTTPStatus.OK) -> Response[ScenarioOut]:
    """The draft as stored now, validated against the current directory, with its ETag."""
    record, report = service.validate_draft(scenario_id)
    location = DRAFTS.location(scenario_id) if status == HTTPStatus.CREATED else None
    return versioned_response(scenario_out(record, report), record.version, status, location)


# ------------------------------------------------------------------------------------------------ drafts

DRAFTS = ResourceFamily(
    collection="/v1/scenarios",
    key="scenario_id",
    key_type=ScenarioIdPath,
    singular="scenario",
    plural="scenarios",
    tag=TAGS[0],
    create_body=ScenarioCreate,
    replace_body=ScenarioReplace,
    item_out=ScenarioOut,
    list_item_out=ScenarioSummary,
    summaries=Summaries(
        list="List scenarios (summaries without elements)",
        create="Create a scenario draft (id optional; an invalid draft is saved, see its validation)",
        get="Get a scenario draft with its validation summary",
        replace="Replace a scenario draft (If-Match required); published versions are not affected",
        delete="Delete a scenario and its versions (If-Match required; 409 while phone numbers point at it)",
    ),
    page_description="A page of scenarios",
    item_description="The draft",
    delete_errors={**WRITE_ERRORS, 409: IN_USE},
)


def _list_drafts(limit: int, cursor: str | None) -> PageOf[ScenarioSummary]:
    page = _service().list_drafts(limit, cursor)
    return PageOf(items=[scenario_summary(record) for record in page.items], next_cursor=page.next_cursor)


def _create_draft(body: ScenarioCreate) -> Response[ScenarioOut]:
    service = _service()
    record = service.create(body)
    return _draft(service, record.item.id, HTTPStatus.CREATED)


def _get_draft(scenario_id: str) -> Response[ScenarioOut]:
    return _draft(_service(), scenario_id)


def _replace_draft(scenario_id: str, body: ScenarioReplace, expected: int) -> Response[ScenarioOut]:
    service = _service()
    service.replace(scenario_id, body, expected)
    return _draft(service, scenario_id)


def _delete_draft(scenario_id: str, expected: int) -> None:
    _service().delete(scenario_id, expected)


register_collection(
    router, DRAFTS, CollectionHandlers(_list_drafts, _create_draft, _get_draft, _replace_draft, _delete_draft)
)


# ------------------------------------------------------------------------------------------------ checks


@router.post(
    "/v1/scenarios/<scenario_id>/validate",
    summary="Validate the draft against the tenant's current directory",
    tags=TAGS,
    responses=documented(200, ValidationOut, "The validation report (ok: false when it has errors)", READ_ERRORS),
)
def validate_scenario(scenario_id: ScenarioIdPath) -> Response[ValidationOut]:
    record, report = _service().validate_draft(scenario_id)
    return versioned_response(validation_out(record, report), record.version)


@router.post(
    "/v1/scenarios/<scenario_id>/simulate",
    summary="Run one call through the draft (live directory) or a published version (its snapshot)",
    tags=TAGS,
    responses=documented(
        200, SimulationOut, "Every step the call took and how it ended", {**READ_ERRORS, 422: INVALID_SCENARIO}, False
    ),
)
def simulate_scenario(
    scenario_id: ScenarioIdPath, body: Annotated[SimulateRequest | None, Body()] = None
) -> SimulationOut:
    simulation = _service().simulate(scenario_id, body or SimulateRequest())
    return simulation_out(simulation)


@router.get(
    "/v1/scenarios/<scenario_id>/diagram",
    summary="Mermaid flowchart of the draft or a version, optionally with a simulated call's path drawn bold",
    description="JSON `{mermaid, highlight, …}` by default; `format=mermaid` answers the bare text (text/plain) "
    "for mermaid-cli. `highlight=simulation` runs a default simulation (at `at`, from `caller`) and draws its path.",
    tags=TAGS,
    responses=documented(200, Diagram, "The diagram", {**READ_ERRORS, 422: INVALID_SCENARIO}, False),
)
def scenario_diagram(
    scenario_id: ScenarioIdPath,
    version: Annotated[int | None, Query(ge=1, description="A published version; the draft when absent")] = None,
    highlight: Annotated[Literal["simulation"] | None, Query(description="Draw a simulated call's path")] = None,
    caller: Annotated[str | None, Query(max_length=32, description="Caller for the simulation, E.164")] = None,
    at: Annotated[datetime | None, Query(description="Start of the simulated call, ISO-8601")] = None,
    format: Annotated[Literal["json", "mermaid"], Query(description="json (default) or mermaid text")] = "json",
) -> Response[Diagram | str]:
    run = _simulation_query(caller, at) if highlight == "simulation" else None
    diagram = _service().diagram(scenario_id, version, run)
    if format == "mermaid":
        return Response(200, "text/plain; charset=utf-8", diagram.mermaid)
    return Response(200, JSON_CONTENT_TYPE, diagram)


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
    summary="Publish the draft as a new immutable version (If-Match: the draft version you validated)",
    tags=TAGS,
    responses=documented(
        201, VersionOut, "Published; calls use it from now on", {**WRITE_ERRORS, 422: INVALID_SCENARIO}, False
    ),
)
def publish_scenario(scenario_id: ScenarioIdPath, if_match: IfMatch) -> Response[VersionOut]:
    caller = current_caller(router)
    service = ScenarioService(get_repository(), caller.tenant_id)
    version = service.publish(scenario_id, version_from_if_match(if_match), by=caller.key_id)
    location = f"/v1/scenarios/{scenario_id}/versions/{version.number}"
    return Response(201, JSON_CONTENT_TYPE, version_out(version, version.number), {"Location": location})


@router.get(
    "/v1/scenarios/<scenario_id>/versions",
    summary="List published versions, newest first",
    tags=TAGS,
    responses=documented(200, PageOf[VersionSummary], "A page of versions", READ_ERRORS, etag=False),
)
def list_versions(
    scenario_id: ScenarioIdPath, limit: Limit = DEFAULT_PAGE_LIMIT, cursor: Cursor = None
) -> PageOf[VersionSummary]:
    service = _service()
    page = service.list_versions(scenario_id, limit, cursor)
    current = service.get(scenario_id).item.published_version
    return PageOf(items=[version_summary(v, current) for v in page.items], next_cursor=page.next_cursor)


@router.get(
    "/v1/scenarios/<scenario_id>/versions/<version>",
    summary="Get a published version with its directory snapshot",
    tags=TAGS,
    responses=documented(200, VersionOut, "The version", READ_ERRORS, etag=False),
)
def get_version(scenario_id: ScenarioIdPath, version: VersionPath) -> VersionOut:
    service = _service()
    found = service.get_version(scenario_id, version)
    return version_out(found, service.get(scenario_id).item.published_version)


@router.post(
    "/v1/scenarios/<scenario_id>/rollback",
    summary="Make calls use an earlier published version (If-Match: the draft version); calls in flight keep theirs",
    tags=TAGS,
    responses=documented(
        200,
        ScenarioOut,
        "The draft, now pointing at that version",
        {**WRITE_ERRORS, 409: error_doc("conflict: the version names directory objects that no longer exist")},
    ),
)
def rollback_scenario(
    scenario_id: ScenarioIdPath, body: Annotated[RollbackRequest, Body()], if_match: IfMatch
) -> Response[ScenarioOut]:
    service = _service()
    service.rollback(scenario_id, body.version, version_from_if_match(if_match))
    return _draft(service, scenario_id)
