"""Dependency aliases, so route signatures read as plain types (`Db`, `RedisClient`, `AppSettings`).

Roles: a parameter typed `Viewer`, `Analyst`, `Marketer` or `Admin` is the signed-in user, let in only
with that role or a higher one (viewer < analyst < marketer < admin; see `engine.auth.roles`).
Rate limits: `dependencies=[rate_limit("read")]` on a router or route (groups: auth, ingest, read,
write, ai; limits in settings).
"""

from __future__ import annotations

from typing import Annotated

import redis
from fastapi import Depends
from sqlalchemy import Engine

from api.auth.dependencies import rate_limit as rate_limit
from api.auth.dependencies import require_role
from engine.auth.roles import Role
from engine.auth.users import User
from engine.connections import get_engine, get_redis
from engine.settings import Settings, get_settings

Db = Annotated[Engine, Depends(get_engine)]
RedisClient = Annotated[redis.Redis, Depends(get_redis)]
AppSettings = Annotated[Settings, Depends(get_settings)]

Viewer = Annotated[User, Depends(require_role(Role.viewer))]
Analyst = Annotated[User, Depends(require_role(Role.analyst))]
Marketer = Annotated[User, Depends(require_role(Role.marketer))]
Admin = Annotated[User, Depends(require_role(Role.admin))]
