"""Call routes: telephony's POST /v1/calls and /v1/calls/{call_id}/events; GET /v1/calls[/{call_id}] for tenants."""

from typing import Any

from vpbx.api.entry import lambda_entry
from vpbx.api.routes import calls


def call_log_keys(event: dict[str, Any]) -> dict[str, Any]:
    return {"call_id": calls.call_id_of(event)}


app, handler = lambda_entry("calls", calls.router, log_keys=call_log_keys)
