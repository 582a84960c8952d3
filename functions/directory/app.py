"""Tenant directory routes: /v1/subscribers, /v1/numbers, /v1/schedules, /v1/caller-lists, /v1/queues."""

from vpbx.api.entry import lambda_entry
from vpbx.api.routes import directory

app, handler = lambda_entry("directory", directory.router)
