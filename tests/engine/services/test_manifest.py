"""`docker-compose.yml` and the README's process list run and name the same processes as the manifest `xeno up`
starts from: the same commands, environments and readiness checks (as compose health checks), nothing missing or
extra."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from engine.services.manifest import PROCESSES, Addresses, CommandCheck, GrpcCheck, HttpCheck, Process

ROOT = Path(__file__).resolve().parents[3]
# What compose runs besides the manifest: the official images' servers, and the migrations once.
COMPOSE_ONLY = {"postgres", "redis", "migrate"}
# Compose's own choices: every process binds all addresses in its container, on a fixed port.
ALL_ADDRESSES = "0.0.0.0"  # noqa: S104
COMPOSE_PORTS = {
    "api": 8000,
    "dagster-code-server": 4000,
    "vendor": 8100,
    "deliver": 8080,
    "ai-worker": 8080,
    "dashboard": 8501,
    "dagster-webserver": 3000,
    "dagster-daemon": 0,
}
COMPOSE_ADDRESSES = Addresses(
    root="/app",
    api_url="http://api:8000",
    vendor_url="http://vendor:8100",
    dagster_url="http://localhost:3000",
    workspace="/app/workspace.compose.yaml",
)


def compose_services() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return dict(document["services"])


def compose_healthcheck(process: Process, port: int) -> list[str]:
    match process.ready:
        case HttpCheck(path=path):
            return [
                "CMD",
                "python",
                "-c",
                f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}{path}')",
            ]
        case GrpcCheck():
            return ["CMD", "dagster", "api", "grpc-health-check", "-p", str(port)]
        case CommandCheck(argv=argv):
            return ["CMD", *argv]
    raise AssertionError(f"no compose health check for {process.ready!r}")


def test_compose_runs_exactly_the_manifests_processes_and_the_servers() -> None:
    assert set(compose_services()) == {process.name for process in PROCESSES} | COMPOSE_ONLY


def test_each_compose_service_runs_the_manifests_command_environment_and_health_check() -> None:
    services = compose_services()
    for process in PROCESSES:
        service, port = services[process.name], COMPOSE_PORTS[process.name]
        assert service["command"] == process.argv(ALL_ADDRESSES, port, COMPOSE_ADDRESSES), process.name
        environment = process.env(ALL_ADDRESSES, port, COMPOSE_ADDRESSES)
        assert service["environment"].items() >= environment.items(), process.name
        assert service["healthcheck"]["test"] == compose_healthcheck(process, port), process.name
        assert service["restart"] == "unless-stopped", process.name


def test_every_long_lived_compose_service_has_a_health_check() -> None:
    services = compose_services()
    assert [name for name, service in services.items() if name != "migrate" and "healthcheck" not in service] == []


def test_the_readme_lists_the_manifests_processes_in_their_steps() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Processes", 1)[1].split("\n### ", 1)[0]
    listed: set[tuple[int, str]] = set()
    step = 0
    for row in re.findall(r"^\| *(\d*) *\| *(.+?) *\|", section, flags=re.MULTILINE):
        step = int(row[0]) if row[0] else step
        names = re.sub(r"\([^()]*\)", "", row[1])  # what is in brackets describes, not names
        listed |= {(step, name) for name in re.findall(r"`([^`]+)`", names)}
    in_manifest = {(process.step, process.name) for process in PROCESSES}
    assert {entry for entry in listed if entry[0] >= 3} == in_manifest
