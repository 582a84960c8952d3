"""Scenario routes: drafts, validate, publish, versions, rollback, simulate, diagram (/v1/scenarios…)."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from vpbx.api.app import build_resolver
from vpbx.api.routes import scenarios

logger = Logger(service="scenarios")
tracer = Tracer(service="scenarios")
metrics = Metrics(namespace="vpbx", service="scenarios")
app = build_resolver(scenarios.router, logger=logger)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
