"""The repository every route and the authorizer use: built once per process, swappable in tests."""

from vpbx.api.settings import Settings, get_settings
from vpbx.store.ports import Repository

_repository: Repository | None = None


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
