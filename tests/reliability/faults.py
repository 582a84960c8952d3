"""DynamoDB faults injected into the repository's own boto3 client, below botocore's retry loop.

A `before-send` hook answers chosen operations with a throttling error, a 500, or — `lost` — forwards the request to
the server first and then reports a 500, so the write is applied but the caller never hears it (the retry then meets
its own condition). botocore's standard retry mode sees these exactly as it would see DynamoDB's; its backoff sleeps
are recorded instead of slept.
"""

import json
from collections import Counter
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import botocore.endpoint
import pytest
import requests
from botocore.awsrequest import AWSResponse, HTTPHeaders

ERROR_TYPES = {
    "throughput": (400, "ProvisionedThroughputExceededException", "The level of configured provisioned throughput..."),
    "throttling": (400, "ThrottlingException", "Rate of requests exceeds the allowed throughput."),
    "internal": (500, "InternalServerError", "Internal server error"),
    "lost": (500, "InternalServerError", "Internal server error"),
}


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


@dataclass
class _Plan:
    operation: str
    kind: str
    remaining: int
    match: str | None


class DynamoFaults:
    def __init__(self, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.plans: list[_Plan] = []
        self.injected: Counter[tuple[str, str]] = Counter()
        self.backoffs: list[float] = []
        self.calls: Counter[str] = Counter()
        client.meta.events.register("before-send.dynamodb", self._before_send)
        self._client = client
        monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=self.backoffs.append))

    def fail(self, operation: str, kind: str, times: int, match: str | None = None) -> None:
        """The next `times` requests of `operation` (e.g. "TransactWriteItems") fail with `kind`; with `match`, only
        requests whose body contains it (e.g. "SCENARIO#" to spare the authorizer's key lookups)."""
        assert kind in ERROR_TYPES
        self.plans.append(_Plan(operation, kind, times, match))

    def clear(self) -> None:
        self.plans.clear()

    def close(self) -> None:
        self._client.meta.events.unregister("before-send.dynamodb", self._before_send)

    def _before_send(self, request: Any, **_: Any) -> AWSResponse | None:
        target = request.headers.get("X-Amz-Target", b"")
        operation = (target.decode() if isinstance(target, bytes) else str(target)).rsplit(".", 1)[-1]
        self.calls[operation] += 1
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
        plan = next(
            (
                p
                for p in self.plans
                if p.operation == operation and p.remaining > 0 and (p.match is None or p.match in body)
            ),
            None,
        )
        if plan is None:
            return None
        plan.remaining -= 1
        self.injected[(operation, plan.kind)] += 1
        if plan.kind == "lost":
            requests.post(request.url, data=request.body, headers=dict(request.headers), timeout=10)
        status, code, message = ERROR_TYPES[plan.kind]
        error = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}).encode()
        headers = HTTPHeaders()
        headers["Content-Type"] = "application/x-amz-json-1.0"
        headers["x-amzn-RequestId"] = "fault-injected"
        return AWSResponse(request.url, status, headers, _Raw(error))
