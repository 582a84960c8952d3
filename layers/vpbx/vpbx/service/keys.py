"""API key secrets: generated once, shown once, stored only as their SHA-256."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from vpbx.domain.tenancy import Role
from vpbx.store.models import ApiKey

SECRET_PREFIX = "vpbx_"  # noqa: S105 - not a secret: makes leaked keys easy to spot (secret scanners, logs)
DISPLAY_PREFIX_LENGTH = len(SECRET_PREFIX) + 6
MAX_SECRET_LENGTH = 256  # anything longer is not ours; refuse before hashing


@dataclass(frozen=True)
class IssuedKey:
    """A freshly created key and its secret; the secret exists only in this response."""

    key: ApiKey
    secret: str


def generate_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_key_id() -> str:
    return "k" + secrets.token_hex(8)


def issue_key(
    tenant_id: str, role: Role, name: str, at: datetime, secret: str | None = None, usage_key: str | None = None
) -> IssuedKey:
    """A new key record (not yet stored) and its secret; pass `secret` only to bootstrap a known operator key."""
    secret = secret or generate_secret()
    record = ApiKey(
        id=new_key_id(),
        tenant_id=tenant_id,
        role=role,
        name=name,
        key_hash=hash_secret(secret),
        prefix=secret[:DISPLAY_PREFIX_LENGTH],
        created_at=at,
        usage_key=usage_key,
    )
    return IssuedKey(key=record, secret=secret)
