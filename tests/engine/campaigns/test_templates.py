"""Templates: refused at save time with the position of the problem, rendered per customer with defaults."""

from __future__ import annotations

import polars as pl
import pytest

from engine.campaigns.templates import TemplateError, TemplateProblem, check_template, preview_messages
from engine.features.catalog import base_catalog
from tests.engine.campaigns.helpers import OFFER, features

CATALOG = base_catalog()


def problems(source: str) -> list[TemplateProblem]:
    with pytest.raises(TemplateError) as refused:
        check_template(source, CATALOG)
    return list(refused.value.problems)


def test_an_unknown_variable_is_refused_at_its_line_and_column_with_a_suggestion() -> None:
    [problem] = problems("Hello!\nHi {{ frist_name }}, 10% off")

    assert (problem.line, problem.column) == (2, 7)
    assert "frist_name" in problem.message
    assert "first_name" in problem.message


def test_every_unknown_variable_is_listed_in_reading_order() -> None:
    found = problems("{{ spend }} and {{ tier }}\n{{ first_name }} {{ tier }}")

    assert [(p.line, p.column) for p in found] == [(1, 4), (1, 20)]


@pytest.mark.parametrize(
    ("source", "line", "column"),
    [
        ("Hi {{ first_name }\nbye", 1, 18),  # the lexer stops at the lone brace
        ("one\n  {{ first_name + }} x", 2, 19),  # the parser stops at the end of the expression
        ("Hi {% if first_name %} yo", 1, 26),  # the block is never closed: the end of the template
        ("Hi {{ first_name | shout }}", 1, 20),  # no such filter
    ],
)
def test_a_syntax_error_is_refused_with_its_position(source: str, line: int, column: int) -> None:
    [problem] = problems(source)

    assert (problem.line, problem.column) == (line, column)


def test_variables_the_template_sets_itself_are_not_features() -> None:
    template = check_template("{% set n = 2 %}{% for i in [1] %}{{ n }}{{ i }}{% endfor %} {{ city }}", CATALOG)

    assert template.variables == ("city",)
    assert template.render({"city": "Pune"}) == "21 Pune"


def test_default_stands_in_for_unset_features_and_unset_ones_without_it_render_empty() -> None:
    template = check_template("Hi {{ first_name | default('there') }} from {{ city }}.", CATALOG)

    assert template.render({"first_name": None, "city": None}) == "Hi there from ."
    assert template.render({"first_name": "Asha", "city": "Agra"}) == "Hi Asha from Agra."


def test_rendering_a_frame_gives_each_row_its_message_in_order() -> None:
    frame = features(6, first_name=["Asha", None, "Ravi", "Asha", None, "Meera"])
    rendered = check_template(OFFER, CATALOG).render_frame(frame)

    assert rendered["message"].to_list() == [
        f"Hi {name}, here is 10% off on your next order!"
        for name in ["Asha", "there", "Ravi", "Asha", "there", "Meera"]
    ]


def test_a_customer_the_template_cannot_be_rendered_for_gets_the_reason_not_a_message() -> None:
    frame = features(3, total_spend=[10.0, 0.0, 5.0])
    rendered = check_template("{{ 100 / total_spend }}", CATALOG).render_frame(frame)

    assert rendered["message"].to_list() == ["10.0", None, "20.0"]
    assert rendered["render_error"][1].startswith("the template could not be rendered")
    assert "ZeroDivisionError" in rendered["render_error"][1]


def test_the_sandbox_refuses_reaching_into_python() -> None:
    rendered = check_template("{{ first_name.__class__.__mro__ }}", CATALOG).render_frame(features(1))

    assert rendered["message"].to_list() == [None]
    assert "SecurityError" in rendered["render_error"][0]


def test_a_preview_renders_the_message_for_sample_members() -> None:
    frame = features(10, first_name=[None, *[f"N{i}" for i in range(9)]])

    sample = preview_messages(check_template(OFFER, CATALOG), frame, limit=2)

    assert [(m.customer_id, m.message) for m in sample] == [
        (1, "Hi there, here is 10% off on your next order!"),
        (2, "Hi N0, here is 10% off on your next order!"),
    ]


def test_a_template_without_variables_renders_the_same_text_for_everyone() -> None:
    rendered = check_template("Sale ends tonight!", CATALOG).render_frame(features(3))

    assert rendered["message"].to_list() == ["Sale ends tonight!"] * 3
    assert rendered.schema["render_error"] == pl.String


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("{{ first_name * 100000 }}", "repeating text"),
        ("{% for i in range(100) %}{{ first_name }}{% endfor %}", "longer than"),
    ],
)
def test_a_template_that_would_exhaust_the_worker_is_stopped_for_each_customer(source: str, why: str) -> None:
    [preview] = preview_messages(check_template(source, CATALOG), features(1, first_name="Ada" * 34))

    assert preview.message is None
    assert preview.error is not None
    assert why in preview.error


def test_ordinary_arithmetic_and_repetition_still_render() -> None:
    template = check_template("{{ first_name }}: {{ (total_spend * 0.1) | round | int }} back {{ '*' * 3 }}", CATALOG)

    [preview] = preview_messages(template, features(1, first_name="Ada", total_spend=1234.0))

    assert preview.message == "Ada: 123 back ***"
