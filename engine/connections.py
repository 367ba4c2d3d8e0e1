"""The process's Postgres and Redis connection pools, opened once on first use and sized by settings.

Every pool makes a caller wait for a free connection (up to `POOL_TIMEOUT_S`) rather than fail when all are in
use: a burst of requests queues and slows down, and only a server that cannot be reached is an error.
"""

from __future__ import annotations

from functools import lru_cache

import psycopg
import redis
import redis.asyncio
from sqlalchemy import Connection, Engine, create_engine

from engine.settings import get_settings


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    """The SQLAlchemy engine (and its connection pool) for this process."""
    settings = get_settings()
    return create_engine(
        settings.sqlalchemy_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.pool_timeout_s,
        pool_pre_ping=True,
    )


def psycopg_connection(conn: Connection) -> psycopg.Connection:
    """The psycopg connection under a SQLAlchemy one, for what only the driver does (COPY)."""
    driver = conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    return driver


@lru_cache(maxsize=1)
def get_redis() -> redis.Redis:
    """The Redis client (and its connection pool) for this process."""
    settings = get_settings()
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_address, max_connections=settings.redis_max_connections, timeout=settings.pool_timeout_s
    )
    return redis.Redis.from_pool(pool)


@lru_cache(maxsize=1)
def get_async_redis() -> redis.asyncio.Redis:
    """The asyncio Redis client for this process's event loop (the API's request path)."""
    settings = get_settings()
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        settings.redis_address, max_connections=settings.redis_max_connections, timeout=settings.pool_timeout_s
    )
    return redis.asyncio.Redis.from_pool(pool)


def reset_connections() -> None:
    """Close the pools and forget them, so the next use opens new ones (after a fork or new settings)."""
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    if get_redis.cache_info().currsize:
        get_redis().close()
    get_engine.cache_clear()
    get_redis.cache_clear()
    get_async_redis.cache_clear()
