"""Process-wide collaborators every route and the authorizer use: built once from settings, swappable in tests."""

# Builders import what they build: a function loads the CRM client, boto3 or usage plans only when it first uses them.
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from vpbx.api.settings import Settings, get_settings

if TYPE_CHECKING:
    from vpbx.service.crm import CrmClient
    from vpbx.service.state_tokens import StateTokens
    from vpbx.service.usage_plans import UsagePlans
    from vpbx.store.idempotency import IdempotencyStore
    from vpbx.store.ports import Repository

T = TypeVar("T")
logger = logging.getLogger(__name__)


class Provided(Generic[T]):
    """One lazily built instance per process; `install` swaps it (tests, local server), None drops it."""

    def __init__(self, build: Callable[[Settings], T]) -> None:
        self._build = build
        self._instance: T | None = None

    def get(self) -> T:
        if self._instance is None:
            self._instance = self._build(get_settings())
        return self._instance

    def install(self, instance: T | None) -> None:
        self._instance = instance


def build_dynamo_repository(settings: Settings) -> Repository:
    from vpbx.store.dynamodb import DynamoRepository

    return DynamoRepository(table_name=settings.table_name, endpoint_url=settings.dynamodb_endpoint)


def build_usage_plans(settings: Settings) -> UsagePlans:
    """Per-tenant usage keys in API Gateway when USAGE_PLAN_ID is set, otherwise none (local server, tests)."""
    from vpbx.service.usage_plans import ApiGatewayUsagePlans, NoUsagePlans

    if settings.usage_plan_id is None:
        return NoUsagePlans()
    return ApiGatewayUsagePlans(settings.usage_plan_id)


def build_crm_client(settings: Settings) -> CrmClient:
    from vpbx.service.crm import CrmClient

    return CrmClient(allow_insecure=settings.allow_insecure_crm)


def build_idempotency_store(settings: Settings) -> IdempotencyStore:
    from vpbx.store.idempotency import DynamoIdempotencyStore

    return DynamoIdempotencyStore(table_name=settings.table_name, endpoint_url=settings.dynamodb_endpoint)


def build_state_tokens(settings: Settings) -> StateTokens:
    """From the secret's value when given (local server), else from Secrets Manager — fetched on first use, again on
    a token signed with a key id this process does not know (a rotation); without either, no tokens are issued."""
    from vpbx.service.state_tokens import StateTokenKeys, StateTokens

    given, secret_id = settings.state_token_secret, settings.state_token_secret_id
    if given is not None:
        keys = StateTokenKeys.from_secret(given)
        return StateTokens(lambda: keys)
    if secret_id is None:
        return StateTokens(lambda: None)

    def fetch() -> StateTokenKeys:
        from aws_lambda_powertools.utilities import parameters

        from vpbx.domain.errors import Unavailable

        try:
            value = parameters.get_secret(secret_id, max_age=STATE_TOKEN_SECRET_MAX_AGE)
        except parameters.exceptions.GetParameterError:
            logger.exception("the state-token secret could not be read")
            raise Unavailable("the state-token secret is unavailable; retry later") from None
        return StateTokenKeys.from_secret(str(value))

    return StateTokens(fetch)


STATE_TOKEN_SECRET_MAX_AGE = 60  # seconds the fetched secret is trusted before an unknown key id fetches it again

repository: Provided[Repository] = Provided(build_dynamo_repository)
usage_plans: Provided[UsagePlans] = Provided(build_usage_plans)
crm_client: Provided[CrmClient] = Provided(build_crm_client)
idempotency_store: Provided[IdempotencyStore] = Provided(build_idempotency_store)
state_tokens: Provided[StateTokens] = Provided(build_state_tokens)

get_repository = repository.get
set_repository = repository.install
get_usage_plans = usage_plans.get
set_usage_plans = usage_plans.install
get_crm_client = crm_client.get
get_idempotency_store = idempotency_store.get
set_idempotency_store = idempotency_store.install
get_state_tokens = state_tokens.get
set_state_tokens = state_tokens.install
