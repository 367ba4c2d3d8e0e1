"""`CodeServerRunLauncher`: Dagster's default run launcher, plus the health check that run monitoring needs.

Runs are launched through the code server, as Dagster's `DefaultRunLauncher` does; the server runs each in a
process of its own, and fails a run whose process dies while the server lives. But when the code server itself goes
(`xeno up` stopped with Ctrl-C, the server killed or restarted), its runs stay STARTED in Dagster's storage for ever,
and every sensor waiting for them waits for ever. So this launcher records which server (by its id) launched each
run, and run monitoring (`dagster.yaml`) asks it about each started run:

- the same server still answers: it runs the run, and fails the run itself if the run's process dies;
- another server answers at that address (it restarted): the run is running only if that server says so;
- nothing answers there: the server, and the runs it ran, are gone.

A run found gone is failed, and the sensors try its work again. A server too busy to answer in time is given the
benefit of the doubt until the next check (a run that truly hangs is failed by its `dagster/max_runtime`). A run
whose process outlived its server (the server alone killed, then started again) is judged gone too: its work is
then done twice, which every job here makes harmless, and the run still records its own outcome.
"""

from __future__ import annotations

import json

import grpc
from dagster import DagsterRun, DefaultRunLauncher
from dagster._core.errors import DagsterUserCodeUnreachableError
from dagster._core.launcher.base import CheckRunHealthResult, LaunchRunContext, WorkerStatus
from dagster._core.remote_representation.code_location import GrpcServerCodeLocation
from dagster._core.storage.tags import GRPC_INFO_TAG
from dagster._grpc.client import DagsterGrpcClient
from dagster._grpc.types import CanCancelExecutionRequest, CanCancelExecutionResult
from dagster._serdes import deserialize_value

SERVER_ID_TAG = "xeno/code_server_id"


class CodeServerRunLauncher(DefaultRunLauncher):
    """Launches runs on the code server, and tells run monitoring whether that server still runs them."""

    def launch_run(self, context: LaunchRunContext) -> None:
        if context.workspace is not None and context.dagster_run.remote_job_origin is not None:
            location_name = context.dagster_run.remote_job_origin.repository_origin.code_location_origin.location_name
            location = context.workspace.get_code_location(location_name)
            if isinstance(location, GrpcServerCodeLocation):
                self._instance.add_run_tags(
                    context.dagster_run.run_id, {SERVER_ID_TAG: location.client.get_server_id()}
                )
        super().launch_run(context)

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        server, launched_by = run.tags.get(GRPC_INFO_TAG), run.tags.get(SERVER_ID_TAG)
        if server is None or launched_by is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "not launched by this launcher; left to its max runtime")
        info = json.loads(server)
        client = DagsterGrpcClient(
            port=info.get("port"), socket=info.get("socket"), host=info.get("host", "localhost"),
            use_ssl=bool(info.get("use_ssl", False)),
        )  # fmt: skip
        try:
            if client.get_server_id() == launched_by:
                return CheckRunHealthResult(WorkerStatus.RUNNING)
            answer = client.can_cancel_execution(CanCancelExecutionRequest(run_id=run.run_id))
        except DagsterUserCodeUnreachableError as error:
            cause = error.__cause__
            if isinstance(cause, grpc.RpcError) and cause.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                return CheckRunHealthResult(WorkerStatus.RUNNING, f"the code server at {server} is busy; asking later")
            return CheckRunHealthResult(WorkerStatus.NOT_FOUND, f"the code server at {server} that ran it is gone")
        if deserialize_value(answer, CanCancelExecutionResult).can_cancel:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(
            WorkerStatus.NOT_FOUND,
            f"the code server at {server} restarted since it launched the run, and does not run it",
        )
