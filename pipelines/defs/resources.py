"""The product's Postgres and Redis as a Dagster resource, connected as the settings (environment) say; a process
that uses it logs as the product's other processes do and is traced when the OTEL_* environment asks for it
(`engine.observability`)."""

import dagster as dg
import redis
from sqlalchemy import Engine

from engine.connections import get_engine, get_redis
from engine.observability import observe_process
from engine.settings import Settings, get_settings


class XenoResource(dg.ConfigurableResource):
    """Pools are opened on first use in the process that runs the step, never at import."""

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        observe_process("xeno-pipelines", self.settings())

    def settings(self) -> Settings:
        return get_settings()

    def db(self) -> Engine:
        return get_engine()

    def redis(self) -> redis.Redis:
        return get_redis()
