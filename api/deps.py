"""Dependency aliases, so route signatures read as plain types (`Db`, `RedisClient`, `AppSettings`)."""

from __future__ import annotations

from typing import Annotated

import redis
from fastapi import Depends
from sqlalchemy import Engine

from engine.connections import get_engine, get_redis
from engine.settings import Settings, get_settings

Db = Annotated[Engine, Depends(get_engine)]
RedisClient = Annotated[redis.Redis, Depends(get_redis)]
AppSettings = Annotated[Settings, Depends(get_settings)]
