"""`xeno ai ...`: measure the rule providers, try a sentence, and run the AI queue's worker."""

from __future__ import annotations

import json
import signal
import threading
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from types import FrameType

import typer
from rich.console import Console, Group
from rich.table import Table

from engine.ai.choice import local_provider, text_provider
from engine.ai.evals import PARTS, Case, Report, Result, evaluate, load_cases
from engine.ai.evals.intents import evaluate_intents, load_intent_cases
from engine.ai.jobs import HANDLERS
from engine.ai.openai_compatible import OpenAICompatibleProvider
from engine.ai.provider import TextProvider
from engine.ai.queue import run_worker
from engine.ai.rules import suggest_rule
from engine.connections import get_engine, get_redis
from engine.features.catalog import base_catalog
from engine.observability import observe_process
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
    show_held_out: bool = typer.Option(
        False, "--show-held-out", help="Also print the held-out cases it got wrong (never tune the reader on them)."
    ),
) -> None:
    """Score plain-language-to-rule providers on the development and held-out sets, each reported apart, and
    compare the providers side by side (by part and by style of phrasing); then the objective reader of
    message suggestions, on its own development and held-out sets."""
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
        shown = partial(_print_result, console, verbose=verbose, show_held_out=show_held_out)
        reports.append(evaluate(scored, cases, on_result=shown))
    console.print(compare_providers(reports))
    console.print(intent_scores())


def _provider(name: ProviderName) -> TextProvider:
    if name is ProviderName.local:
        return local_provider(get_settings())
    return OpenAICompatibleProvider.from_settings(get_settings())


def _print_result(console: Console, result: Result, *, verbose: bool, show_held_out: bool) -> None:
    if (result.correct and not verbose) or (result.case.part == "held-out" and not show_held_out):
        return
    mark = "[green]ok[/green]   " if result.correct else "[red]wrong[/red]"
    console.print(f"  {mark} {result.case.text}  [dim]({result.detail})[/dim]", highlight=False)


def compare_providers(reports: list[Report]) -> Group:
    """The providers side by side: development and held-out scores apart, then the held-out score per style."""
    summary = Table("provider", "model", "development", "held-out", title="Plain language to segment rules")
    for report in reports:
        parts = (report.tally(partial(_in_part, part=part)) for part in PARTS)
        summary.add_row(report.provider, report.model or "-", *(_score(*part) for part in parts))
    styles = sorted(
        {result.case.style for report in reports for result in report.results if result.case.part == "held-out"}
    )
    by_style = Table("held-out style", *(report.model or report.provider for report in reports))
    for style in styles:
        scores = (report.tally(partial(_in_part, part="held-out", style=style)) for report in reports)
        by_style.add_row(style, *(_score(*score) for score in scores))
    return Group(summary, by_style)


def intent_scores() -> Table:
    """How the objective reader of message suggestions (local, whichever provider writes) reads campaign
    objectives: development and held-out scores apart."""
    report = evaluate_intents(load_intent_cases())
    table = Table("reader", "development", "held-out", title="Campaign objectives to message intents")
    table.add_row("local", *(_score(*report.tally(held_out=held_out)) for held_out in (False, True)))
    return table


def _in_part(case: Case, part: str, style: str | None = None) -> bool:
    return case.part == part and (style is None or case.style == style)


def _score(right: int, total: int) -> str:
    return f"{right}/{total} ({right / total:.1%})" if total else "-"


@app.command("rule")
def rule(text: str) -> None:
    """Turn a sentence into a segment rule with the configured provider, and print it."""
    settings = get_settings()
    today = datetime.now(UTC).date()
    outcome = suggest_rule(text, base_catalog(), text_provider(settings), local_provider(settings), today)
    for note in outcome.notes:
        typer.echo(f"note: {note}", err=True)
    if outcome.refusal is not None:
        typer.echo(str(outcome.refusal), err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps((outcome.output() or {})["rule"], ensure_ascii=False))
    typer.echo(outcome.english)
    for question in outcome.questions:
        typer.echo(f"question: {question}")


@app.command("worker")
def worker() -> None:
    """Run the AI queue's jobs (campaign images and insights) until Ctrl-C or SIGTERM."""
    stop = threading.Event()

    def _stop(_signal: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    observe_process("xeno-ai-worker", get_settings())
    serve_health("ai-worker", get_settings().health_port, get_engine(), get_redis())
    typer.echo("AI worker: waiting for jobs (Ctrl-C to stop)")
    run_worker(get_engine(), get_redis(), get_settings(), HANDLERS, stop)
