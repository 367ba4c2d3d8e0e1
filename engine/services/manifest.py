"""The product's processes, declared once: what each runs, when it starts, and how to tell it is ready.

`xeno up` builds its children from this list (with loopback addresses and the ports in the settings), and a test
holds `docker-compose.yml` (service addresses, fixed ports) and the README's process list to it. A command, its
environment and its health check are templates: `{host}` and `{port}` are the process's own bind address and
port, `{root}` the project's folder, the other fields the addresses of the processes it talks to (`Addresses`).
Every process is restarted when it dies (one policy for all: `engine.services.restarts`; compose's
`restart: unless-stopped`). Postgres, Redis and the migrations come before these and are not in the list: `xeno up`
runs embedded servers or none, compose the official images.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass(frozen=True)
class HttpCheck:
    """Ready when `GET path` on the process's port answers 200."""

    path: str


@dataclass(frozen=True)
class GrpcCheck:
    """Ready when the gRPC health service on the process's port says SERVING (Dagster's code server)."""


@dataclass(frozen=True)
class CommandCheck:
    """Ready when this command exits 0 (a template like the process's command)."""

    argv: tuple[str, ...]


ReadyCheck = HttpCheck | GrpcCheck | CommandCheck


@dataclass(frozen=True)
class Addresses:
    """Where the processes are, as a command or its environment names them."""

    root: str  # the project's folder
    api_url: str  # the API, as other processes reach it
    vendor_url: str  # the vendor simulator, as the delivery worker reaches it
    dagster_url: str  # Dagster's UI, as a browser reaches it (the dashboard links to it)
    workspace: str  # the workspace file that points Dagster's webserver and daemon at the code server


@dataclass(frozen=True)
class Process:
    """One process of the product. Processes of the same `step` start side by side, once the step before is
    ready (steps 1 and 2 are the servers and the migrations); its command's first word is a program of the
    product's environment."""

    name: str
    step: int
    command: tuple[str, ...]
    ready: ReadyCheck
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def uses_dagster_instance(self) -> bool:
        """Whether it runs Dagster (and so needs DAGSTER_HOME and Dagster's storage)."""
        return self.command[0].startswith("dagster")

    def argv(self, host: str, port: int, addresses: Addresses) -> list[str]:
        return [_render(word, host, port, addresses) for word in self.command]

    def env(self, host: str, port: int, addresses: Addresses) -> dict[str, str]:
        return {name: _render(value, host, port, addresses) for name, value in self.environment.items()}


def _render(template: str, host: str, port: int, addresses: Addresses) -> str:
    values = {item.name: getattr(addresses, item.name) for item in fields(addresses)}
    return template.format(host=host, port=port, **values)


# Every process's environment unless the operator's own sets it: glibc's malloc gives each allocating thread an
# arena of its own (up to eight per core), which threaded processes (the API's thread pool, the appliers, the
# senders, Dagster's) fill and keep; with two, the product at rest held ~50 MB less (bench.idle: 1,213 -> 1,163 MB).
# The image sets the same (Dockerfile).
COMMON_ENVIRONMENT = {"MALLOC_ARENA_MAX": "2"}

DAGSTER_WORKSPACE = ("-w", "{workspace}")
# Set in the daemon, whose one Dagster instance lives as long as it does: its storage then keeps its Postgres
# connections open instead of opening one per query (pipelines/storage.py).
DAGSTER_HOLD_CONNECTIONS = "XENO_DAGSTER_HOLD_CONNECTIONS"

PROCESSES = (
    Process(
        name="api",
        step=3,
        command=("uvicorn", "api.main:create_app", "--factory", "--host", "{host}", "--port", "{port}",
                 "--no-access-log"),
        ready=HttpCheck("/ready"),
    ),
    Process(
        name="dagster-code-server",
        step=3,
        # the gRPC server itself, not `dagster code-server start`: that is a proxy process in front of the same
        # server, there to restart it when the UI's "Reload" asks; a restart here is a restart of this process
        command=("dagster", "api", "grpc", "-m", "pipelines.definitions", "--location-name", "xeno",
                 "-d", "{root}", "-h", "{host}", "-p", "{port}"),
        ready=GrpcCheck(),
    ),
    Process(
        name="vendor",
        step=3,
        command=("uvicorn", "api.vendor.app:create_app", "--factory", "--host", "{host}", "--port", "{port}",
                 "--no-access-log"),
        ready=HttpCheck("/health"),
        environment={"XENO_VENDOR_CALLBACK_URL": "{api_url}/v1/receipts"},
    ),
    Process(
        name="deliver",
        step=3,
        command=("xeno", "deliver"),
        ready=HttpCheck("/health"),
        environment={"XENO_DELIVERY_VENDOR_URL": "{vendor_url}", "XENO_HEALTH_PORT": "{port}"},
    ),
    Process(
        name="ai-worker",
        step=3,
        command=("xeno", "ai", "worker"),
        ready=HttpCheck("/health"),
        environment={"XENO_HEALTH_PORT": "{port}"},
    ),
    Process(
        name="dashboard",
        step=3,
        command=("streamlit", "run", "{root}/dashboard/server.py", "--server.address", "{host}", "--server.port",
                 "{port}", "--server.headless", "true", "--browser.gatherUsageStats", "false"),
        ready=HttpCheck("/_stcore/health"),
        environment={"XENO_API_URL": "{api_url}", "XENO_DAGSTER_URL": "{dagster_url}"},
    ),
    Process(
        name="dagster-webserver",
        step=4,
        command=("dagster-webserver", *DAGSTER_WORKSPACE, "--host", "{host}", "--port", "{port}"),
        ready=HttpCheck("/server_info"),
    ),
    Process(
        name="dagster-daemon",
        step=4,
        command=("dagster-daemon", "run", *DAGSTER_WORKSPACE),
        ready=CommandCheck(("dagster-daemon", "liveness-check")),
        environment={DAGSTER_HOLD_CONNECTIONS: "1"},
    ),
)  # fmt: skip


def steps() -> list[list[Process]]:
    """The processes grouped by step, in the order they start."""
    return [[process for process in PROCESSES if process.step == step] for step in sorted({p.step for p in PROCESSES})]
