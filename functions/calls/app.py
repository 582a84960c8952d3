"""Call routes: telephony's POST /v1/calls and /v1/calls/{call_id}/events; GET /v1/calls[/{call_id}] for tenants."""

import logging
import warnings
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext
from vpbx.api.app import build_resolver
from vpbx.api.routes import calls

logger = Logger(service="calls")
tracer = Tracer(service="calls")
app = build_resolver(calls.router, logger=logger)
logging.getLogger("vpbx")  # register the package logger so service logs share this formatter and its keys
copy_config_to_registered_loggers(source_logger=logger, include={"vpbx"})
# Reads and rejected requests add no metrics; that is expected, not worth a warning per invocation.
warnings.filterwarnings("ignore", message="No application metrics to publish")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@calls.metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(call_id=calls.call_id_of(event))
    return app.resolve(event, context)
