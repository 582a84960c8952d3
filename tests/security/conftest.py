"""Security suite fixtures: the API in-process on a moto table (one per module), and vpbx serve for HTTP samples.

The figures the suite reports are printed by the root conftest's terminal summary."""

from tests.e2e.conftest import local_server  # noqa: F401 - the real-HTTP samples use the same `vpbx serve` harness
from tests.security.harness import api  # noqa: F401 - the in-process API on a table of the module's own
