"""Run monitoring with our run launcher, against a real code server: a run the server is executing is left alone; a
run whose server is gone (`xeno up` stopped with Ctrl-C while it ran, the server killed) is failed instead of staying
STARTED for ever, and the ingest sensor then asks for another run, which applies what the dead one had taken."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest
import redis
from dagster._core.launcher.base import WorkerStatus
from dagster._core.storage.tags import GRPC_INFO_TAG
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import GrpcServerTarget
from dagster._daemon.monitoring.run_monitoring import monitor_started_run
from dagster._grpc.client import DagsterGrpcClient
from sqlalchemy import Engine, text

from engine import streams
from engine.ingest.consumer import GROUP
from engine.services.supervisor import free_port
from engine.settings import Settings, get_settings
from pipelines.definitions import defs
from pipelines.defs.ingest.jobs import ingest_stream_job
from pipelines.defs.ingest.sensors import ingest_stream_sensor
from pipelines.defs.resources import XenoResource
from pipelines.defs.retries import failure_reason
from pipelines.run_launcher import SERVER_ID_TAG
from tests.fixtures.waiting import wait_for
from tests.pipelines.helpers import publish_customers

MONITORED = {
    "run_launcher": {"module": "pipelines.run_launcher", "class": "CodeServerRunLauncher"},
    "run_monitoring": {"enabled": True, "max_resume_run_attempts": 0},
}


def answers(client: DagsterGrpcClient) -> bool:
    try:
        client.ping("ready?")
    except Exception:
        return False
    return True


@pytest.fixture
def code_server(database: Engine) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """A Dagster code server for the product's definitions, in a process group of its own (as `xeno up` runs it)."""
    port = free_port()
    argv = [str(Path(sys.executable).parent / "dagster"), "api", "grpc", "-m", "pipelines.definitions",
            "-h", "127.0.0.1", "-p", str(port), "--location-name", "xeno"]  # fmt: skip
    server = subprocess.Popen(argv, env=dict(os.environ), start_new_session=True)
    try:
        wait_for(lambda: answers(DagsterGrpcClient(port=port, host="127.0.0.1")), "the code server to start")
        yield port, server
    finally:
        stop(server)


def stop(server: subprocess.Popen[bytes]) -> None:
    """What Ctrl-C on `xeno up` does to the code server and its runs: the whole process group is killed."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def launch_ingest_run(instance: dg.DagsterInstance, port: int) -> dg.DagsterRun:
    """An ingest run launched through the code server, as the daemon launches the sensor's runs."""
    target = GrpcServerTarget(host="127.0.0.1", port=port, socket=None, location_name="xeno")
    with WorkspaceProcessContext(instance, target) as workspace:
        request = workspace.create_request_context()
        remote_job = (
            request.get_code_location("xeno").get_repository("__repository__").get_full_job(ingest_stream_job.name)
        )
        run = instance.create_run_for_job(
            defs.resolve_job_def(ingest_stream_job.name),
            remote_job_origin=remote_job.get_remote_origin(),
            job_code_origin=remote_job.get_python_origin(),
        )
        instance.launch_run(run.run_id, request)
    return run


def health(instance: dg.DagsterInstance, run: dg.DagsterRun) -> WorkerStatus:
    """What the launcher tells run monitoring about the run as stored now (its tags name its code server)."""
    return instance.run_launcher.check_run_worker_health(instance.get_run_by_id(run.run_id)).status  # type: ignore[arg-type]


def monitor(instance: dg.DagsterInstance, run: dg.DagsterRun) -> dg.DagsterRun:
    """One pass of the daemon's run monitoring over `run`; the run afterwards."""
    [record] = instance.get_run_records(dg.RunsFilter(run_ids=[run.run_id]))
    monitor_started_run(instance, None, record, logging.getLogger("run-monitoring"))  # type: ignore[arg-type]
    return instance.get_run_by_id(run.run_id)  # type: ignore[return-value]


def test_a_run_whose_code_server_died_is_failed_and_the_next_run_applies_what_it_had_taken(
    database: Engine,
    redis_client: redis.Redis,
    code_server: tuple[int, subprocess.Popen[bytes]],
    configure: Callable[..., Settings],
) -> None:
    port, server = code_server
    configure(INGEST_CLAIM_IDLE_MS="500", XENO_PIPELINE_RETRY_BACKOFF_S="0.001")
    stream = get_settings().stream("ingest")
    publish_customers(redis_client, "ada", "bob")
    with dg.instance_for_test(overrides=MONITORED) as instance, database.connect() as blocker:
        blocker.execute(text("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE"))  # the run takes the entries, then waits
        run = launch_ingest_run(instance, port)
        wait_for(lambda: streams.backlog(redis_client, stream, GROUP).pending == 1, "the run to take the entries")
        wait_for(lambda: instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED, "STARTED")  # type: ignore[union-attr]

        assert health(instance, run) == WorkerStatus.RUNNING
        assert monitor(instance, run).status == dg.DagsterRunStatus.STARTED

        stop(server)
        blocker.rollback()

        assert health(instance, run) == WorkerStatus.NOT_FOUND
        failed = monitor(instance, run)
        assert failed.status == dg.DagsterRunStatus.FAILURE
        wait_for(lambda: idle_ms(redis_client, stream) > 500, "the dead run's claim to go idle")
        context = dg.build_sensor_context(instance=instance, resources={"xeno": XenoResource()})
        request = ingest_stream_sensor(context)
        assert isinstance(request, dg.RunRequest), request
        assert str(request.run_key).startswith(f"drain-2-after-{run.run_id[:8]}")

        assert ingest_stream_job.execute_in_process(instance=instance, resources={"xeno": XenoResource()}).success

    with database.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM customers")).scalar_one() == 2
    assert streams.backlog(redis_client, stream, GROUP) == streams.Backlog(0, 0)


def idle_ms(client: redis.Redis, stream: str) -> int:
    """How long the oldest entry a consumer took has gone without being acknowledged or claimed again."""
    [pending] = client.xpending_range(stream, GROUP, min="-", max="+", count=1)
    return int(pending["time_since_delivered"])


def started_run(instance: dg.DagsterInstance, port: int, server_id: str) -> dg.DagsterRun:
    """A STARTED run that the code server at `port`, with id `server_id`, launched."""
    return instance.create_run_for_job(
        defs.resolve_job_def(ingest_stream_job.name),
        status=dg.DagsterRunStatus.STARTED,
        tags={GRPC_INFO_TAG: json.dumps({"host": "127.0.0.1", "port": port}), SERVER_ID_TAG: server_id},
    )


def test_a_run_on_a_server_nobody_answers_at_is_not_found(database: Engine) -> None:
    with dg.instance_for_test(overrides=MONITORED) as instance:
        run = started_run(instance, free_port(), "gone")

        assert health(instance, run) == WorkerStatus.NOT_FOUND
        failed = monitor(instance, run)

    assert failed.status == dg.DagsterRunStatus.FAILURE


def test_a_run_launched_by_a_server_since_restarted_is_failed_saying_so(
    database: Engine, code_server: tuple[int, subprocess.Popen[bytes]]
) -> None:
    port, _ = code_server
    with dg.instance_for_test(overrides=MONITORED) as instance:
        run = started_run(instance, port, "the server before it restarted")

        failed = monitor(instance, run)
        reason = failure_reason(instance, failed)

    assert failed.status == dg.DagsterRunStatus.FAILURE
    assert "restarted since it launched the run, and does not run it" in (reason or "")
