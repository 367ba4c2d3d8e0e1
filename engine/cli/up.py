"""`xeno up`: the whole product on one machine, healed when a process dies, stopped cleanly by Ctrl-C.

Postgres and Redis are the servers named by `DATABASE_URL` / `REDIS_URL`, or embedded ones under the
data folder when those are unset. Then the migrations, the API, Dagster (one code server, then the webserver
and the daemon, which both load the code location from it; its storage in the same Postgres), the vendor
simulator, the workers and the dashboard. Each process logs to this terminal with its name in front; what
runs is kept in the data folder for `xeno status`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import sys
import threading
from pathlib import Path

import typer

from engine import migrate
from engine.auth.signin import is_loopback
from engine.cli.demo import load_demo_data
from engine.connections import reset_connections
from engine.services.embedded import EmbeddedPostgres, EmbeddedRedis
from engine.services.state import AlreadyRunning, running_here
from engine.services.supervisor import (
    ServiceFailed,
    ServiceSpec,
    StopRequested,
    Supervisor,
    free_port,
    grpc_serving,
    http_ok,
)
from engine.settings import PLACEHOLDER_SECRET, Settings, get_settings
from engine.webhooks import generate_secret

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Dagster's webserver, daemon and code server wait this long for a gRPC answer (60 s by default): on a loaded
# two-core machine a sensor tick or a repository load can take longer, and a timeout fails the run before it
# starts. docker-compose.yml sets the same.
DAGSTER_GRPC_TIMEOUTS = {
    "DAGSTER_GRPC_TIMEOUT_SECONDS": "180",
    "DAGSTER_SENSOR_GRPC_TIMEOUT_SECONDS": "180",
    "DAGSTER_SCHEDULE_GRPC_TIMEOUT_SECONDS": "180",
}


def up(
    demo: bool = typer.Option(False, "--demo", help="Also post demo data through the API once it is up."),
    demo_customers: int = typer.Option(10_000, help="How many demo customers, with --demo."),
) -> None:
    """Start Postgres and Redis (external or embedded), migrate, then the API, Dagster, the workers and the
    dashboard; restart any of them that dies, until Ctrl-C (twice: at once)."""
    data_dir = get_settings().data_dir
    try:
        with running_here(data_dir):
            _run(Supervisor(state_dir=data_dir), demo, demo_customers)
    except AlreadyRunning as refusal:
        typer.echo(f"{refusal}; `xeno status` shows what it runs", err=True)
        raise typer.Exit(1) from None


def _run(supervisor: Supervisor, demo: bool, demo_customers: int) -> None:
    signal.signal(signal.SIGINT, supervisor.request_stop)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    exit_code = 0
    try:
        _settle_secrets_and_signin(get_settings())
        settings = _start_servers(supervisor, get_settings())
        supervisor.say("[xeno] migrating the database")
        migrate.prepare_databases()
        for together in _product_processes(settings):
            supervisor.start(*together)
        supervisor.say(_banner(settings))
        if demo:
            threading.Thread(target=load_demo_data, args=(demo_customers,), daemon=True).start()
        supervisor.wait_for_stop()
    except StopRequested:
        pass
    except ServiceFailed as failure:
        supervisor.say(f"[xeno] {failure}; stopping everything")
        exit_code = 1
    finally:
        supervisor.stop_all()
        reset_connections()
        supervisor.say("[xeno] stopped")
    raise typer.Exit(exit_code)


def _settle_secrets_and_signin(settings: Settings) -> None:
    """A fresh machine works out of the box: a random secret kept in the data folder (unless one is set),
    and the developer sign-in on loopback while no OIDC provider is configured (unless said otherwise)."""
    if settings.secret_key == PLACEHOLDER_SECRET:
        os.environ["XENO_SECRET_KEY"] = _kept_secret(settings.data_dir / "secret_key", secrets.token_urlsafe(48))
    if settings.receipts_webhook_secret is None:
        os.environ["XENO_RECEIPTS_WEBHOOK_SECRET"] = _kept_secret(
            settings.data_dir / "receipts_webhook_secret", generate_secret()
        )
    if "XENO_DEV_SIGNIN" not in os.environ and settings.oidc_client_id is None and is_loopback(settings.api_host):
        os.environ["XENO_DEV_SIGNIN"] = "true"
    get_settings.cache_clear()


def _kept_secret(path: Path, new_value: str) -> str:
    """The secret kept in `path`, written there (readable by us only) the first time."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(new_value)
        path.chmod(0o600)
    return path.read_text().strip()


def _start_servers(supervisor: Supervisor, settings: Settings) -> Settings:
    """Start the embedded servers the settings call for and return settings that point at them."""
    data_dir = settings.data_dir
    servers: dict[str, EmbeddedPostgres | EmbeddedRedis] = {}  # environment variable -> server
    if settings.uses_embedded_postgres:
        servers["DATABASE_URL"] = EmbeddedPostgres(data_dir / "postgres", settings.embedded_postgres_port)
        supervisor.say(f"[xeno] starting embedded PostgreSQL in {data_dir / 'postgres'}")
    if settings.uses_embedded_redis:
        servers["REDIS_URL"] = EmbeddedRedis(
            data_dir / "redis", settings.embedded_redis_port, settings.embedded_redis_appendfsync
        )
        supervisor.say(f"[xeno] starting embedded Redis in {data_dir / 'redis'}")
    if servers:
        supervisor.start(*(server.prepare() for server in servers.values()))
    os.environ.update({variable: server.url for variable, server in servers.items()})
    get_settings.cache_clear()
    reset_connections()
    return get_settings()


def _dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME in the data folder: the instance file from the repository, and a workspace that points the
    webserver and the daemon at the one code server (the repository's `workspace.yaml` is for `dagster dev`)."""
    home = (settings.data_dir / "dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    (home / "workspace.yaml").write_text(
        "load_from:\n"
        "  - grpc_server:\n"
        "      host: 127.0.0.1\n"
        f"      port: {settings.dagster_code_port}\n"
        "      location_name: xeno\n"
    )
    return home


def _product_processes(settings: Settings) -> list[list[ServiceSpec]]:
    """The processes after the migrations, in the order they start: each list side by side, once the one
    before is ready (the Dagster webserver and daemon load the code location from the code server)."""
    bin_dir = Path(sys.executable).parent
    dagster_home = _dagster_home(settings)
    dagster_env = {
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_POSTGRES_URL": settings.dagster_postgres_url,
        **DAGSTER_GRPC_TIMEOUTS,
    }
    workspace = ["-w", str(dagster_home / "workspace.yaml")]
    api_url = f"http://{settings.api_host}:{settings.api_port}"
    dagster_url = f"http://127.0.0.1:{settings.dagster_port}"
    vendor_url = f"http://127.0.0.1:{settings.vendor_port}"
    vendor_env = {
        "XENO_VENDOR_CALLBACK_URL": f"{api_url}/v1/receipts",
        "XENO_VENDOR_WEBHOOK_SECRET": settings.receipts_webhook_secret or "",
    }
    xeno = str(bin_dir / "xeno")
    deliver_port, ai_worker_port = free_port(), free_port()
    # fmt: off
    api = ServiceSpec(
        name="api",
        argv=[
            sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory",
            "--host", settings.api_host, "--port", str(settings.api_port), "--no-access-log",
        ],
        ready=http_ok(f"{api_url}/health"),
    )
    code_server = ServiceSpec(
        name="dagster-code-server",
        argv=[
            str(bin_dir / "dagster"), "code-server", "start",
            "-m", "pipelines.definitions", "--location-name", "xeno", "-d", str(PROJECT_ROOT),
            "-h", "127.0.0.1", "-p", str(settings.dagster_code_port),
        ],
        env=dagster_env,
        ready=grpc_serving(settings.dagster_code_port),
    )
    vendor = ServiceSpec(
        name="vendor",
        argv=[
            sys.executable, "-m", "uvicorn", "api.vendor.app:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(settings.vendor_port), "--no-access-log",
        ],
        env=vendor_env,
        ready=http_ok(f"{vendor_url}/health"),
    )
    deliver = ServiceSpec(
        name="deliver",
        argv=[xeno, "deliver"],
        env={"XENO_DELIVERY_VENDOR_URL": vendor_url, "XENO_HEALTH_PORT": str(deliver_port)},
        ready=http_ok(f"http://127.0.0.1:{deliver_port}/health"),
    )
    ai_worker = ServiceSpec(
        name="ai-worker",
        argv=[xeno, "ai", "worker"],
        env={"XENO_HEALTH_PORT": str(ai_worker_port)},
        ready=http_ok(f"http://127.0.0.1:{ai_worker_port}/health"),
    )
    dashboard = ServiceSpec(
        name="dashboard",
        argv=[
            sys.executable, "-m", "streamlit", "run", str(PROJECT_ROOT / "dashboard" / "app.py"),
            "--server.address", "127.0.0.1", "--server.port", str(settings.dashboard_port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
        ],
        env={"XENO_API_URL": api_url, "XENO_DAGSTER_URL": dagster_url},
        ready=http_ok(f"http://127.0.0.1:{settings.dashboard_port}/_stcore/health"),
    )
    webserver = ServiceSpec(
        name="dagster-webserver",
        argv=[
            str(bin_dir / "dagster-webserver"), *workspace,
            "--host", "127.0.0.1", "--port", str(settings.dagster_port),
        ],
        env=dagster_env,
        ready=http_ok(f"{dagster_url}/server_info"),
    )
    daemon = ServiceSpec(
        name="dagster-daemon",
        argv=[str(bin_dir / "dagster-daemon"), "run", *workspace],
        env=dagster_env,
    )
    # fmt: on
    return [[api, code_server, vendor, deliver, ai_worker, dashboard], [webserver, daemon]]


def _banner(settings: Settings) -> str:
    api = f"http://{settings.api_host}:{settings.api_port}"
    lines = [
        "",
        "Xeno CRM is up",
        f"  API       {api}  (docs at /docs)",
        f"  Dagster   http://127.0.0.1:{settings.dagster_port}",
        f"  Dashboard http://127.0.0.1:{settings.dashboard_port}",
        f"  Vendor    http://127.0.0.1:{settings.vendor_port}  (the simulated SMS/e-mail vendor)",
    ]
    if settings.dev_signin:
        lines += [
            "  Sign in (developer sign-in, loopback only; see README to use Google):",
            f"    curl -X POST {api}/v1/auth/dev-login -H 'Content-Type: application/json' \\",
            """      -d '{"email": "you@example.com", "role": "admin"}'""",
        ]
    lines.append("Press Ctrl-C to stop everything.")
    return "\n".join(f"[xeno] {line}" for line in lines)
