"""HTTP routes of live calls: telephony starts calls and reports outcomes; tenant users read call history.

`POST /v1/calls` and `POST /v1/calls/{call_id}/events` take telephony keys only; `GET /v1/calls[/{call_id}]` take
admin, editor and viewer keys (ROUTE_ROLES). The tenant always comes from the authorizer context.
"""

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.metrics import MetricUnit

from vpbx.api.context import current_caller
from vpbx.api.deps import get_crm_client, get_repository, get_state_tokens
from vpbx.api.errors import JSON_CONTENT_TYPE
from vpbx.api.models import Cursor, Limit, PageOf
from vpbx.api.responses import READ_ERRORS, documented, error_doc
from vpbx.domain.base import Instant
from vpbx.domain.calls import CallResult
from vpbx.service.call_stats import ScenarioStats, StatsDay, scenario_stats
from vpbx.service.calls import (
    CALL_ID_PATTERN,
    CallDecisionOut,
    CallDetailOut,
    CallEvent,
    CallsService,
    CallStart,
    CallSummaryOut,
    action_type,
    call_detail,
    call_summary,
    decision_out,
    is_loop_guard_end,
    utc_now,
)
from vpbx.store.models import StoredDecision
from vpbx.store.ports import DEFAULT_PAGE_LIMIT

router = Router()
TAGS = ["Calls"]
metrics = Metrics(namespace="vpbx", service="calls")

SCENARIO_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
CallIdPath = Annotated[str, Path(pattern=CALL_ID_PATTERN, description="Telephony's call id, as sent at the start")]
CALL_CONFLICT = error_doc(
    "conflict: the call id was started with another body, or the event's seq is stale, ahead, or already answered "
    "with another outcome (details carry current_seq and status)"
)
TELEPHONY_ERRORS = {**READ_ERRORS, 409: CALL_CONFLICT}


class PowertoolsCallMetrics:
    """Decisions by action, outcomes, loop-guard ends and decision latency, as CloudWatch EMF metrics."""

    def __init__(self, target: Metrics) -> None:
        self.target = target

    def decision(self, decision: StoredDecision, latency_ms: float) -> None:
        self.target.add_metric(name="Decisions", unit=MetricUnit.Count, value=1)
        self.target.add_metric(name=f"Decision.{action_type(decision)}", unit=MetricUnit.Count, value=1)
        self.target.add_metric(name="DecisionLatency", unit=MetricUnit.Milliseconds, value=latency_ms)
        if is_loop_guard_end(decision):
            self.target.add_metric(name="LoopGuardEnds", unit=MetricUnit.Count, value=1)

    def outcome(self, kind: str) -> None:
        self.target.add_metric(name=f"Outcome.{kind}", unit=MetricUnit.Count, value=1)


def _service() -> CallsService:
    return CallsService(
        get_repository(), crm=get_crm_client(), metrics=PowertoolsCallMetrics(metrics), tokens=get_state_tokens()
    )


def _tenant() -> str:
    return current_caller(router).tenant_id


def _decision(decision: CallDecisionOut, status: int = HTTPStatus.OK) -> Response[CallDecisionOut]:
    return Response(status_code=status, content_type=JSON_CONTENT_TYPE, body=decision)


@router.post(
    "/v1/calls",
    operation_id="startCall",
    summary="Start a call: the first action for a call to one of the tenant's numbers (telephony keys)",
    description="Telephony reports a call to one of the tenant's numbers and gets the first action (seq 1) "
    "from the number's published scenario: ring, play, collect digits, voicemail, fax or hang up. "
    "Retrying with the same body returns the same decision; the same call id with another body is "
    "409. Telephony keys only.",
    tags=TAGS,
    responses=documented(
        201,
        CallDecisionOut,
        "The first decision (seq 1)",
        TELEPHONY_ERRORS,
        etag=False,
    ),
)
def start_call(body: Annotated[CallStart, Body()]) -> Response[CallDecisionOut]:
    answer = _service().start_call(_tenant(), body)
    return _decision(decision_out(body.call_id, answer.decision, answer.state_token), HTTPStatus.CREATED)


@router.post(
    "/v1/calls/<call_id>/events",
    operation_id="reportCallEvent",
    summary="Report the outcome of the latest action; get the next one (telephony keys)",
    description="Telephony reports the outcome of the action of decision `seq` (answered, no_answer, busy, "
    "digits…) and gets the next action, until `status` is `connected` or `ended`. A repeated "
    "event returns the same answer; a stale or future `seq` is 409. With the decision's `state_token` echoed, "
    "the call advances with one database write; a token not issued for this call and seq is 400 "
    "`invalid_state_token`. Telephony keys only.",
    tags=TAGS,
    responses=documented(
        200,
        CallDecisionOut,
        "The next decision (seq + 1)",
        TELEPHONY_ERRORS,
        etag=False,
    ),
)
def report_call_event(call_id: CallIdPath, body: Annotated[CallEvent, Body()]) -> Response[CallDecisionOut]:
    answer = _service().report_event(_tenant(), call_id, body)
    return _decision(decision_out(call_id, answer.decision, answer.state_token))


@router.get(
    "/v1/calls",
    operation_id="listCalls",
    summary="List calls, newest first",
    description="The tenant's calls, newest first, a page at a time. Filter by one of `result`, `scenario_id`, "
    "`extension` (who answered), `number` (dialed) or `caller`, each with `since`/`until` (two of them at once "
    "is 400). A call is kept for its tenant's `call_history_days` (default 90) after routing ends (`expires_at`).",
    tags=TAGS,
    responses=documented(200, PageOf[CallSummaryOut], "A page of calls", READ_ERRORS, etag=False),
)
def list_calls(
    limit: Limit = DEFAULT_PAGE_LIMIT,
    cursor: Cursor = None,
    result: Annotated[CallResult | None, Query(description="Only calls with this result")] = None,
    scenario_id: Annotated[str | None, Query(pattern=SCENARIO_ID_PATTERN, description="Only this scenario's")] = None,
    extension: Annotated[str | None, Query(pattern=r"^[0-9]{1,6}$", description="Only calls it answered")] = None,
    number: Annotated[str | None, Query(max_length=40, description="Only calls to this number (E.164)")] = None,
    caller: Annotated[str | None, Query(min_length=1, max_length=64, description="Only calls from this caller")] = None,
    since: Annotated[Instant | None, Query(description="Calls started at or after (ISO-8601; naive = UTC)")] = None,
    until: Annotated[Instant | None, Query(description="Calls started before (ISO-8601; naive = UTC)")] = None,
) -> PageOf[CallSummaryOut]:
    page = _service().list(
        _tenant(),
        limit=limit,
        cursor=cursor,
        result=result,
        scenario_id=scenario_id,
        extension=extension,
        number=number,
        caller=caller,
        since=since,
        until=until,
    )
    return PageOf(items=[call_summary(summary) for summary in page.items], next_cursor=page.next_cursor)


@router.get(
    "/v1/calls/<call_id>",
    operation_id="getCall",
    summary="A call with its trace",
    description="One call with its trace: every element it went through, the action asked of telephony, the "
    "outcome reported and the exit taken.",
    tags=TAGS,
    responses=documented(200, CallDetailOut, "The call", READ_ERRORS, etag=False),
)
def get_call(call_id: CallIdPath) -> CallDetailOut:
    return call_detail(_service().get(_tenant(), call_id))


@router.get(
    "/v1/scenarios/<scenario_id>/stats",
    operation_id="getScenarioStats",
    summary="A scenario's call statistics by element, result and day",
    description="Counters kept as calls end (never a read of the calls): calls per element and exit, answer "
    "rate and average wait of each ringing element, where calls ended, results, talk time, and one point per "
    "day (UTC) for charts. `since`/`until` are days (inclusive; default the last 30 days, at most 366).",
    tags=TAGS,
    responses=documented(200, ScenarioStats, "The statistics", READ_ERRORS, etag=False),
)
def get_scenario_stats(
    scenario_id: Annotated[str, Path(pattern=SCENARIO_ID_PATTERN)],
    since: Annotated[StatsDay | None, Query(description="First day, YYYY-MM-DD (UTC)")] = None,
    until: Annotated[StatsDay | None, Query(description="Last day, YYYY-MM-DD (UTC), inclusive")] = None,
) -> ScenarioStats:
    return scenario_stats(get_repository(), _tenant(), scenario_id, since, until, utc_now())
