"""Operator/tenant-admin routes (/v1/tenants…) and the public docs (/v1/openapi.json, /v1/docs)."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from vpbx.api.app import build_resolver
from vpbx.api.routes import admin, docs

logger = Logger(service="admin")
tracer = Tracer(service="admin")
metrics = Metrics(namespace="vpbx", service="admin")
app = build_resolver(admin.router, docs.router, logger=logger)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
