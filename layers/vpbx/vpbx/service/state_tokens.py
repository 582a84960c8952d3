"""State tokens: a call's state, sealed for telephony to echo with its next event (docs/CALLS.md, "State tokens").

A decision carries `state_token`; telephony sends it back with the outcome, and the service advances the call from it
with one conditional write instead of reading the call first. The token is not secret (it holds the call's routing
state, which telephony sees anyway), but it is integrity-protected: an HMAC-SHA256 with a deployment secret over the
tenant id, the call id, the decision's seq and the payload, so a token is only ever accepted for the call and decision
it was issued for, and nobody without the secret can make one.

    v1.<key id>.<seq>.<payload>.<mac>      payload: base64url(zlib(JSON)), mac: base64url(32 bytes)

The key id names the secret that signed it, so a rotation (a new current key, the previous one still accepted for a
while) never refuses a token in flight. Secrets come from StateTokenKeys (Secrets Manager in AWS, a local file or an
environment variable for `vpbx serve`).
"""

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
import zlib
from collections.abc import Callable, Mapping

from vpbx.domain.errors import InvalidInput

logger = logging.getLogger(__name__)

TOKEN_VERSION = "v1"  # noqa: S105 - a format version, not a password
MAX_TOKEN_LENGTH = 4096  # CallEvent.state_token's bound; a token that would be longer is not issued
MAX_PAYLOAD_BYTES = 64 * 1024  # a payload never inflates past this (a forged deflate bomb is refused)
MIN_SECRET_BYTES = 32
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
CURRENT_KEY = "current"  # the secret JSON's entry naming the key that signs; every other entry is a key id → secret
REFRESH_INTERVAL_SECONDS = 60.0  # an unknown key id reloads the secret at most this often
_MAC_CONTEXT = b"vpbx.call-state." + TOKEN_VERSION.encode()


class InvalidStateToken(InvalidInput):
    """A state token that this deployment did not issue for this call and decision (forged, altered, another
    tenant's or call's, or for another seq): 400, nothing is read or written."""

    code = "invalid_state_token"

    def __init__(self, message: str) -> None:
        super().__init__(message, [{"loc": ["body", "state_token"], "msg": message, "type": "invalid_state_token"}])


class StateTokenKeys:
    """The secrets tokens are signed with: `current` signs, every key verifies (the previous one during a rotation)."""

    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        if current not in keys:
            raise ValueError(f"the current state-token key {current!r} is not among the keys")
        for key_id, secret in keys.items():
            if not KEY_ID_PATTERN.match(key_id):
                raise ValueError(f"state-token key id {key_id!r} must match {KEY_ID_PATTERN.pattern}")
            if len(secret) < MIN_SECRET_BYTES:
                raise ValueError(f"state-token key {key_id!r} is shorter than {MIN_SECRET_BYTES} bytes")
        self.keys = dict(keys)
        self.current = current

    @classmethod
    def from_secret(cls, text: str) -> "StateTokenKeys":
        """The secret's value: JSON `{"current": "<key id>", "<key id>": "<secret>", …}` (the template generates one
        key; a rotation adds one), or a bare secret string (key id `k0`)."""
        stripped = text.strip()
        if not stripped.startswith("{"):
            return cls({"k0": stripped.encode()}, "k0")
        entries = json.loads(stripped)
        if not isinstance(entries, dict) or not isinstance(entries.get(CURRENT_KEY), str):
            raise ValueError('the state-token secret must be JSON with "current" naming one of its keys')
        keys = {key_id: str(value).encode() for key_id, value in entries.items() if key_id != CURRENT_KEY}
        return cls(keys, entries[CURRENT_KEY])

    @staticmethod
    def generate() -> str:
        """A new secret value (the local server's first start)."""
        return json.dumps({CURRENT_KEY: "k1", "k1": secrets.token_urlsafe(48)})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class StateTokens:
    """Seals and opens state tokens with the deployment's keys.

    `load` returns the keys (fetched once, cached by the caller), or None when the deployment has no secret (then no
    token is issued or accepted); a token signed with a key id this process does not know makes it load again (at
    most every REFRESH_INTERVAL_SECONDS), so a rotation reaches warm functions."""

    def __init__(
        self, load: Callable[[], StateTokenKeys | None], *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._load = load
        self._monotonic = monotonic
        self._keys: StateTokenKeys | None = None
        self._loaded = False
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    @classmethod
    def of(cls, keys: StateTokenKeys) -> "StateTokens":
        return cls(lambda: keys)

    def _current_keys(self, refresh: bool = False) -> StateTokenKeys:
        with self._lock:
            stale = refresh and self._monotonic() - self._loaded_at >= REFRESH_INTERVAL_SECONDS
            if not self._loaded or stale:
                self._keys = self._load()
                self._loaded, self._loaded_at = True, self._monotonic()
        if self._keys is None:
            raise InvalidStateToken("this deployment issues no state tokens; report the event without one")
        return self._keys

    @property
    def issuing(self) -> bool:
        """Whether this deployment has a secret (the first use loads it)."""
        try:
            self._current_keys()
        except InvalidStateToken:
            return False
        return True

    def seal(self, tenant_id: str, call_id: str, seq: int, payload: bytes) -> str:
        keys = self._current_keys()
        body = _b64(zlib.compress(payload, 9))
        mac = self._mac(keys.keys[keys.current], keys.current, tenant_id, call_id, seq, body)
        return f"{TOKEN_VERSION}.{keys.current}.{seq}.{body}.{_b64(mac)}"

    def open(self, tenant_id: str, call_id: str, seq: int, token: str) -> bytes:
        """The payload of a token issued for this tenant, call and seq; InvalidStateToken otherwise."""
        parts = token.split(".")
        if len(parts) != 5 or parts[0] != TOKEN_VERSION:
            raise InvalidStateToken(f"not a {TOKEN_VERSION} state token")
        _, key_id, token_seq, body, mac_text = parts
        if token_seq != str(seq):
            raise InvalidStateToken(f"the state token is for decision {token_seq[:12]}, the event answers {seq}")
        secret = self._secret(key_id)
        try:
            mac = _unb64(mac_text)
        except (binascii.Error, ValueError):
            raise InvalidStateToken("the state token is malformed") from None
        if not hmac.compare_digest(mac, self._mac(secret, key_id, tenant_id, call_id, seq, body)):
            raise InvalidStateToken("the state token was not issued for this call and decision")
        return _inflate(body)

    def _secret(self, key_id: str) -> bytes:
        secret = self._current_keys().keys.get(key_id)
        if secret is None and KEY_ID_PATTERN.match(key_id):
            secret = self._current_keys(refresh=True).keys.get(key_id)
        if secret is None:
            raise InvalidStateToken("the state token's key is unknown (forged, or retired by a rotation)")
        return secret

    @staticmethod
    def _mac(secret: bytes, key_id: str, tenant_id: str, call_id: str, seq: int, body: str) -> bytes:
        signed = json.dumps([key_id, tenant_id, call_id, seq, body], separators=(",", ":")).encode()
        return hmac.new(secret, _MAC_CONTEXT + b"\n" + signed, hashlib.sha256).digest()


def _inflate(body: str) -> bytes:
    """Only reached with a valid MAC: the payload is ours; still bounded, whatever a key leak would let through."""
    try:
        inflater = zlib.decompressobj()
        payload = inflater.decompress(_unb64(body), MAX_PAYLOAD_BYTES)
    except (binascii.Error, ValueError, zlib.error):
        raise InvalidStateToken("the state token is malformed") from None
    if inflater.unconsumed_tail or not inflater.eof:
        raise InvalidStateToken("the state token is malformed")
    return payload
