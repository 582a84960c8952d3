"""Domain and store errors. They know nothing about HTTP; `vpbx.api.errors` maps each to a status code."""

from typing import Any


class VpbxError(Exception):
    code = "error"

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class NotFound(VpbxError):
    """The object does not exist for this tenant (another tenant's object is indistinguishable from none)."""

    code = "not_found"


class AlreadyExists(VpbxError):
    """A uniqueness rule would be broken: extension per tenant, phone number platform-wide, id per tenant."""

    code = "already_exists"


class VersionMismatch(VpbxError):
    """Optimistic locking lost: the caller's version (If-Match) is not the stored one."""

    code = "precondition_failed"


class PreconditionRequired(VpbxError):
    """A versioned write came without the version it expects (no If-Match)."""

    code = "precondition_required"


class InUse(VpbxError):
    """The object is referenced by published scenarios and cannot be deleted."""

    code = "in_use"


class Conflict(VpbxError):
    """The request contradicts the current state (e.g. a stale call event sequence)."""

    code = "conflict"


class InvalidScenario(VpbxError):
    """Publishing or simulating a scenario that has validation errors; details are the problems."""

    code = "invalid_scenario"


class InvalidInput(VpbxError):
    code = "invalid_input"


class InvalidField(VpbxError):
    """A body field that passed its shape checks but cannot be read in context (a national phone number for a tenant
    without a default country): a validation error like the body's own, details locate the field."""

    code = "validation_error"


class Forbidden(VpbxError):
    code = "forbidden"


class Unavailable(VpbxError):
    """A dependency (DynamoDB) is throttling or failing transiently; the client may retry."""

    code = "unavailable"
