"""Templates that would eat a worker are refused quickly, before they build anything large.

Each template below once took 8-15 s and up to 2 GB of memory (or raised a RecursionError) while it built
its text, before the message's length cap could look at it. Now the bound trips first: when the template is
checked (it trips for everyone), with the line and column of what tripped it, or for the one customer whose
features trip it, at rendering.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from engine.campaigns.template_sandbox import MAX_MESSAGE_CHARS
from engine.campaigns.templates import MAX_NESTING, TemplateError, TemplateProblem, check_template, preview_messages
from engine.features.catalog import base_catalog
from tests.engine.campaigns.helpers import features

CATALOG = base_catalog()
QUICK_CPU_S = 3.0  # CPU time, which a loaded machine does not stretch: a bound trips in milliseconds
LITTLE_MEMORY = 50 * 1024 * 1024


@contextmanager
def quick_and_small() -> Iterator[None]:
    """Assert the block takes little CPU time and memory (the templates once took seconds and gigabytes)."""
    tracemalloc.start()
    started = time.process_time()
    try:
        yield
    finally:
        elapsed = time.process_time() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < QUICK_CPU_S, f"took {elapsed:.1f} s of CPU time"
    assert peak < LITTLE_MEMORY, f"used {peak / 2**20:.0f} MB"


def refusal(source: str) -> TemplateProblem:
    with quick_and_small(), pytest.raises(TemplateError) as refused:
        check_template(source, CATALOG)
    [problem] = refused.value.problems
    return problem


@pytest.mark.parametrize(
    ("source", "token", "says"),
    [
        ("Hi {{ first_name|center(1000000000) }}", "center", "`center`"),
        ("Hi\n{{ '{:>999999999}'.format(first_name) }}", "format", "`format` pads"),
        ("{{ '{x:_^999999999}'.format_map({'x': first_name}) }}", "format_map", "`format_map` pads"),
        ("{{ '%999999999s' % first_name }}", " % ", "`%` pads"),
        ("{{ '%*s' % (999999999, first_name) }}", " % ", "no width or precision from its arguments"),
        ("{{ '%.999999999f'|format(total_spend) }}", "format", "`format` pads"),
        ("{{ first_name|indent(999999999) }}", "indent", "`indent`"),
        ("{{ 'x'.ljust(999999999) }}", "ljust", "`ljust`"),
        ("{{ 'x'.rjust(999999999) }}", "rjust", "`rjust`"),
        ("{{ '7'.zfill(999999999) }}", "zfill", "`zfill`"),
        ("{{ '\t'.expandtabs(999999999) }}", "expandtabs", "`expandtabs`"),
        ("{{ 'x'.center(999999999) }}", "center", "`center`"),
        ("{{ ('x ' * 5000)|wordwrap(1, wrapstring='\n' * 5000) }}", "wordwrap", "`wordwrap`"),
        ("{{ 'aaaa'" + "|replace('a', 'aa')" * 20 + " }}", "replace", "`replace`"),
        ("{{ 'aaaa'" + ".replace('a', 'aa')" * 20 + " }}", "replace", "`replace`"),
        ("{{ (['x' * 10000] * 10000)|join }}", "join", "`join`"),
        ("{{ ','.join(['x' * 10000] * 10000) }}", "join", "`join`"),
        ("{{ [1, 2] * 999999999 }}", "*", "repeating"),
        ("{{ 'x' * 10**9 }}", "*", "repeating"),
        ("{{ 2 ** 100000 }}", "**", "powers"),
        ("{% for i in range(10**6) %}x{% endfor %}", "range", "range() is limited"),
        ("{{ ('x' * 10000).translate({120: 'y' * 10000}) }}", "translate", "`translate`"),
        ("{{ [1]|batch(999999999, 0)|list }}", "batch", "`batch`"),
        ("{{ [1]|slice(999999999)|list }}", "slice", "`slice`"),
        ("{{ [[[1]]]|tojson(999999999) }}", "tojson", "`tojson`"),
        (
            "{% set ns = namespace(s='x' * 5000) %}{% for i in range(30) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
            "{{ ns.s }}",
            "~",
            "`~`",
        ),
        (
            "{% set ns = namespace(l=[1] * 5000) %}{% for i in range(30) %}{% set ns.l = ns.l + ns.l %}{% endfor %}",
            "+",
            "`+`",
        ),
        (
            "{% set ns = namespace(n=2 ** 99) %}{% for i in range(30) %}{% set ns.n = ns.n * ns.n %}{% endfor %}"
            "{{ ns.n }}",
            " * ",
            "bits",
        ),
        ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "f", "macros call each other at most 20 deep"),
        (
            "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(18) }}",
            "f",
            "loop iterations and calls",
        ),
        (
            "{% for a in [1] * 1000 %}{% for b in [1] * 1000 %}{% for c in [1] * 1000 %}{% endfor %}{% endfor %}"
            "{% endfor %}",
            "for",
            "loop iterations and calls",
        ),
        ("{% for i in range(100) %}{% for j in range(100) %}xy{% endfor %}{% endfor %}", "", "longer than"),
    ],
)
def test_a_template_that_would_eat_the_worker_is_refused_at_once_where_it_trips(
    source: str, token: str, says: str
) -> None:
    problem = refusal(source)

    assert says in problem.message
    line = source.split("\n")[problem.line - 1]
    column = line.index(token) + len(token) - len(token.lstrip()) + 1 if token else 1
    assert problem.column == column, "at the first use of what tripped"


def test_a_macro_calling_itself_is_refused_not_a_recursion_error() -> None:
    problem = refusal("{% macro again() %}{{ again() }}{% endmacro %}{{ again() }}")

    assert "macros call each other" in problem.message


@pytest.mark.parametrize(
    "source",
    [
        "{{ " + "(" * 2000 + "1" + ")" * 2000 + " }}",  # was a RecursionError
        "{{ first_name" + ".lower()" * 130 + " }}",  # was a SyntaxError: too many nested parentheses
        "{{ first_name" + ".lower()" * 98 + " }}",  # took 2 s to compile
        "{{ first_name" + "|lower" * 800 + " }}",
    ],
)
def test_a_template_nested_too_deeply_to_compile_quickly_is_refused(source: str) -> None:
    problem = refusal(source)

    assert (problem.line, problem.message) == (1, f"the template nests more than {MAX_NESTING} levels deep")


def test_lorem_ipsum_is_not_offered() -> None:
    problem = refusal("{{ lipsum(100000) }}")

    assert "unknown variable 'lipsum'" in problem.message


def test_a_nul_character_is_refused_at_its_position() -> None:
    assert refusal("Hi\nthere\u0000") == TemplateProblem(2, 6, "a message cannot contain the NUL character")


def test_a_template_that_trips_a_bound_only_for_some_customers_fails_only_for_them() -> None:
    source = "Hi {{ first_name" + "|replace('a', 'aaaaaaaaaa')" * 5 + " }}!"
    template = check_template(source, CATALOG)

    with quick_and_small():
        sent = preview_messages(template, features(2, first_name=["Bob", "Anna"]))

    assert (sent[0].message, sent[0].error) == ("Hi Bob!", None)
    assert sent[1].message is None
    assert sent[1].error is not None
    assert "`replace` would make text or a list longer than" in sent[1].error


def test_ordinary_templates_keep_working_under_the_bounds() -> None:
    source = (
        "{% macro greet(name) %}Hi {{ name|default('there')|title }}{% endmacro %}{{ greet(first_name) }}, "
        "{{ '{:>6.1f}'.format(total_spend) }} | {{ '%05.1f' % total_spend }} | {{ 'a-b'.replace('-', ' ') }} | "
        "{{ [city, 'x']|join(', ') }} | {{ first_name|center(9) }}|{{ 'ab' ~ 'cd' }}|{{ 2 ** 10 * 3 }}|"
        "{% for i in range(3) %}{{ loop.index }}{% endfor %}|{{ (first_name ~ ' ') * 2 }}"
    )
    template = check_template(source, CATALOG)

    [sent] = preview_messages(template, features(1, first_name="ada", total_spend=12.34, city="Pune"))

    assert sent.error is None
    assert sent.message == "Hi Ada,   12.3 | 012.3 | a b | Pune, x |    ada   |abcd|3072|123|ada ada "
    assert len(sent.message) < MAX_MESSAGE_CHARS
