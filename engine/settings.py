"""One settings class for every process, read from the environment (and `.env`) on first use.

`DATABASE_URL` and `REDIS_URL` name external servers. Left unset, the product uses the embedded
servers that `xeno up` starts under the data folder, so these properties always give an address.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "change-me"  # noqa: S105 - the value we refuse outside development


class Settings(BaseSettings):
    """Everything a Xeno process can be configured with; each field is an environment variable."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(Path(".xeno"), validation_alias="XENO_DATA_DIR")
    secret_key: str = Field(PLACEHOLDER_SECRET, validation_alias="XENO_SECRET_KEY")

    database_url: str | None = None
    redis_url: str | None = None
    db_pool_size: int = 10
    db_max_overflow: int = 10
    redis_max_connections: int = 64

    embedded_postgres_port: int = 54329
    embedded_redis_port: int = 63799
    embedded_redis_appendfsync: Literal["always", "everysec", "no"] = "everysec"

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    dagster_port: int = 3000
    dagster_database: str = "dagster"

    stream_prefix: str = "xeno"
    ingest_batch_size: int = 200
    ingest_claim_idle_ms: int = 60_000
    max_request_bytes: int = 4 * 1024 * 1024

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.environment == "production" and self.secret_key == PLACEHOLDER_SECRET:
            raise ValueError("XENO_SECRET_KEY must be set to a real secret outside development")
        return self

    @property
    def uses_embedded_postgres(self) -> bool:
        return self.database_url is None

    @property
    def uses_embedded_redis(self) -> bool:
        return self.redis_url is None

    @property
    def postgres_url(self) -> str:
        """The Postgres address as `postgresql://...`, the embedded server's when none is set."""
        if self.database_url is not None:
            return self.database_url
        return f"postgresql://postgres@127.0.0.1:{self.embedded_postgres_port}/xeno"

    @property
    def sqlalchemy_url(self) -> str:
        """The Postgres address for SQLAlchemy with the psycopg 3 driver."""
        scheme, rest = self.postgres_url.split("://", 1)
        return f"postgresql+psycopg://{rest}" if scheme.startswith("postgres") else self.postgres_url

    @property
    def dagster_postgres_url(self) -> str:
        """Dagster's own storage: the `dagster` database on the same server, through psycopg2."""
        rest = self.postgres_url.split("://", 1)[1]
        server = rest.rsplit("/", 1)[0]
        return f"postgresql+psycopg2://{server}/{self.dagster_database}"

    @property
    def redis_address(self) -> str:
        if self.redis_url is not None:
            return self.redis_url
        return f"redis://127.0.0.1:{self.embedded_redis_port}/0"

    def stream(self, name: str) -> str:
        """The Redis key of a named stream (`ingest`, `delivery`, `receipts`, ...)."""
        return f"{self.stream_prefix}:{name}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, built once on first use."""
    return Settings()
