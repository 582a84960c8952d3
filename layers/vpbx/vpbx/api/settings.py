"""Process settings read from the environment once (Lambda configuration or the local server)."""

import os
from functools import lru_cache

from pydantic import ConfigDict, Field

from vpbx.domain.base import LazyModel

DEFAULT_MAX_BODY_BYTES = 512 * 1024
INSECURE_CRM_ENV = "VPBX_ALLOW_INSECURE_CRM"
STATE_TOKEN_SECRET_ENV = "VPBX_STATE_TOKEN_SECRET"  # noqa: S105 - a variable name; its value: local server, tests
STATE_TOKEN_SECRET_ID_ENV = "STATE_TOKEN_SECRET_ID"  # noqa: S105 - a variable name; AWS: template.yaml
DEFAULT_FUNCTION_MEMORY_MB = 512  # the template's Globals; what `vpbx serve` and tests assume outside Lambda
DEFAULT_VERSION_CACHE_SHARE = 0.25  # of the function's memory, for compiled scenarios (service/version_cache.py)


class Settings(LazyModel):
    model_config = ConfigDict(frozen=True)

    table_name: str = "vpbx"
    dynamodb_endpoint: str | None = None  # set locally (moto server); unset in AWS
    allow_insecure_crm: bool = False  # let external_routing call http:// CRMs (local development only)
    usage_identifier_key: str | None = None  # API Gateway usage-plan key the authorizer hands back
    usage_plan_id: str | None = None  # plan each new tenant's usage key joins; unset → no per-tenant keys
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    state_token_secret: str | None = Field(default=None, repr=False)  # wins over the secret id
    state_token_secret_id: str | None = None  # neither set: decisions carry no state token
    function_memory_mb: int = Field(default=DEFAULT_FUNCTION_MEMORY_MB, ge=128)  # AWS_LAMBDA_FUNCTION_MEMORY_SIZE
    version_cache_share: float = Field(default=DEFAULT_VERSION_CACHE_SHARE, gt=0, le=0.6)

    @property
    def version_cache_bytes(self) -> int:
        """The memory compiled scenarios may take in one function instance (estimated, service/version_cache.py)."""
        return int(self.function_memory_mb * 1024 * 1024 * self.version_cache_share)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        return cls(
            table_name=env.get("TABLE_NAME", "vpbx"),
            dynamodb_endpoint=env.get("DYNAMODB_ENDPOINT") or None,
            allow_insecure_crm=flag(env.get(INSECURE_CRM_ENV, "")),
            usage_identifier_key=env.get("USAGE_IDENTIFIER_KEY") or None,
            usage_plan_id=env.get("USAGE_PLAN_ID") or None,
            max_body_bytes=int(env.get("VPBX_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)),
            state_token_secret=env.get(STATE_TOKEN_SECRET_ENV) or None,
            state_token_secret_id=env.get(STATE_TOKEN_SECRET_ID_ENV) or None,
            function_memory_mb=int(env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") or DEFAULT_FUNCTION_MEMORY_MB),
            version_cache_share=float(env.get("VPBX_VERSION_CACHE_SHARE") or DEFAULT_VERSION_CACHE_SHARE),
        )


def flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
