"""State tokens: sealed for one tenant, call and seq; every alteration is refused; key rotation."""

import base64
import json
import zlib

import pytest
from vpbx.service.state_tokens import (
    MAX_PAYLOAD_BYTES,
    InvalidStateToken,
    StateTokenKeys,
    StateTokens,
)

SECRET = "s" * 40
OTHER_SECRET = "o" * 40
PAYLOAD = b'{"state": {"seq": 3}}'


def tokens(current: str = "k1", **keys: str) -> StateTokens:
    return StateTokens.of(StateTokenKeys({k: v.encode() for k, v in (keys or {"k1": SECRET}).items()}, current))


def test_a_token_opens_for_its_tenant_call_and_seq() -> None:
    sealer = tokens()
    token = sealer.seal("acme", "call-1", 3, PAYLOAD)
    assert token.startswith("v1.k1.3.")
    assert sealer.open("acme", "call-1", 3, token) == PAYLOAD


@pytest.mark.parametrize(
    ("tenant", "call_id", "seq"),
    [("globex", "call-1", 3), ("acme", "call-2", 3), ("acme", "call-1", 4), ("acme", "call-1", 2)],
    ids=["other tenant", "other call", "later seq", "earlier seq"],
)
def test_a_token_is_refused_for_another_tenant_call_or_seq(tenant: str, call_id: str, seq: int) -> None:
    sealer = tokens()
    token = sealer.seal("acme", "call-1", 3, PAYLOAD)
    with pytest.raises(InvalidStateToken) as refused:
        sealer.open(tenant, call_id, seq, token)
    assert refused.value.code == "invalid_state_token"
    assert refused.value.details[0]["loc"] == ["body", "state_token"]


def _swap(token: str, index: int, value: str) -> str:
    parts = token.split(".")
    parts[index] = value
    return ".".join(parts)


def _forged_payload(token: str) -> str:
    body = base64.urlsafe_b64encode(zlib.compress(b'{"state": {"seq": 3, "status": "connected"}}')).rstrip(b"=")
    return _swap(token, 3, body.decode())


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: _forged_payload(token),
        lambda token: _swap(token, 2, "4"),  # the seq in the clear, and the event's seq with it
        lambda token: _swap(token, 2, "03"),
        lambda token: _swap(token, 1, "k2"),
        lambda token: _swap(token, 0, "v2"),
        lambda token: _swap(token, 4, "A" * 43),
        lambda token: token[:-2],
        lambda token: token + ".x",
        lambda token: "garbage",
        lambda token: _swap(token, 4, "!!"),
    ],
    ids=[
        "payload",
        "seq",
        "seq padded",
        "key id",
        "version",
        "mac",
        "mac cut",
        "extra part",
        "garbage",
        "mac not base64",
    ],
)
def test_every_alteration_is_refused(tamper: object) -> None:
    sealer = tokens()
    token = sealer.seal("acme", "call-1", 3, PAYLOAD)
    altered = tamper(token)  # type: ignore[operator]
    seq = int(altered.split(".")[2]) if altered.count(".") >= 2 and altered.split(".")[2].isdigit() else 3
    with pytest.raises(InvalidStateToken):
        sealer.open("acme", "call-1", seq, altered)


def test_a_token_of_another_deployment_is_refused() -> None:
    token = tokens(k1=OTHER_SECRET).seal("acme", "call-1", 3, PAYLOAD)
    with pytest.raises(InvalidStateToken, match="not issued"):
        tokens().open("acme", "call-1", 3, token)


def test_rotation_accepts_the_previous_key_and_signs_with_the_new() -> None:
    old_token = tokens().seal("acme", "call-1", 3, PAYLOAD)
    rotated = tokens("k2", k1=SECRET, k2=OTHER_SECRET)
    assert rotated.open("acme", "call-1", 3, old_token) == PAYLOAD
    new_token = rotated.seal("acme", "call-1", 3, PAYLOAD)
    assert new_token.startswith("v1.k2.")
    with pytest.raises(InvalidStateToken, match="unknown"):
        tokens().open("acme", "call-1", 3, new_token)  # a function that has not loaded k2 yet, and cannot


def test_an_unknown_key_id_reloads_the_keys_at_most_once_a_minute() -> None:
    loads: list[StateTokenKeys] = []
    clock = [0.0]
    versions = [StateTokenKeys({"k1": SECRET.encode()}, "k1")]

    def load() -> StateTokenKeys:
        loads.append(versions[-1])
        return versions[-1]

    sealer = StateTokens(load, monotonic=lambda: clock[0])
    sealer.seal("acme", "call-1", 1, PAYLOAD)
    versions.append(StateTokenKeys({"k1": SECRET.encode(), "k2": OTHER_SECRET.encode()}, "k2"))
    from_rotated = tokens("k2", k1=SECRET, k2=OTHER_SECRET).seal("acme", "call-1", 1, PAYLOAD)
    with pytest.raises(InvalidStateToken):  # loaded a moment ago: no reload yet
        sealer.open("acme", "call-1", 1, from_rotated)
    clock[0] = 61.0
    assert sealer.open("acme", "call-1", 1, from_rotated) == PAYLOAD
    assert len(loads) == 2


def test_a_payload_that_inflates_too_far_is_refused_even_when_signed() -> None:
    sealer = tokens()
    bomb = sealer.seal("acme", "call-1", 1, b"0" * (MAX_PAYLOAD_BYTES + 1))
    with pytest.raises(InvalidStateToken, match="malformed"):
        sealer.open("acme", "call-1", 1, bomb)


def test_secret_formats() -> None:
    generated = StateTokenKeys.from_secret(StateTokenKeys.generate())
    assert generated.current == "k1"
    assert len(generated.keys["k1"]) >= 32
    bare = StateTokenKeys.from_secret("x" * 32)
    assert bare.current == "k0"
    rotated = StateTokenKeys.from_secret(json.dumps({"current": "k2", "k1": "a" * 32, "k2": "b" * 32}))
    assert set(rotated.keys) == {"k1", "k2"}
    assert rotated.current == "k2"
    with pytest.raises(ValueError, match="shorter"):
        StateTokenKeys.from_secret("short")
    with pytest.raises(ValueError, match="current"):
        StateTokenKeys.from_secret(json.dumps({"k1": "a" * 32}))
    with pytest.raises(ValueError, match="not among"):
        StateTokenKeys.from_secret(json.dumps({"current": "k9", "k1": "a" * 32}))
