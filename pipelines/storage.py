"""`PooledPostgresStorage`: Dagster's Postgres storage, without a new Postgres connection for every query at rest.

dagster-postgres opens a new connection for every query (SQLAlchemy's `NullPool`) everywhere but in the webserver,
which keeps one open (`optimize_for_webserver`), and each time it is loaded it connects to see whether its tables
exist (six connections). At rest that was about twelve connections a second: the daemon's sensor, queue and
monitoring loops, and the code server, which loads the storage anew for every sensor evaluation. Each is a Postgres
backend forked, authenticated and ended a few milliseconds later: about 3.5% of a core that no process list shows.
So this storage:

- looks for its tables once per process and database (creating them if missing, as dagster-postgres does), not
  each time an instance is built;
- in a process that asks for it (the daemon: the manifest sets `XENO_DAGSTER_HOLD_CONNECTIONS` there), holds its
  connections the way the webserver does, without the webserver's statement timeout (the daemon waits for a slow
  query today, and still does). Only there: dagster-postgres never closes a pool (it drops the storage with its
  instance), so in a process that builds an instance per call, as the code server does, pooled connections would
  pile up until the garbage collector reaches them. Those processes, and run workers, connect per query as before.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config

from engine.services.manifest import DAGSTER_HOLD_CONNECTIONS

# what dagster-webserver holds by default: its connection is renewed hourly, and up to 20 more open while needed
POOL_RECYCLE_S = 3600
POOL_MAX_OVERFLOW = 20
NO_STATEMENT_TIMEOUT = 0

_tables_seen: set[str] = set()  # the databases whose Dagster tables this process has looked for


class PooledPostgresStorage(DagsterPostgresStorage):
    """Runs, events and schedules in Postgres, configured as `storage: postgres:` is."""

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PooledPostgresStorage:
        url = pg_url_from_config(config_value)
        storage = cls(
            url,
            should_autocreate_tables=config_value.get("should_autocreate_tables", True) and url not in _tables_seen,
            inst_data=inst_data,
            token_provider=get_token_provider_from_config(config_value),
        )
        _tables_seen.add(url)
        if os.environ.get(DAGSTER_HOLD_CONNECTIONS) == "1":
            for part in (storage.run_storage, storage.event_log_storage, storage.schedule_storage):
                part.optimize_for_webserver(
                    statement_timeout=NO_STATEMENT_TIMEOUT, pool_recycle=POOL_RECYCLE_S, max_overflow=POOL_MAX_OVERFLOW
                )
        return storage
