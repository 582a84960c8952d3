"""One Lambda entry point for every API function: logger, tracer, metrics and the resolver wired the same way.

app, handler = lambda_entry("directory", directory.router)
"""

import logging
import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext

from vpbx.api.app import LogKeys, VpbxResolver, build_resolver

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]

# Reads and rejected requests add no metrics; that is expected, not worth a warning per invocation.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def lambda_entry(service: str, *routers: Router, log_keys: LogKeys | None = None) -> tuple[VpbxResolver, Handler]:
    """The resolver for `routers` and the Lambda handler around it.

    Every log line carries the function's service, the request's correlation id, and (appended by the resolver) the
    caller's tenant_id and key_id; `log_keys(event, body)` adds request-specific keys such as call_id, reading the
    body the resolver's guard has already checked and parsed (never the raw text). The package's own loggers
    (`vpbx.*`, used by services) share the same formatter, so their lines carry those keys too.
    """
    logger = Logger(service=service)
    tracer = Tracer(service=service)
    metrics = Metrics(namespace="vpbx", service=service)
    app = build_resolver(*routers, logger=logger, log_keys=log_keys)
    logging.getLogger("vpbx")  # register the package logger before copying the formatter to it
    copy_config_to_registered_loggers(source_logger=logger, include={"vpbx"})

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
    @tracer.capture_lambda_handler
    @metrics.log_metrics(raise_on_empty_metrics=False)
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return app.resolve(event, context)

    return app, handler
