"""Message templates: checked when a campaign is saved, rendered per customer from their features row.

Templates are Jinja2 in a sandbox (no access to Python internals, no file system), plain text (no HTML
escaping), except an e-mail campaign's HTML template (`html=True`): there every value is HTML-escaped (a
customer named `<script>` stays text) and the rendered HTML is sanitised (`engine.campaigns.html_sanitiser`).
Saving refuses a syntax error or a variable that is neither a feature in the catalog nor set
by the template itself, with the line and column of the problem. A feature that is unset for a customer
renders as nothing, or as the fallback given with `default`: `{{ first_name | default("there") }}`. Money,
numbers and dates are written as people read them with `money`, `number`, `date` and `datetime`
(`engine.campaigns.template_filters`): `{{ total_spend | money }}` is `₹42,690.00`, not `42690.0`.

The sandbox is also bounded (`engine.campaigns.template_sandbox`): no operator, filter or method may build
text longer than a message may be, loops and macros are capped, and a message longer than
`MAX_MESSAGE_CHARS` is refused for its customer, so one template cannot exhaust a worker. A template that
trips a bound whatever the customer's features is refused when it is checked, at the line and column of
the operator, filter or method; one that trips it only for some customers fails for them at launch.

Rendering a whole audience renders each distinct combination of the variables a template uses once,
so a million customers named from a few thousand first names cost a few thousand renders.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import polars as pl
from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, meta, nodes
from jinja2.exceptions import TemplateError as JinjaError
from jinja2.parser import Parser

from engine.campaigns.html_sanitiser import sanitise_html
from engine.campaigns.template_filters import FILTERS
from engine.campaigns.template_sandbox import (
    MAX_HTML_CHARS,
    MAX_MESSAGE_CHARS,
    BoundedSandbox,
    TooLarge,
    render_bounded,
)
from engine.channels.base import Channel, Size
from engine.channels.html_text import html_as_text
from engine.consent.opt_out import with_opt_out
from engine.errors import Invalid
from engine.features.catalog import Catalog
from engine.postgres_safe import NUL

RENDER_FAILED = "the template could not be rendered for this customer"
NO_MESSAGE = "write a message (an e-mail may give an HTML template instead, its text read off the HTML)"
RENDERED = pl.Schema({"message": pl.String(), "render_error": pl.String()})
MAX_NESTING = 50  # levels of a parsed template: compiling takes the square of it (98 levels took 2 s)
TOO_DEEP = f"the template nests more than {MAX_NESTING} levels deep"


def _default(value: Any, fallback: Any = "", boolean: bool = False) -> Any:
    """Jinja's `default`, also for features that are unset (None) for this customer."""
    if isinstance(value, Undefined) or value is None or (boolean and not value):
        return fallback
    return value


def _blank_for_none(value: Any) -> Any:
    return "" if value is None else value


def _environment(html: bool) -> BoundedSandbox:
    env = BoundedSandbox(
        undefined=StrictUndefined, finalize=_blank_for_none, autoescape=html, keep_trailing_newline=True
    )
    env.filters["default"] = env.filters["d"] = _default
    env.filters.update(FILTERS)
    return env


ENVIRONMENT = _environment(html=False)
HTML_ENVIRONMENT = _environment(html=True)


@dataclass(frozen=True)
class TemplateProblem:
    """One thing wrong with a template, at a 1-based line and column."""

    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


class TemplateError(Invalid, ValueError):
    """A template that does not compile or names unknown variables; `problems` lists each one."""

    error = "invalid_template"

    def __init__(self, problems: Iterable[TemplateProblem], part: str = "template") -> None:
        self.problems = tuple(problems)
        self.part = part  # which of the campaign's templates: "template" (the message), "subject", "html_template"
        super().__init__("; ".join(str(problem) for problem in self.problems))

    @property
    def detail(self) -> Any:
        return [{"part": self.part, "line": p.line, "column": p.column, "message": p.message} for p in self.problems]


@dataclass(frozen=True)
class _Token:
    line: int
    column: int
    kind: str
    value: str


def _tokens(source: str) -> tuple[list[_Token], tuple[int, int] | None]:
    """Every token with its position, and where lexing stopped if the lexer refused the source."""
    tokens: list[_Token] = []
    line, column = 1, 1
    try:
        for _, kind, value in ENVIRONMENT.lexer.tokeniter(source, None):
            tokens.append(_Token(line, column, kind, value))
            newlines = value.count("\n")
            line += newlines
            column = len(value) - value.rfind("\n") if newlines else column + len(value)
    except TemplateSyntaxError:
        return tokens, (line, column)
    return tokens, None


def _syntax_problem(error: TemplateSyntaxError, source: str, current: Any) -> TemplateProblem:
    message = error.message or "syntax error"
    tokens, stopped_at = _tokens(source)
    if stopped_at is not None:
        return TemplateProblem(*stopped_at, message)
    unknown_callable = re.match(r"No (?:filter|test) named '([^']+)'", message)
    if unknown_callable:
        wanted = unknown_callable.group(1)
    elif current.type != "eof":
        wanted = str(current.value)
    else:
        lines = source.split("\n")
        return TemplateProblem(len(lines), len(lines[-1]) + 1, message)
    line = error.lineno
    column = next((t.column for t in tokens if t.line == line and t.value == wanted), 1)
    return TemplateProblem(line, column, message)


def _name_column(tokens: list[_Token], name: str, line: int) -> int:
    return next((t.column for t in tokens if t.kind == "name" and t.value == name and t.line == line), 1)


@dataclass(frozen=True)
class MessageTemplate:
    """A checked template, and the features it reads; `html`: its values are escaped and its output sanitised."""

    source: str
    variables: tuple[str, ...]
    html: bool = False
    as_text: bool = False  # an HTML template read as plain text: the text part of an e-mail given only HTML

    def render(self, values: Mapping[str, Any]) -> str:
        """The message for one customer, from their feature values (a features row as a dict)."""
        rendered = render_bounded(self._compiled(), {name: values.get(name) for name in self.variables}, self.limit)
        return self._finished(rendered)

    @property
    def limit(self) -> int:
        """The longest output it may render: an HTML part's, or a message's."""
        return MAX_HTML_CHARS if self.html else MAX_MESSAGE_CHARS

    def _finished(self, rendered: str) -> str:
        if not self.html:
            return rendered
        sanitised = sanitise_html(rendered)
        return html_as_text(sanitised) if self.as_text else sanitised

    def _compiled(self) -> Any:
        return (HTML_ENVIRONMENT if self.html else ENVIRONMENT).from_string(self.source)

    def _render_one(self, compiled: Any, values: Mapping[str, Any]) -> tuple[str | None, str | None]:
        message, error = _render_one(compiled, values, self.limit)
        return (self._finished(message) if message is not None else message), error

    def render_frame(self, features: pl.DataFrame) -> pl.DataFrame:
        """`message` (None where rendering failed) and `render_error` for each row of `features`, in order."""
        compiled = self._compiled()
        used = list(self.variables)
        if not used:
            message, error = self._render_one(compiled, {})
            return pl.DataFrame(
                {"message": [message] * features.height, "render_error": [error] * features.height}, schema=RENDERED
            )
        distinct = features.select(used).unique()
        rendered = [self._render_one(compiled, row) for row in distinct.iter_rows(named=True)]
        distinct = distinct.with_columns(
            message=pl.Series([m for m, _ in rendered], dtype=pl.String),
            render_error=pl.Series([e for _, e in rendered], dtype=pl.String),
        )
        joined = features.select(used).join(distinct, on=used, how="left", nulls_equal=True, maintain_order="left")
        return joined.select("message", "render_error")


@dataclass(frozen=True)
class PreviewMessage:
    """The message one sample member would get, or why it cannot be rendered or sent to them; with its size as
    its channel counts it (characters, SMS segments) when the channel is known."""

    customer_id: int
    message: str | None
    error: str | None
    size: Size | None = None


def preview_messages(
    template: MessageTemplate, members: pl.DataFrame, limit: int = 5, channel: Channel | None = None
) -> list[PreviewMessage]:
    """The messages of the first `limit` members (feature rows), as the campaign would send them: on `channel`,
    ending with its opt-out line as the launch adds it (`with_opt_out`), measured, and refused when too long."""
    sample = members.head(limit)
    rendered = template.render_frame(sample)
    messages = rendered["message"] if channel is None else with_opt_out(rendered["message"], channel.opt_out)
    previews = []
    for customer_id, message, error in zip(
        sample["customer_id"].to_list(), messages.to_list(), rendered["render_error"].to_list(), strict=True
    ):
        if channel is None or message is None:
            previews.append(PreviewMessage(customer_id, message, error))
        else:
            previews.append(
                PreviewMessage(customer_id, message, error or channel.too_long(message), channel.size(message))
            )
    return previews


def _render_one(compiled: Any, values: Mapping[str, Any], limit: int) -> tuple[str | None, str | None]:
    try:
        return render_bounded(compiled, values, limit), None
    except (JinjaError, ArithmeticError, TypeError, ValueError, AttributeError, LookupError) as error:
        return None, f"{RENDER_FAILED}: {type(error).__name__}: {error}"


def check_template(source: str, catalog: Catalog, part: str = "template", html: bool = False) -> MessageTemplate:
    """The template if it compiles and uses only catalogued features; else `TemplateError` with positions
    (`part` names which of a campaign's templates it is: "template", the message, "subject" or "html_template";
    `html`: values are HTML-escaped and the output sanitised)."""
    environment = HTML_ENVIRONMENT if html else ENVIRONMENT
    if NUL in source:
        line = source.count("\n", 0, source.index(NUL))
        column = source.index(NUL) - source.rfind("\n", 0, source.index(NUL))
        raise TemplateError([TemplateProblem(line + 1, column, "a message cannot contain the NUL character")], part)
    state = Parser(environment, source)  # kept, because its token stream tells where a syntax error stopped
    try:
        tree = state.parse()
        too_deep = _too_deep(tree)
        if too_deep is not None:
            raise TemplateError([too_deep], part)
        environment.compile(tree)
    except TemplateSyntaxError as error:
        raise TemplateError([_syntax_problem(error, source, state.stream.current)], part) from None
    except RecursionError:
        raise TemplateError([TemplateProblem(state.stream.current.lineno, 1, TOO_DEEP)], part) from None
    variables = meta.find_undeclared_variables(tree)
    unknown = sorted(name for name in variables if name not in catalog)
    if unknown:
        tokens, _ = _tokens(source)
        first_use = {n.name: n.lineno for n in reversed(list(tree.find_all(nodes.Name))) if n.ctx == "load"}
        problems = [
            TemplateProblem(first_use[name], _name_column(tokens, name, first_use[name]), _unknown(name, catalog))
            for name in unknown
        ]
        raise TemplateError(sorted(problems, key=lambda p: (p.line, p.column)), part)
    template = MessageTemplate(source, tuple(sorted(variables)), html)
    tripped = _trips_a_bound(template)
    if tripped is not None:
        raise TemplateError([_bound_problem(tripped, source)], part)
    return template


class CampaignTemplates(NamedTuple):
    """A campaign's checked templates: its message, and its subject and HTML part where it has them. An e-mail
    given only an HTML template has its message (the text part) read off the rendered HTML."""

    message: MessageTemplate
    subject: MessageTemplate | None
    html: MessageTemplate | None


def check_campaign_templates(
    template: str, subject: str | None, html_template: str | None, catalog: Catalog
) -> CampaignTemplates:
    """Each of a campaign's templates checked (`check_template`); `TemplateError` names the one at fault. An
    empty message is taken from the HTML template, as text, when there is one."""
    html = check_template(html_template, catalog, part="html_template", html=True) if html_template else None
    if template.strip():
        message = check_template(template, catalog)
    elif html is not None:
        message = replace(html, as_text=True)
    else:
        raise TemplateError([TemplateProblem(1, 1, NO_MESSAGE)])
    return CampaignTemplates(message, check_template(subject, catalog, part="subject") if subject else None, html)


def _too_deep(tree: nodes.Template) -> TemplateProblem | None:
    """Where the template nests deeper than `MAX_NESTING`, if it does."""
    pending: list[tuple[nodes.Node, int]] = [(tree, 1)]
    while pending:
        node, depth = pending.pop()
        if depth > MAX_NESTING:
            return TemplateProblem(node.lineno, 1, TOO_DEEP)
        pending.extend((child, depth + 1) for child in node.iter_child_nodes())
    return None


def _trips_a_bound(template: MessageTemplate) -> TooLarge | None:
    """The bound the template trips for a customer with no features set (any, whatever their features),
    found by rendering it once: most templates that would take a worker's memory or CPU do so for everyone."""
    try:
        template.render({})
    except TooLarge as error:
        return error
    except (JinjaError, ArithmeticError, TypeError, ValueError, AttributeError, LookupError):
        return None  # a problem of this customer's (missing) values, not of the template
    return None


def _bound_problem(error: TooLarge, source: str) -> TemplateProblem:
    """Where in `source` the bound was tripped: the template line Jinja reports, at the token that did it."""
    line = 1
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == "<template>":
            line = trace.tb_lineno
        trace = trace.tb_next
    tokens, _ = _tokens(source)
    column = next((t.column for t in tokens if t.line == line and t.value == error.token), 1)
    return TemplateProblem(line, column, str(error))


def _unknown(name: str, catalog: Catalog) -> str:
    close = difflib.get_close_matches(name, [feature.name for feature in catalog], n=3)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    return f"unknown variable {name!r}: not a customer feature{hint}"
