"""The repository and usage plans every route and the authorizer use: built once per process, swappable in tests."""

from vpbx.api.settings import Settings, get_settings
from vpbx.service.usage_plans import ApiGatewayUsagePlans, NoUsagePlans, UsagePlans
from vpbx.store.ports import Repository

_repository: Repository | None = None
_usage_plans: UsagePlans | None = None


def get_repository() -> Repository:
    """The process-wide repository (DynamoDB unless a test or the local server installed another)."""
    global _repository
    if _repository is None:
        _repository = build_dynamo_repository(get_settings())
    return _repository


def set_repository(repository: Repository | None) -> None:
    """Install a repository (tests: the in-memory fake) or, with None, drop it so the next call builds a fresh one."""
    global _repository
    _repository = repository


def build_dynamo_repository(settings: Settings) -> Repository:
    # Imported here so that handlers running on a fake never load boto3.
    from vpbx.store.dynamodb import DynamoRepository

    return DynamoRepository(table_name=settings.table_name, endpoint_url=settings.dynamodb_endpoint)


def get_usage_plans() -> UsagePlans:
    """Per-tenant usage keys in API Gateway when USAGE_PLAN_ID is set, otherwise none (local server, tests)."""
    global _usage_plans
    if _usage_plans is None:
        _usage_plans = build_usage_plans(get_settings())
    return _usage_plans


def set_usage_plans(usage_plans: UsagePlans | None) -> None:
    """Install usage plans (tests) or, with None, drop them so the next call builds them from settings again."""
    global _usage_plans
    _usage_plans = usage_plans


def build_usage_plans(settings: Settings) -> UsagePlans:
    if settings.usage_plan_id is None:
        return NoUsagePlans()
    return ApiGatewayUsagePlans(settings.usage_plan_id)
