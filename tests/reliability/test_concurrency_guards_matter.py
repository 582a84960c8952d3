"""The concurrency tests can fail: against a `vpbx serve` whose storage drops its version and sequence conditions
(tests/reliability/unguarded_store.py, loaded into every instance process), the If-Match race and the concurrent
duplicate-event test must both fail. If they passed there, they would prove nothing about the real storage.

This needs the functions to run truly in parallel: with one invocation at a time (the old invoke lock) no two
writes ever interleave, and both tests passed with or without the conditions.
"""

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import LocalServer, running_local_server
from tests.reliability.test_concurrency import (
    Tenant,
    duplicate_call_events_give_one_transition_and_identical_answers,
    if_match_edits_never_lose_an_update,
    new_tenant,
)
from tests.security.figures import report

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def unguarded_server() -> Iterator[LocalServer]:
    with running_local_server({"VPBX_LOCAL_PRELOAD": "tests.reliability.unguarded_store"}) as server:
        yield server


@pytest.fixture(scope="module")
def unguarded_tenant(unguarded_server: LocalServer) -> Tenant:
    return new_tenant(unguarded_server)


def test_the_if_match_test_catches_missing_version_conditions(unguarded_tenant: Tenant) -> None:
    with pytest.raises(AssertionError) as caught:
        if_match_edits_never_lose_an_update(unguarded_tenant)
    report(f"Guard removed (If-Match race): the test fails with: {str(caught.value).splitlines()[0][:160]}")


def test_the_duplicate_event_test_catches_missing_sequence_conditions(unguarded_tenant: Tenant) -> None:
    with pytest.raises(AssertionError) as caught:
        duplicate_call_events_give_one_transition_and_identical_answers(unguarded_tenant)
    report(f"Guard removed (duplicate events): the test fails with: {str(caught.value).splitlines()[0][:160]}")
