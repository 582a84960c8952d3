"""Hypothesis against every template route in-process: random JSON, bytes, query strings and headers never give a 5xx.

Unlike schemathesis (which starts from the spec), these inputs ignore the contract: JSON of any shape at the body,
raw bytes, odd numbers, unknown and repeated query parameters, datetimes and versions at the edges, and headers
such as If-Match filled with arbitrary text. Fixed seed, no database; the figure is printed with the others.
"""

import json
import re
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from vpbx.local.template import local_api

from tests.security.audit import leaks
from tests.security.figures import report
from tests.security.harness import InProcessApi, World, build_world

SEED = 20_261_203
EXAMPLES_PER_ROUTE = 40
FUZZED: list[int] = []

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["+79161234567", "101", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "²", ""]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=40,
)
FIELD_NAMES = "seq outcome call_id from to name extension elements connections at version number scenario_id"
field_names = st.sampled_from([*FIELD_NAMES.split(), "timezone", "weekly", "patterns", "role", "kind", "enabled", "id"])
objects = st.dictionaries(field_names, json_values, max_size=6)
bodies = st.one_of(
    objects.map(lambda value: json.dumps(value).encode()),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=64),
    st.just(b""),
)
query_values = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "-1", "0", "1e99", "²", "true"]),
)
queries = st.lists(
    st.tuples(st.sampled_from(["limit", "cursor", "since", "until", "number", "version", "at", "x"]), query_values),
    max_size=4,
)
if_match = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(['"1"', 'W/"1"', "²", '"' + "9" * 30 + '"']))


@pytest.fixture(scope="module")
def world(api: InProcessApi) -> World:
    return build_world(api, 7)


def concrete(resource: str, world: World) -> str:
    values = {
        "tenant_id": world.tenant_id,
        "key_id": world.key_ids[-1],
        "extension": world.extensions[-1],
        "number": quote(world.numbers[-1], safe=""),
        "schedule_id": world.schedules[-1],
        "list_id": world.caller_lists[-1],
        "queue_id": world.queues[-1],
        "scenario_id": world.scenarios[-1],
        "call_id": world.calls[-1],
        "version": "1",
        "webhook_id": world.webhooks[-1],
    }
    return re.sub(r"{(\w+)}", lambda found: values[found.group(1)], resource)


ROUTES = sorted({(route.method, route.resource) for route in local_api().routes})


@pytest.mark.parametrize(("method", "resource"), ROUTES, ids=[f"{m} {r}" for m, r in ROUTES])
def test_random_input_never_gives_a_server_error(api: InProcessApi, world: World, method: str, resource: str) -> None:
    path = concrete(resource, world)
    key = world.keys["telephony" if resource.startswith("/v1/calls") and method == "POST" else "admin"]
    if resource.startswith("/v1/tenants") and method == "POST" and resource == "/v1/tenants":
        key = api.operator_key

    @seed(SEED)
    @settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(body=bodies, query=queries, version=if_match)
    def fuzz(body: bytes, query: list[tuple[str, str]], version: str | None) -> None:
        query_string = "&".join(f"{quote(name)}={quote(value)}" for name, value in query)
        headers: dict[str, Any] = {"Content-Type": "application/json"}
        if version is not None and version.isprintable():
            headers["If-Match"] = version
        response = api.request(
            method, f"{path}?{query_string}" if query_string else path, key, raw_body=body or None, headers=headers
        )
        FUZZED.append(response.status)
        assert response.status < 500, (method, path, query_string, body[:200], response.text[:300])
        if response.status >= 400:  # a 2xx may quote anything (Swagger UI's bundle mentions TypeError)
            assert leaks(response.text) == []

    fuzz()


def test_report_fuzz_figures() -> None:
    if FUZZED:
        server_errors = sum(1 for status in FUZZED if status >= 500)
        report(
            f"Handler fuzzing (hypothesis, seed {SEED}): {len(FUZZED)} random requests over {len(ROUTES)} routes, "
            f"{server_errors} x 5xx"
        )
