"""DynamoDB Streams → webhook events: call and scenario changes become signed deliveries; failures go to the retry
queue (service/webhook_delivery.py). Reports the first failed record so Lambda retries the batch from it."""

import logging
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext
from vpbx.api.deps import get_repository
from vpbx.service.webhook_delivery import WebhookDispatcher, build_dispatcher, handle_stream_batch, json_records

logger = Logger(service="dispatcher")
logging.getLogger("vpbx")
copy_config_to_registered_loggers(source_logger=logger, include={"vpbx"})
_dispatcher: WebhookDispatcher | None = None


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    global _dispatcher
    if _dispatcher is None:
        _dispatcher = build_dispatcher(get_repository())
    return handle_stream_batch(_dispatcher, json_records(event))
