"""`xeno ai ...`: measure the rule providers, try a sentence, and run the AI queue's worker."""

from __future__ import annotations

import json
import signal
import threading
from enum import StrEnum
from types import FrameType

import typer
from rich.console import Console
from rich.table import Table

from engine.ai.choice import text_provider
from engine.ai.evals import Report, Result, evaluate, load_cases
from engine.ai.jobs import HANDLERS
from engine.ai.local import LocalProvider
from engine.ai.openai_compatible import OpenAICompatibleProvider
from engine.ai.provider import TextProvider
from engine.ai.queue import run_worker
from engine.ai.rules import suggest_rule
from engine.connections import get_engine, get_redis
from engine.features.catalog import base_catalog
from engine.services.health import serve_health
from engine.settings import get_settings

app = typer.Typer(help="The AI helpers: evaluation, a quick try, and the AI queue's worker.", no_args_is_help=True)


class ProviderName(StrEnum):
    local = "local"
    openai = "openai"


@app.command("eval")
def eval_(
    provider: list[ProviderName] = typer.Option(
        None, help="Which provider(s) to score; default: local, and openai when a model is configured."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print every case, not only the wrong ones."),
) -> None:
    """Score plain-language-to-rule providers on the evaluation set and print their accuracy."""
    settings = get_settings()
    chosen = provider or [ProviderName.local, *([ProviderName.openai] if settings.uses_llm else [])]
    console = Console()
    cases = load_cases()
    reports = []
    for name in chosen:
        if name is ProviderName.openai and settings.ai_model is None:
            typer.echo("openai: no model configured (set XENO_AI_MODEL, XENO_AI_BASE_URL, XENO_AI_API_KEY)", err=True)
            raise typer.Exit(2)
        scored = _provider(name)
        console.print(f"[bold]{scored.name}[/bold] {scored.model or ''}: {len(cases)} cases")
        reports.append(evaluate(scored, cases, on_result=lambda result: _print_result(console, result, verbose)))
    console.print(_summary(reports))


def _provider(name: ProviderName) -> TextProvider:
    if name is ProviderName.local:
        return LocalProvider()
    return OpenAICompatibleProvider.from_settings(get_settings())


def _print_result(console: Console, result: Result, verbose: bool) -> None:
    if result.correct and not verbose:
        return
    mark = "[green]ok[/green]   " if result.correct else "[red]wrong[/red]"
    console.print(f"  {mark} {result.case.text}  [dim]({result.detail})[/dim]", highlight=False)


def _summary(reports: list[Report]) -> Table:
    table = Table("provider", "model", "accuracy", "rules right", "refusals right", "held-out right")
    for report in reports:
        rules = report.tally(lambda case: case.rule is not None)
        refusals = report.tally(lambda case: case.rule is None)
        held_out = report.tally(lambda case: case.held_out)
        table.add_row(
            report.provider,
            report.model or "-",
            f"{report.accuracy:.1%}",
            *(f"{right}/{total}" for right, total in (rules, refusals, held_out)),
        )
    return table


@app.command("rule")
def rule(text: str) -> None:
    """Turn a sentence into a segment rule with the configured provider, and print it."""
    outcome = suggest_rule(text, base_catalog(), text_provider(get_settings()), LocalProvider())
    for note in outcome.notes:
        typer.echo(f"note: {note}", err=True)
    if outcome.refusal is not None:
        typer.echo(str(outcome.refusal), err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps((outcome.output() or {})["rule"], ensure_ascii=False))
    typer.echo(outcome.english)


@app.command("worker")
def worker() -> None:
    """Run the AI queue's jobs (campaign images and insights) until Ctrl-C or SIGTERM."""
    stop = threading.Event()

    def _stop(_signal: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    serve_health("ai-worker", get_settings().health_port, get_engine(), get_redis())
    typer.echo("AI worker: waiting for jobs (Ctrl-C to stop)")
    run_worker(get_engine(), get_redis(), get_settings(), HANDLERS, stop)
