"""Operator/tenant-admin routes (/v1/tenants…) and the public docs (/v1/openapi.json, /v1/docs)."""

from vpbx.api.entry import lambda_entry
from vpbx.api.routes import admin, docs

app, handler = lambda_entry("admin", admin.router, docs.router)
