"""The Lambda REQUEST authorizer: X-Api-Key → SHA-256 → stored key → IAM policy with the caller in its context.

Missing or unknown key → "Unauthorized" (API Gateway answers 401); revoked key → Deny policy (403). An Allow covers
the whole API (`arn…/<stage>/*/*`) so a cached decision is valid for every route; roles are checked by the functions.
"""

from typing import Any

from vpbx.service.keys import MAX_SECRET_LENGTH, hash_secret
from vpbx.store.models import ApiKey
from vpbx.store.ports import Repository

API_KEY_HEADER = "x-api-key"
UNAUTHORIZED = "Unauthorized"  # the exact message API Gateway turns into a 401


class Unauthorized(Exception):
    def __init__(self) -> None:
        super().__init__(UNAUTHORIZED)


def authorize(event: dict[str, Any], repository: Repository, usage_identifier_key: str | None = None) -> dict[str, Any]:
    """The authorizer's response for a REQUEST authorizer event; raises Unauthorized for a missing/unknown key.

    The usage identifier is the key's own (its tenant's per-tenant plan key), else `usage_identifier_key`.
    """
    secret = api_key_of(event)
    if secret is None:
        raise Unauthorized()
    key = repository.find_api_key(hash_secret(secret))
    if key is None:
        raise Unauthorized()
    resource = api_wide_resource(event.get("methodArn", ""))
    if not key.active:
        return policy(key, "Deny", resource, usage_identifier_key=None)
    return policy(key, "Allow", resource, key.usage_key or usage_identifier_key)


def api_key_of(event: dict[str, Any]) -> str | None:
    headers = event.get("headers") or {}
    for name, value in headers.items():
        if name.lower() == API_KEY_HEADER and isinstance(value, str):
            value = value.strip()
            return value if 0 < len(value) <= MAX_SECRET_LENGTH else None
    return None


def api_wide_resource(method_arn: str) -> str:
    """`arn:aws:execute-api:<region>:<account>:<api>/<stage>/<verb>/<path>` → `…/<api>/<stage>/*/*`."""
    api_and_stage = method_arn.split("/")[:2]
    if len(api_and_stage) < 2:
        return method_arn or "*"
    return "/".join([*api_and_stage, "*", "*"])


def policy(key: ApiKey, effect: str, resource: str, usage_identifier_key: str | None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "principalId": key.id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
        "context": {"tenant_id": key.tenant_id, "key_id": key.id, "role": key.role},
    }
    if usage_identifier_key:
        response["usageIdentifierKey"] = usage_identifier_key
    return response
