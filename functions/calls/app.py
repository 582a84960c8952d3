"""Call routes: telephony's POST /v1/calls and /v1/calls/{call_id}/events; GET /v1/calls[/{call_id}] for tenants; the
ACD's GET /v1/queues/{queue_id}/live and POST /v1/queues/{queue_id}/members/{extension}/pause|unpause."""

from collections.abc import Mapping
from typing import Any

from vpbx.api.entry import lambda_entry
from vpbx.api.routes import calls, queue_live


def call_log_keys(event: Mapping[str, Any], body: Any) -> dict[str, Any]:
    """The call a request is about: its path parameter, or the start body's call_id (already guarded and parsed)."""
    call_id = (event.get("pathParameters") or {}).get("call_id")
    if call_id is None and isinstance(body, dict):
        call_id = body.get("call_id")
    return {"call_id": call_id[:128] if isinstance(call_id, str) else None}


app, handler = lambda_entry("calls", calls.router, queue_live.router, log_keys=call_log_keys)
