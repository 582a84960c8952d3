"""A call start reads the number's route item and one copy of the directory revision (issue 19): 2 DynamoDB requests,
and every write that changes what a start needs (publish, rollback, number writes, directory and tenant edits)
reaches the next start. Through the calls handler on a DynamoDB table (moto), with the request-recording harness of
test_calls_api."""

import logging
from collections.abc import Iterator
from copy import copy as shallow_copy
from typing import Any

import boto3
import pytest
from botocore.config import Config
from vpbx.domain.directory import Subscriber
from vpbx.domain.errors import InUse
from vpbx.domain.scenario import Scenario
from vpbx.store import keys
from vpbx.store.common import TooManyNumbers
from vpbx.store.dynamodb import DynamoRepository
from vpbx.store.models import DirectorySnapshot, PhoneNumber

from tests.helpers.apigw import FakeLambdaContext, api_event, authorizer_context, response_json
from tests.integration import test_calls_api as calls_api
from tests.integration.test_calls_api import NOW, NUMBER, SEED_SCENARIO, TENANT, Call, publish, save_draft, start_body
from tests.integration.test_directory_api import load_function

repository = calls_api.repository  # the fixtures: the table with two tenants, and the calls handler on it
api = calls_api.api

Key = tuple[str, str]


class Recorder:
    """The DynamoDB requests a client sends, with the item keys each one reads or writes."""

    def __init__(self, client: Any) -> None:
        self.requests: list[tuple[str, list[Key]]] = []
        client.meta.events.register("before-parameter-build.dynamodb", self._record, unique_id="route-recorder")

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.requests.append((model.name, _keys_of(params)))

    @property
    def operations(self) -> list[str]:
        return [name for name, _ in self.requests]

    @property
    def keys(self) -> list[Key]:
        return [key for _, touched in self.requests for key in touched]


def _keys_of(params: dict[str, Any]) -> list[Key]:
    if "Key" in params:
        return [(params["Key"]["PK"]["S"], params["Key"]["SK"]["S"])]
    if "Item" in params:
        return [(params["Item"]["PK"]["S"], params["Item"]["SK"]["S"])]
    if "RequestItems" in params:
        return [(k["PK"]["S"], k["SK"]["S"]) for request in params["RequestItems"].values() for k in request["Keys"]]
    return []


@pytest.fixture
def recorder(repository: DynamoRepository) -> Iterator[Recorder]:
    recording = Recorder(repository.client)
    yield recording
    repository.client.meta.events.unregister("before-parameter-build.dynamodb", unique_id="route-recorder")


def ringing(*extensions: str, name: str = "Ring") -> dict[str, Any]:
    """start → ring each extension in turn."""
    elements: list[dict[str, Any]] = [{"id": "start", "type": "incoming_call"}]
    connections: list[dict[str, Any]] = []
    previous = "start"
    for extension in extensions:
        elements.append({"id": f"ring{extension}", "type": "internal_subscriber", "extension": extension})
        connections.append(
            {"from": previous, "to": f"ring{extension}"} | ({"exit": "no_answer"} if connections else {})
        )
        previous = f"ring{extension}"
    return {"name": name, "elements": elements, "connections": connections}


def started(api: Call, call_id: str, number: str = NUMBER) -> dict[str, Any]:
    response = api("POST", "/v1/calls", start_body(call_id, to=number))
    assert response["statusCode"] == 201, response["body"]
    return dict(response_json(response))


def rung(api: Call, call_id: str, number: str = NUMBER) -> str:
    """The first extension a new call to `number` rings."""
    return str(started(api, call_id, number)["action"]["targets"][0]["extension"])


def version_of(api: Call, call_id: str) -> int | None:
    detail = response_json(api("GET", f"/v1/calls/{call_id}", role="viewer"))
    return detail["version"]


def point(repository: DynamoRepository, number: str, scenario_id: str | None) -> None:
    current = repository.get_number(TENANT, number)
    repository.update_number(TENANT, PhoneNumber(number=number, scenario_id=scenario_id), current.version)


# ---------------------------------------------------------------------------------------------- the budget


def test_a_warm_start_is_one_batch_get_of_the_route_and_a_revision_copy_and_one_put(
    api: Call, repository: DynamoRepository, recorder: Recorder
) -> None:
    publish(repository, TENANT, SEED_SCENARIO)
    started(api, "warmup")  # the version cache and the tenant's settings
    copies_read = set()
    for index in range(24):
        recorder.requests.clear()
        started(api, f"measured-{index}")
        assert recorder.operations == ["BatchGetItem", "PutItem"]
        [(_, read), (_, written)] = recorder.requests
        [revision_copy] = [pk for pk, sk in read if sk == keys.DIRECTORY_REVISION_SK]
        assert sorted(read) == sorted([(f"NUMBER#{NUMBER}", "NUMBER"), (revision_copy, "DIRREV")])
        copies_read.add(revision_copy)
        call_id = f"measured-{index}"
        assert written == [(keys.call_pk(TENANT, call_id), keys.call_sk(call_id))]  # the call's own partition
    # never the draft (its reference set, its pointer) and never the single revision item reference checks use
    assert copies_read <= {f"TENANT#{TENANT}#DIRREV#{k}" for k in range(keys.DIRECTORY_REVISION_COPIES)}
    assert len(copies_read) > 1  # spread over the copies (24 starts on one of 4 copies: 4 × 4⁻²⁴ by chance)


def test_a_start_never_reads_the_draft_of_a_large_scenario(
    api: Call, repository: DynamoRepository, recorder: Recorder
) -> None:
    """The draft of a scenario published with a snapshot of 3,000 subscribers carries them all in its reference set
    (the 10,000-reference item is 160 KB); no start, warm or cold, reads it."""
    draft = save_draft(repository, TENANT, SEED_SCENARIO)
    crowd = [Subscriber(extension=str(1000 + n), name=f"S{n}") for n in range(3000)]
    snapshot = DirectorySnapshot(subscribers=[Subscriber(extension="101", name="A"), *crowd])
    repository.publish_scenario(TENANT, "main", draft.version, snapshot, NOW, None)
    recorder.requests.clear()
    started(api, "cold")
    started(api, "warm")
    assert (f"TENANT#{TENANT}", "SCENARIO#main") not in recorder.keys
    assert recorder.operations[-2:] == ["BatchGetItem", "PutItem"]


# ---------------------------------------------------------------------------------------------- exact routes


def test_publish_reaches_the_next_start(api: Call, repository: DynamoRepository) -> None:
    publish(repository, TENANT, ringing("101", "102"))
    assert rung(api, "first") == "101"
    publish(repository, TENANT, ringing("102", "101"))
    assert rung(api, "second") == "102"
    assert (version_of(api, "first"), version_of(api, "second")) == (1, 2)


def test_rollback_reaches_the_next_start(api: Call, repository: DynamoRepository) -> None:
    publish(repository, TENANT, ringing("101", "102"))
    publish(repository, TENANT, ringing("102", "101"))
    draft = repository.get_scenario(TENANT, "main")
    repository.rollback_scenario(TENANT, "main", 1, draft.version, repository.directory_revision(TENANT))
    assert rung(api, "after-rollback") == "101"
    assert version_of(api, "after-rollback") == 1


def test_unassigning_and_reassigning_a_number(api: Call, repository: DynamoRepository) -> None:
    publish(repository, TENANT, ringing("101"))
    point(repository, NUMBER, None)
    unassigned = api("POST", "/v1/calls", start_body("nowhere"))
    assert unassigned["statusCode"] == 404
    publish(repository, TENANT, ringing("102"))  # while the number answers nothing
    point(repository, NUMBER, "main")
    assert rung(api, "back") == "102"
    assert version_of(api, "back") == 2


def test_a_number_moved_to_another_scenario(api: Call, repository: DynamoRepository) -> None:
    publish(repository, TENANT, ringing("101"))
    publish(repository, TENANT, ringing("102"), scenario_id="sales")
    point(repository, NUMBER, "sales")
    assert rung(api, "moved") == "102"
    publish(repository, TENANT, ringing("101", "102"))  # main's publish does not touch the moved number
    assert rung(api, "still-sales") == "102"
    publish(repository, TENANT, ringing("101"), scenario_id="sales")
    assert rung(api, "sales-v2") == "101"
    assert version_of(api, "sales-v2") == 2


def test_deleting_a_scenario_and_recreating_it_unpublished(api: Call, repository: DynamoRepository) -> None:
    publish(repository, TENANT, ringing("102"), scenario_id="sales")
    point(repository, NUMBER, "sales")
    with pytest.raises(InUse):  # a route never names a deleted scenario: the delete is refused while it answers
        repository.delete_scenario(TENANT, "sales", 1)
    point(repository, NUMBER, "main")
    repository.delete_scenario(TENANT, "sales", 1)
    save_draft(repository, TENANT, ringing("101"), scenario_id="sales")
    point(repository, NUMBER, "sales")
    answer = started(api, "recreated")
    assert answer["action"] == {"type": "hangup", "reason": "not_published"}  # not the deleted one's version 1


def test_a_directory_edit_reaches_the_next_start(api: Call, repository: DynamoRepository) -> None:
    publish(repository, TENANT, ringing("101"))
    first = started(api, "before")["action"]["targets"][0]
    repository.update_subscriber(TENANT, Subscriber(extension="101", name="E101", sip_uri="sip:desk@pbx.example"), 1)
    second = started(api, "after")["action"]["targets"][0]
    assert (first["uri"], second["uri"]) != (second["uri"], second["uri"])
    assert second["uri"] == "sip:desk@pbx.example"


def test_a_tenant_settings_edit_reaches_the_next_start(api: Call, repository: DynamoRepository) -> None:
    publish(repository, TENANT, ringing("101"))
    started(api, "before")
    tenant = repository.get_tenant(TENANT)
    repository.update_tenant(tenant.model_copy(update={"sip_domain": "new.sip.example"}), tenant.version)
    assert started(api, "after")["action"]["targets"][0]["uri"] == "sip:101@new.sip.example"


def test_the_revision_copies_are_equal_and_advance_with_every_directory_write(repository: DynamoRepository) -> None:
    def copies() -> set[int]:
        return {repository.call_route(TENANT, NUMBER).directory_revision for _ in range(40)}  # type: ignore[union-attr]

    [before] = copies()
    repository.update_subscriber(TENANT, Subscriber(extension="101", name="Renamed"), 1)
    assert copies() == {before + 1}
    publish(repository, TENANT, ringing("101"))  # a reference-checked write: the conditional path
    assert copies() == {before + 2}
    assert before > keys.COPY_REVISION_BASE  # never a value a call recorded from the single revision item


# ---------------------------------------------------------------------------------------------- races and bounds


@pytest.mark.parametrize("guarded", [True, False], ids=["guarded", "condition-removed"])
def test_a_number_pointed_at_a_scenario_while_it_is_published_gets_the_new_version(
    repository: DynamoRepository, monkeypatch: pytest.MonkeyPatch, guarded: bool
) -> None:
    """Publish lists the scenario's numbers, then commits; a number pointed at it in between copied the old pointer.
    The publish commits on the directory revision it listed them at, which the number's write moved: it lists again."""
    publish(repository, TENANT, ringing("101"))
    late = "+74950000001"
    if not guarded:
        monkeypatch.setattr(repository, "guard_references", False)
    fired: list[str] = []

    def hook(operation: str) -> None:
        if operation == "publish" and not fired:
            fired.append(operation)
            repository.create_number(TENANT, PhoneNumber(number=late, scenario_id="main"))

    monkeypatch.setattr(repository, "before_reference_write", hook)
    publish(repository, TENANT, ringing("102"))
    route = repository.call_route(TENANT, late)
    assert route is not None
    assert route.published_version == (2 if guarded else 1)


def test_at_most_max_numbers_per_scenario_and_a_publish_reroutes_them_all(
    api: Call, repository: DynamoRepository
) -> None:
    publish(repository, TENANT, ringing("101"))
    numbers = [f"+7495100{n:04d}" for n in range(keys.MAX_NUMBERS_PER_SCENARIO - 1)]  # the fixture's NUMBER is one
    for number in numbers:
        repository.create_number(TENANT, PhoneNumber(number=number, scenario_id="main"))
    with pytest.raises(TooManyNumbers) as refused:
        repository.create_number(TENANT, PhoneNumber(number="+74952000000", scenario_id="main"))
    assert refused.value.code == "limit_exceeded"
    assert "at most 90 numbers" in refused.value.message
    repository.create_scenario(TENANT, "spare", Scenario.model_validate(ringing("102")))
    repository.create_number(TENANT, PhoneNumber(number="+74952000000", scenario_id="spare"))  # elsewhere: fine
    with pytest.raises(TooManyNumbers):
        point(repository, "+74952000000", "main")

    # 90 routes, the version, the draft and 5 revision items: 97 items (moto takes seconds for them on a busy machine)
    patient = boto3.client("dynamodb", endpoint_url=repository._endpoint_url, config=Config(read_timeout=600))
    publish(DynamoRepository(repository.table_name, client=patient), TENANT, ringing("102"))
    routes = [repository.call_route(TENANT, number) for number in [NUMBER, *numbers]]
    assert {route.published_version for route in routes if route is not None} == {2}
    assert rung(api, "last", numbers[-1]) == "102"


def test_the_limit_over_http_is_a_409(repository: DynamoRepository, monkeypatch: pytest.MonkeyPatch) -> None:
    publish(repository, TENANT, ringing("101"))  # the scenario the fixture's number points at
    monkeypatch.setattr(keys, "MAX_NUMBERS_PER_SCENARIO", 1)  # the fixture's number is the one
    body = {"number": "+74952000001", "scenario_id": "main"}
    event = api_event("POST", "/v1/numbers", body=body, authorizer=authorizer_context(TENANT, role="admin"))
    package_logger = logging.getLogger("vpbx")  # a function's import points vpbx.* logs at its own logger: undo it
    for attribute in ("handlers", "level", "propagate"):
        monkeypatch.setattr(package_logger, attribute, shallow_copy(getattr(package_logger, attribute)))
    response = load_function("directory").handler(event, FakeLambdaContext())  # numbers live in the directory API
    assert response["statusCode"] == 409
    error = response_json(response)["error"]
    assert error["code"] == "limit_exceeded"
    assert error["details"][0]["loc"] == ["body", "scenario_id"]


def test_a_route_written_before_routes_carried_the_version_reads_the_draft(
    api: Call, repository: DynamoRepository
) -> None:
    """Items from before this layout: a route without published_version, a tenant without revision copies."""
    publish(repository, TENANT, ringing("101"))
    table, client = repository.table_name, repository.client
    client.update_item(
        TableName=table,
        Key={"PK": {"S": f"NUMBER#{NUMBER}"}, "SK": {"S": "NUMBER"}},
        UpdateExpression="REMOVE published_version",
    )
    for copy in range(keys.DIRECTORY_REVISION_COPIES):
        client.delete_item(TableName=table, Key={"PK": {"S": f"TENANT#{TENANT}#DIRREV#{copy}"}, "SK": {"S": "DIRREV"}})
    route = repository.call_route(TENANT, NUMBER)
    assert route is not None
    assert (route.published_version, route.directory_revision) == (1, repository.directory_revision(TENANT))
    assert rung(api, "legacy") == "101"
    publish(repository, TENANT, ringing("102"))  # writes the version into the route and creates the copies
    assert rung(api, "migrated") == "102"
    assert repository.call_route(TENANT, NUMBER).directory_revision > keys.COPY_REVISION_BASE  # type: ignore[union-attr]
