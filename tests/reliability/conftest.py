"""Reliability suite fixtures: the in-process API on moto (faults) and `vpbx serve` (concurrency over HTTP).

The figures the suite reports are printed by the root conftest's terminal summary."""

from tests.e2e.conftest import local_server  # noqa: F401 - concurrency runs against the real `vpbx serve`
from tests.security.harness import api  # noqa: F401 - fault injection drives the in-process API
