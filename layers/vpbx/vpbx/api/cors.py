"""CORS for browser clients (SaaS frontends): which origins may read responses, and the preflight answer.

Origins come from VPBX_CORS_ORIGINS (comma-separated; `*` allows any; empty: no browser origin). Both the
functions (on their responses) and the local gateway (preflights and its own error responses) use these rules;
on AWS, API Gateway answers preflights itself (template.yaml `Cors`) and adds the header to its gateway responses.
Credentials are never allowed: browsers send the API key as a header, not a cookie.
"""

import os

ORIGINS_ENV = "VPBX_CORS_ORIGINS"
ALLOWED_HEADERS = "Content-Type, X-Api-Key, If-Match, Idempotency-Key"
EXPOSED_HEADERS = "ETag, Location, Retry-After, X-Request-Id"
PREFLIGHT_MAX_AGE_SECONDS = 600


def configured_origins(environ: dict[str, str] | None = None) -> tuple[str, ...]:
    value = (os.environ if environ is None else environ).get(ORIGINS_ENV, "")
    return tuple(origin.strip().rstrip("/") for origin in value.split(",") if origin.strip())


def allowed_origin(origin: str | None, allowed: tuple[str, ...]) -> str | None:
    """The Access-Control-Allow-Origin value for a request from `origin`, or None when it may not read."""
    if not origin:
        return None
    if "*" in allowed:
        return "*"
    return origin if origin.rstrip("/") in allowed else None


def response_headers(origin: str | None, allowed: tuple[str, ...]) -> dict[str, str]:
    """Headers every response to `origin` carries (empty when the origin is not allowed)."""
    allow = allowed_origin(origin, allowed)
    if allow is None:
        return {"Vary": "Origin"} if allowed else {}
    return {"Access-Control-Allow-Origin": allow, "Access-Control-Expose-Headers": EXPOSED_HEADERS, "Vary": "Origin"}


def preflight_headers(origin: str | None, allowed: tuple[str, ...], methods: list[str]) -> dict[str, str]:
    """The answer to OPTIONS from `origin` on a path whose methods are `methods`."""
    headers = response_headers(origin, allowed)
    if "Access-Control-Allow-Origin" in headers:
        headers |= {
            "Access-Control-Allow-Methods": ", ".join(sorted({*methods, "OPTIONS"})),
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
        }
    return headers
