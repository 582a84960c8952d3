"""`Idempotency-Key` on POST creates and publish: a retry with the same key and body gets the first answer again.

    @router.post("/v1/schedules", middlewares=[idempotent], ...)
    def create_schedule(body: ..., idempotency_key: IdempotencyKey = None) -> ...

The key is the client's (a UUID per logical request is best), scoped to the caller's tenant and kept 24 hours. The
first request with a key claims it (vpbx.store.idempotency: one conditional write) and runs; its 2xx answer (status,
headers, body) is kept and replayed, with `Idempotent-Replayed: true`, to every retry with the same method, path and
body. The same key on another request is 422 `idempotency_key_reused`; a retry while the first request still runs is
409 `idempotency_key_in_use`. A request that fails (4xx/5xx) gives its key up, so it can be retried as it is.
Without the header nothing changes.
"""

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header

from vpbx.api.context import current_caller
from vpbx.api.deps import get_idempotency_store
from vpbx.api.errors import RequestInvalid
from vpbx.domain.errors import Conflict
from vpbx.store.idempotency import Claim, IdempotencyRecord, StoredResponse

IDEMPOTENCY_KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # visible ASCII, as HTTP header values go

# Read by `idempotent`; declared on the handler so the spec documents it and a malformed key is a located 422.
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=IDEMPOTENCY_KEY,
        pattern=_KEY_PATTERN,
        description="Makes a retry safe: the first answer to this key (per tenant, 24 h) is replayed to a retry with "
        "the same body, marked `Idempotent-Replayed: true`; the same key with another body is 422 "
        "idempotency_key_reused, a retry while the first request runs is 409 idempotency_key_in_use. "
        "Use a new UUID for each logical request.",
        examples=["5f0c7a4e-2b1d-4c8e-9a51-3f6d2e7b9c10"],
    ),
]


class IdempotencyKeyReused(RequestInvalid):
    code = "idempotency_key_reused"


class IdempotencyKeyInUse(Conflict):
    code = "idempotency_key_in_use"


def idempotent(app: Any, next_middleware: Any) -> Response[Any]:
    """Route middleware: replay the first answer to an Idempotency-Key, or run the route once and keep its answer."""
    key = _header(app, IDEMPOTENCY_KEY)
    if key is None:
        response: Response[Any] = next_middleware(app)
        return response
    claim = Claim(tenant_id=current_caller(app).tenant_id, key=key, token=uuid.uuid4().hex)
    fingerprint = _fingerprint(app.current_event)
    store = get_idempotency_store()
    earlier = store.claim(claim, fingerprint, datetime.now(UTC))
    if earlier is not None:
        return _replay(earlier, fingerprint)
    try:
        response = next_middleware(app)
    except BaseException:
        store.release(claim)
        raise
    if 200 <= response.status_code < 300:
        store.complete(claim, _stored(app, response), datetime.now(UTC))
    else:
        store.release(claim)
    return response


def _header(app: Any, name: str) -> str | None:
    value: str | None = app.current_event.get_header_value(name, default_value=None, case_sensitive=False)
    return value


def _fingerprint(event: Any) -> str:
    """The request a key was first used for: method, path and body (JSON compared by value, not by spacing)."""
    body = event.body or ""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")) if body else ""
    except ValueError:
        canonical = body
    return hashlib.sha256(f"{event.http_method.upper()} {event.path}\n{canonical}".encode()).hexdigest()


def _replay(earlier: IdempotencyRecord, fingerprint: str) -> Response[Any]:
    if earlier.fingerprint is not None and earlier.fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used for another request (method, path or body differ); use a new key",
            [{"loc": ["header", IDEMPOTENCY_KEY], "msg": "key used for another request", "type": "idempotency"}],
        )
    if earlier.response is None:
        raise IdempotencyKeyInUse("A request with this Idempotency-Key is still running; retry in a moment")
    stored = earlier.response
    return Response(status_code=stored.status, body=stored.body, headers={**stored.headers, REPLAYED: "true"})


def _stored(app: Any, response: Response[Any]) -> StoredResponse:
    body = response.body if isinstance(response.body, str) else app._serializer(response.body)
    headers = {name: value for name, value in response.headers.items() if isinstance(value, str)}
    return StoredResponse(status=response.status_code, headers=headers, body=body)
