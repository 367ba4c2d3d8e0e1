"""`CodeServerRunLauncher`: Dagster's default run launcher, plus the health check that run monitoring needs.

Runs are launched through the code server, as Dagster's `DefaultRunLauncher` does; the server runs each in a
process of its own, and fails a run whose process dies while the server lives. But when the code server itself goes
(`xeno up` stopped with Ctrl-C, the server killed or restarted), its runs stay STARTED in Dagster's storage for ever,
and every sensor waiting for them waits for ever. Run monitoring (`dagster.yaml`) asks the launcher about each started
run; this one asks the code server named in the run's tags which runs it is executing. A run it does not know, or a
server that is gone, means the run's process is gone: the run is failed, and the sensors try its work again. A server
too busy to answer in time is given the benefit of the doubt until the next check (a run that truly hangs is failed
by its `dagster/max_runtime`).
"""

from __future__ import annotations

import json

import grpc
from dagster import DagsterRun, DefaultRunLauncher
from dagster._core.errors import DagsterUserCodeUnreachableError
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.tags import GRPC_INFO_TAG
from dagster._grpc.client import DagsterGrpcClient
from dagster._grpc.types import GetCurrentRunsResult
from dagster._serdes import deserialize_value


class CodeServerRunLauncher(DefaultRunLauncher):
    """Launches runs on the code server, and tells run monitoring whether that server still runs them."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        server = run.tags.get(GRPC_INFO_TAG)
        if server is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "launched without a code server; left to its max runtime")
        info = json.loads(server)
        client = DagsterGrpcClient(
            port=info.get("port"), socket=info.get("socket"), host=info.get("host", "localhost"),
            use_ssl=bool(info.get("use_ssl", False)),
        )  # fmt: skip
        try:
            current = deserialize_value(client.get_current_runs(), GetCurrentRunsResult)
        except DagsterUserCodeUnreachableError as error:
            cause = error.__cause__
            if isinstance(cause, grpc.RpcError) and cause.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                return CheckRunHealthResult(WorkerStatus.RUNNING, f"the code server at {server} is busy; asking later")
            return CheckRunHealthResult(WorkerStatus.NOT_FOUND, f"the code server at {server} that ran it is gone")
        if run.run_id in current.current_runs:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(
            WorkerStatus.NOT_FOUND,
            f"the code server at {server} no longer runs it (its process died, or the server restarted)",
        )
