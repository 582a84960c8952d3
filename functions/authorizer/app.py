"""API Gateway REQUEST authorizer: X-Api-Key → tenant, key id and role in the request context."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from vpbx.api.authorizer import authorize
from vpbx.api.deps import get_repository
from vpbx.api.settings import get_settings

logger = Logger(service="authorizer")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Unauthorized (missing/unknown key) propagates: its message "Unauthorized" is what makes API Gateway answer 401.
    return authorize(event, get_repository(), get_settings().usage_identifier_key)
