"""Who may act in a tenant: the roles an API key carries and the operator's pseudo-tenant."""

from typing import Literal

Role = Literal["operator", "admin", "editor", "viewer", "telephony"]
TENANT_ROLES: tuple[Role, ...] = ("admin", "editor", "viewer", "telephony")
OPERATOR_TENANT = "_platform"  # the pseudo-tenant operator keys belong to
