"""Preview of a change (behavioural diff), analysis, and publish?preview=true through the scenarios handler."""

from typing import Any

import pytest

from tests.helpers.apigw import response_json
from tests.integration.test_directory_api import (  # noqa: F401  (fixtures are used by name)
    Call,
    caller_of,
    dynamo_repository,
    fresh_tenant,
    shared_table,
)
from tests.integration.test_scenarios_api import DRAFT_BODY, MAIN, MONDAY_10_MSK

# After hours: ring 101 for 30 s before voicemail, instead of voicemail directly.
LATE = {
    **DRAFT_BODY,
    "elements": [
        *DRAFT_BODY["elements"],
        {"id": "late", "type": "internal_subscriber", "extension": "101", "limit_wait": True, "wait_seconds": 30},
    ],
    "connections": [
        *(c for c in DRAFT_BODY["connections"] if c.get("exit") != "closed"),
        {"from": "hours", "exit": "closed", "to": "late"},
        {"from": "late", "exit": "no_answer", "to": "vm"},
    ],
}


@pytest.fixture
def api(dynamo_repository: Any) -> Call:  # noqa: F811
    tenant_id = fresh_tenant()
    directory = caller_of("directory", tenant_id)
    directory("POST", "/v1/subscribers", {"extension": "101", "name": "Anna"})
    weekdays = {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
    directory("POST", "/v1/schedules", {"id": "office", "name": "Office", "timezone": "Europe/Moscow",
                                        "weekly": weekdays})  # fmt: skip
    call = caller_of("scenarios", tenant_id)
    assert call("POST", "/v1/scenarios", MAIN)["statusCode"] == 201
    assert call("POST", "/v1/scenarios/main/publish", if_match=1)["statusCode"] == 201
    return call


def test_preview_of_an_unchanged_draft_finds_nothing(api: Call) -> None:
    response = api("POST", "/v1/scenarios/main/preview")
    body = response_json(response)

    assert response["statusCode"] == 200
    assert (body["changed"], body["from_version"], body["to_version"]) == (False, 1, None)
    assert body["text"].startswith("No behavioural change")


def test_preview_tells_what_changes_after_hours(api: Call) -> None:
    assert api("PUT", "/v1/scenarios/main", LATE, if_match=1)["statusCode"] == 200
    body = response_json(api("POST", "/v1/scenarios/main/preview", {"at": MONDAY_10_MSK, "days": 7}))

    assert body["changed"] is True
    [statement] = body["diff"]["statements"]
    assert "Mon–Thu 18:00–09:00 (next day)" in statement["text"]
    assert statement["was"] == "voicemail 101"
    assert statement["now"] == "ring 101 (30 s) → voicemail 101 (or answered at a ring)"
    assert "classDef added" in body["mermaid"]
    assert body["diff"]["bounds"]["days"] == 7


def test_publish_with_preview_returns_the_diff_and_the_default_is_unchanged(api: Call) -> None:
    api("PUT", "/v1/scenarios/main", LATE, if_match=1)
    with_preview = api("POST", "/v1/scenarios/main/publish?preview=true", if_match=2)
    body = response_json(with_preview)

    assert with_preview["statusCode"] == 201
    assert body["version"] == 2
    assert (body["preview"]["from_version"], body["preview"]["to_version"], body["preview"]["changed"]) == (1, 2, True)
    api("PUT", "/v1/scenarios/main", DRAFT_BODY, if_match=2)
    plain = response_json(api("POST", "/v1/scenarios/main/publish", if_match=3))
    assert "preview" not in plain


def test_preview_between_versions_and_bad_requests(api: Call) -> None:
    api("PUT", "/v1/scenarios/main", LATE, if_match=1)
    api("POST", "/v1/scenarios/main/publish", if_match=2)
    between = response_json(api("POST", "/v1/scenarios/main/preview", {"from_version": 2, "to_version": 1}))

    assert between["changed"] is True
    assert between["diff"]["statements"][0]["now"] == "voicemail 101"
    assert api("POST", "/v1/scenarios/main/preview", {"to_version": 9})["statusCode"] == 404
    assert api("POST", "/v1/scenarios/main/preview", {"days": 0})["statusCode"] == 422
    assert api("POST", "/v1/scenarios/main/preview", {"days": 63})["statusCode"] == 422
    assert api("POST", "/v1/scenarios/main/preview", {"tenant_id": "x"})["statusCode"] == 422
    assert api("POST", "/v1/scenarios/ghost/preview")["statusCode"] == 404


def test_analysis_of_the_draft_and_a_version(api: Call) -> None:
    api("PUT", "/v1/scenarios/main", LATE, if_match=1)
    draft = response_json(api("GET", "/v1/scenarios/main/analysis"))
    version = response_json(api("GET", "/v1/scenarios/main/analysis?version=1"))

    assert draft["version"] is None
    assert version["version"] == 1
    assert draft["analysis"]["worst_case_seconds"] == 30
    assert version["analysis"]["worst_case_seconds"] == 20
    assert draft["dial_delay_warnings"] == []
    assert "Worst-case wait" in draft["text"]
    assert api("GET", "/v1/scenarios/main/analysis?version=7")["statusCode"] == 404
    assert api("GET", "/v1/scenarios/main/analysis?version=0")["statusCode"] == 422
