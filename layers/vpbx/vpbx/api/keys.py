"""Re-export: API key secrets live in vpbx.service.keys (below api/, so services need not import api/)."""

from vpbx.service.keys import (
    DISPLAY_PREFIX_LENGTH,
    MAX_SECRET_LENGTH,
    SECRET_PREFIX,
    IssuedKey,
    generate_secret,
    hash_secret,
    issue_key,
    new_key_id,
)

__all__ = [
    "DISPLAY_PREFIX_LENGTH",
    "MAX_SECRET_LENGTH",
    "SECRET_PREFIX",
    "IssuedKey",
    "generate_secret",
    "hash_secret",
    "issue_key",
    "new_key_id",
]
