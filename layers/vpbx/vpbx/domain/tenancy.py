"""Who may act in a tenant: the roles an API key carries and the operator's pseudo-tenant."""

from dataclasses import dataclass
from typing import Literal

Role = Literal["operator", "admin", "editor", "viewer", "telephony"]
TENANT_ROLES: tuple[Role, ...] = ("admin", "editor", "viewer", "telephony")
OPERATOR_TENANT = "_platform"  # the pseudo-tenant operator keys belong to


@dataclass(frozen=True)
class Caller:
    """Who is calling: the tenant and key the authorizer vouched for, and the key's role."""

    tenant_id: str
    key_id: str
    role: Role

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"
