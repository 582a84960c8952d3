"""Scenario routes: drafts, validate, publish, versions, rollback, simulate, diagram (/v1/scenarios…)."""

from vpbx.api.entry import lambda_entry
from vpbx.api.routes import scenarios

app, handler = lambda_entry("scenarios", scenarios.router)
