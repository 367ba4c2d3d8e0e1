"""Observability benchmark: what metrics and tracing cost ingest (the API and the consumer) and segment previews.

Two API processes run side by side for the whole run: one with metrics and tracing off (XENO_METRICS_ENABLED=false,
no OTEL_* variables), one with both on (spans exported over OTLP/HTTP, as a deployment would, to a receiver in this
process that decodes and counts them: `bench.otlp_sink`). Rounds alternate between them, the order swapped each
round (off then on, on then off, ...), so other work slowing the machine slows both alike. Each round measures:

- ingest: events/s the API accepts, posting `--round-events` events per mode as `bench.ingest` does (batches of 100,
  32 requests in flight), and the CPU the API process spent per 1,000 of them (less swayed by a busy machine);
- consumer: events/s this process applies from the stream (what that mode's API accepted), tracing off or on;
- preview: the median of `--previews` `POST /v1/segments/preview` of `bench.segments`' rule over a published
  synthetic snapshot of `--customers` customers.

Figures are medians over the rounds; the ratio is on/off (above 1 for throughput, below 1 for latency or CPU is a
gain). The "on" side samples a fraction `--sample` of new traces (the SDK's standard `parentbased_traceidratio`
sampler, as OTEL_TRACES_SAMPLER sets it); by default the product's own default (`DEFAULT_TRACE_SAMPLE`), and every
trace with `--sample 1`.

    python -m bench.observability [--rounds N] [--round-events N] [--customers N] [--previews N] [--sample R]
                                  [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from bench.common import analyst_tokens, api_process, cpu_seconds, post_bodies, report, use_fresh_services
from bench.ingest import make_bodies
from bench.otlp_sink import otlp_sink
from bench.segments import RULE, publish_synthetic_snapshot
from engine.connections import get_engine, get_redis
from engine.ingest.consumer import drain
from engine.keys import create_key
from engine.observability.tracing import DEFAULT_TRACE_SAMPLE, start_tracing, stop_tracing
from engine.services.supervisor import free_port
from engine.settings import get_settings

MODES = ("off", "on")


def sampler_env(sample: float) -> dict[str, str]:
    """The standard variables of a sampler keeping a fraction `sample` of new traces (all of them at 1)."""
    if sample >= 1:
        return {"OTEL_TRACES_SAMPLER": "parentbased_always_on"}
    return {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": str(sample)}


def api_env(mode: str, traces_url: str, sample: float) -> dict[str, str]:
    if mode == "off":
        return {"XENO_METRICS_ENABLED": "false", "OTEL_SDK_DISABLED": "true"}
    return {"XENO_METRICS_ENABLED": "true", "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": traces_url, "OTEL_SERVICE_NAME": "xeno-api-bench",
            **sampler_env(sample)}  # fmt: skip


def preview_ms(client: httpx.Client, token: str, count: int) -> float:
    """The median time of `count` previews of the benchmark's rule."""
    times = []
    for _ in range(count):
        started = time.perf_counter()
        client.post("/v1/segments/preview", json={"rule": RULE, "sample_size": 10},
                    headers={"Authorization": f"Bearer {token}"}).raise_for_status()  # fmt: skip
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def consumer_events_per_s(mode: str, traces_url: str, events: int) -> float:
    """Apply what waits on the ingest stream in this process, traced (exported to the sink) or not."""
    if mode == "on":
        start_tracing("xeno-consumer-bench", BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url)))
    try:
        started = time.perf_counter()
        applied = drain(get_engine(), get_redis(), get_settings(), consumer="bench").applied
        seconds = time.perf_counter() - started
    finally:
        stop_tracing()
    assert applied == events, f"applied {applied} of {events}"
    return events / seconds


def _compared(off: list[float], on: list[float]) -> dict[str, float]:
    """The medians of each mode's rounds, and on's over off's."""
    return {"off": round(statistics.median(off), 1), "on": round(statistics.median(on), 1),
            "ratio_on_off": round(statistics.median(on) / statistics.median(off), 3)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6, help="rounds per mode")
    parser.add_argument("--round-events", type=int, default=20_000, help="events posted per mode and round")
    parser.add_argument("--customers", type=int, default=200_000, help="customers in the previewed snapshot")
    parser.add_argument("--previews", type=int, default=20, help="previews timed per mode and round")
    parser.add_argument(
        "--sample", type=float, default=DEFAULT_TRACE_SAMPLE, help="the fraction of new traces kept when on"
    )
    parser.add_argument("--quick", action="store_true", help="3 rounds of 5,000 events, 50k customers")
    args = parser.parse_args()
    rounds, events = (3, 5_000) if args.quick else (args.rounds, args.round_events)
    customers = 50_000 if args.quick else args.customers

    os.environ.update(sampler_env(args.sample))  # this process's consumer samples as the API does
    use_fresh_services("xeno_bench_observability")
    key = create_key(get_engine(), "bench").secret
    ingest_headers = {"Content-Type": "application/json", "Authorization": aiohttp.encode_basic_auth(key, "")}
    [token] = analyst_tokens(1)
    names = ("ingest", "api_cpu_ms_per_1000", "consumer", "preview")
    figures: dict[str, dict[str, list[float]]] = {mode: {name: [] for name in names} for mode in MODES}
    with tempfile.TemporaryDirectory() as folder, otlp_sink() as (traces_url, spans):
        publish_synthetic_snapshot(customers, Path(folder) / "snapshots")
        ports = {mode: free_port() for mode in MODES}
        with (
            api_process(ports["off"], env=api_env("off", traces_url, args.sample)) as off_api,
            api_process(ports["on"], env=api_env("on", traces_url, args.sample)) as on_api,
        ):
            pids = {"off": off_api.pid, "on": on_api.pid}
            urls = {mode: f"http://127.0.0.1:{ports[mode]}" for mode in MODES}
            clients = {mode: httpx.Client(base_url=urls[mode], timeout=120) for mode in MODES}
            for mode in MODES:  # warm up: the snapshot loaded, the first preview's work done
                preview_ms(clients[mode], token, 2)
            sampled = f"00-{'ab' * 16}-{'cd' * 8}-01"  # a trace its caller keeps: exported whatever the sample
            traced = {"Authorization": f"Bearer {token}", "traceparent": sampled}
            clients["on"].post(
                "/v1/segments/preview", json={"rule": RULE, "sample_size": 10}, headers=traced
            ).raise_for_status()
            for number in range(rounds):
                for mode in MODES if number % 2 == 0 else tuple(reversed(MODES)):
                    bodies = make_bodies(events, 100, f"{mode}-{number}")
                    cpu_before = cpu_seconds(pids[mode])
                    seconds = asyncio.run(post_bodies(f"{urls[mode]}/v1/batch", bodies, ingest_headers, 32, expect=200))
                    figures[mode]["ingest"].append(events / seconds)
                    figures[mode]["api_cpu_ms_per_1000"].append((cpu_seconds(pids[mode]) - cpu_before) * 1e6 / events)
                    figures[mode]["consumer"].append(consumer_events_per_s(mode, traces_url, events))
                    figures[mode]["preview"].append(preview_ms(clients[mode], token, args.previews))
                    print(f"round {number + 1} {mode:>3}: ingest {figures[mode]['ingest'][-1]:>8,.0f} events/s "
                          f"({figures[mode]['api_cpu_ms_per_1000'][-1]:.0f} ms CPU per 1,000), "
                          f"consumer {figures[mode]['consumer'][-1]:>8,.0f} events/s, "
                          f"preview {figures[mode]['preview'][-1]:>7.1f} ms", flush=True)  # fmt: skip
            served = {mode: clients[mode].get("/metrics").status_code for mode in MODES}
            for client in clients.values():
                client.close()
        time.sleep(1)  # the API's batch processor exports on its schedule: let the last batch arrive
    assert served == {"off": 404, "on": 200}, f"/metrics answered {served}"
    assert spans.spans > 0, "tracing was on but no span reached the receiver"
    summary = {name: _compared(figures["off"][name], figures["on"][name]) for name in names}
    report({
        "bench": "observability", "rounds": rounds, "round_events": events, "customers": customers,
        "sample": args.sample, "ingest_events_per_s": summary["ingest"],
        "api_cpu_ms_per_1000_events": summary["api_cpu_ms_per_1000"], "consumer_events_per_s": summary["consumer"],
        "preview_ms": summary["preview"], "spans_exported": spans.spans,
        "load_1m": round(os.getloadavg()[0], 2),  # figures are comparable only at a like load
    })  # fmt: skip


if __name__ == "__main__":
    main()
