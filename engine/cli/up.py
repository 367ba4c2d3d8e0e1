"""`xeno up`: the whole product on one machine, healed when a process dies, stopped cleanly by Ctrl-C.

Postgres and Redis are the servers named by `DATABASE_URL` / `REDIS_URL`, or embedded ones under the
data folder when those are unset. Then the migrations and the processes of the manifest
(`engine.services.manifest`): the API, Dagster (one code server, then the webserver and the daemon, which both load
the code location from it; its storage in the same Postgres), the vendor simulator, the workers and the dashboard.
Each process logs to this terminal with its name in front; what runs is kept in the data folder for `xeno status`.
With `--demo`, the demo data is loaded as soon as the API is ready (`engine.cli.demo`).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import typer

from engine import migrate
from engine.auth.signin import is_loopback
from engine.connections import reset_connections
from engine.services import manifest
from engine.services.embedded import EmbeddedPostgres, EmbeddedRedis
from engine.services.manifest import Addresses, CommandCheck, GrpcCheck, HttpCheck, ReadyCheck
from engine.services.state import AlreadyRunning, running_here
from engine.services.supervisor import (
    ServiceFailed,
    ServiceSpec,
    StopRequested,
    Supervisor,
    command_ok,
    free_port,
    grpc_serving,
    http_ok,
)
from engine.settings import PLACEHOLDER_SECRET, Settings, get_settings, revealed
from engine.webhooks import generate_secret

PROJECT_ROOT = Path(__file__).resolve().parents[2]
API_POLL_S = 0.5

# Dagster's webserver, daemon and code server wait this long for a gRPC answer (60 s by default): on a loaded
# two-core machine a sensor tick or a repository load can take longer, and a timeout fails the run before it
# starts. docker-compose.yml sets the same.
DAGSTER_GRPC_TIMEOUTS = {
    "DAGSTER_GRPC_TIMEOUT_SECONDS": "180",
    "DAGSTER_SENSOR_GRPC_TIMEOUT_SECONDS": "180",
    "DAGSTER_SCHEDULE_GRPC_TIMEOUT_SECONDS": "180",
}
# Dagster warns, each time it loads our definitions, that a parameter it passes itself to its own sensors is in
# beta: nothing a user can act on. docker-compose.yml sets the same.
DAGSTER_WARNINGS = {"PYTHONWARNINGS": "ignore:Parameter `owners` of initializer"}


def up(
    demo: bool = typer.Option(False, "--demo", help="Also load demo data (once) and say when it is ready."),
    demo_customers: int = typer.Option(10_000, help="How many demo customers, with --demo."),
) -> None:
    """Start Postgres and Redis (external or embedded), migrate, then the API, Dagster, the workers and the
    dashboard; restart any of them that dies, until Ctrl-C (twice: at once)."""
    data_dir = get_settings().data_dir
    try:
        with running_here(data_dir):
            exit_code = _run(Supervisor(state_dir=data_dir), demo, demo_customers)
    except AlreadyRunning as refusal:
        typer.echo(f"{refusal}; `xeno status` shows what it runs", err=True)
        raise typer.Exit(1) from None
    # Everything is stopped: leave now instead of spending seconds tearing down the modules loaded meanwhile.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)


def _run(supervisor: Supervisor, demo: bool, demo_customers: int) -> int:
    signal.signal(signal.SIGINT, supervisor.request_stop)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    exit_code = 0
    try:
        _settle_secrets_and_signin(get_settings())
        settings = _start_servers(supervisor, get_settings())
        supervisor.say("[xeno] migrating the database")
        migrate.prepare_databases()
        if demo:
            threading.Thread(target=_load_demo, args=(supervisor, settings, demo_customers), daemon=True).start()
        for together in _product_processes(settings):
            supervisor.start(*together)
        supervisor.say(_banner(settings))
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
    return exit_code


def _load_demo(supervisor: Supervisor, settings: Settings, customers: int) -> None:
    """Load the demo data as soon as the API answers (Dagster is still starting meanwhile), with `xeno demo` in a
    child process: computing the features takes a few hundred MB that this process, up for as long as the
    product, would otherwise keep. Its lines are ours; stopping stops it."""
    api_url = f"http://{settings.api_host}:{settings.api_port}"
    api_ready = http_ok(f"{api_url}/ready")
    while not api_ready():
        if supervisor.stopping.wait(API_POLL_S):
            return
    argv = [str(Path(sys.executable).parent / "xeno"), "demo", "--customers", str(customers), "--api-url", api_url]
    unbuffered = {**os.environ, "PYTHONUNBUFFERED": "1"}  # each line as it is said, not when the child ends
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=unbuffered,
                          start_new_session=True) as child:  # fmt: skip

        def stop_it() -> None:
            supervisor.stopping.wait()
            child.terminate()

        threading.Thread(target=stop_it, daemon=True).start()
        assert child.stdout is not None
        for line in child.stdout:
            supervisor.say(f"[xeno] {line.rstrip()}")
    # once stopping, the API and the servers going away (or the child being stopped) is expected
    if child.returncode != 0 and not supervisor.stopping.is_set():
        supervisor.say(f"[xeno] demo data failed (xeno demo exited with {child.returncode})")


def _settle_secrets_and_signin(settings: Settings) -> None:
    """A fresh machine works out of the box: a random secret kept in the data folder (unless one is set),
    and the developer sign-in on loopback while no OIDC provider is configured (unless said otherwise)."""
    if settings.secret_key.get_secret_value() == PLACEHOLDER_SECRET:
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
    """The processes of the manifest in the order they start, each step side by side once the one before is
    ready, on loopback (the API on its configured host) with the ports in the settings."""
    dagster_home = _dagster_home(settings)
    dagster_env = {
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_POSTGRES_URL": settings.dagster_postgres_url,
        **DAGSTER_GRPC_TIMEOUTS,
        **DAGSTER_WARNINGS,
    }
    addresses = Addresses(
        root=str(PROJECT_ROOT),
        api_url=f"http://{settings.api_host}:{settings.api_port}",
        vendor_url=f"http://127.0.0.1:{settings.vendor_port}",
        dagster_url=f"http://127.0.0.1:{settings.dagster_port}",
        workspace=str(dagster_home / "workspace.yaml"),
    )
    ports = {
        "api": settings.api_port,
        "dagster-code-server": settings.dagster_code_port,
        "vendor": settings.vendor_port,
        "dashboard": settings.dashboard_port,
        "dagster-webserver": settings.dagster_port,
    }
    secret_env = {"vendor": {"XENO_VENDOR_WEBHOOK_SECRET": revealed(settings.receipts_webhook_secret) or ""}}
    bin_dir = Path(sys.executable).parent
    specs = []
    for step in manifest.steps():
        together = []
        for process in step:
            host = settings.api_host if process.name == "api" else "127.0.0.1"
            port = ports.get(process.name) or free_port()  # the workers' health ports are ours to choose
            env = {
                **{name: value for name, value in manifest.COMMON_ENVIRONMENT.items() if name not in os.environ},
                **process.env(host, port, addresses),
                **(dagster_env if process.uses_dagster_instance else {}),
                **secret_env.get(process.name, {}),
            }
            program, *arguments = process.argv(host, port, addresses)
            argv = [str(bin_dir / program), *arguments]
            together.append(ServiceSpec(process.name, argv, _ready_check(process.ready, host, port, env), env))
        specs.append(together)
    return specs


def _ready_check(check: ReadyCheck, host: str, port: int, env: dict[str, str]) -> Callable[[], bool]:
    match check:
        case HttpCheck(path=path):
            return http_ok(f"http://{host}:{port}{path}")
        case GrpcCheck():
            return grpc_serving(port)
        case CommandCheck(argv=(program, *arguments)):
            return command_ok([str(Path(sys.executable).parent / program), *arguments], env)
    raise ValueError(f"no readiness check for {check!r}")


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
