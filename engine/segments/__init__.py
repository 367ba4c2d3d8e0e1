"""Segments: the rule language, its checks and English, and the compilers that evaluate it.

A rule is a typed tree stored as JSON (`rules`), parsed and checked against the feature catalog
(`validation`) and read back as a sentence (`english`). `operands` fixes what each condition means in
plain values; `polars_backend`, `duckdb_backend` and `sql_backend` each compile rules with one dispatch
and offer an evaluator (`evaluation.SegmentEvaluator`: count, member ids, per-clause counts, explain).
The backends agree on every rule, nulls included (see "Missing values (nulls)" in the README). The
backends are imported from their modules, so using the rule language alone does not load DuckDB or the
database schema.
"""

from engine.segments.english import describe
from engine.segments.errors import CustomerNotFound, Problem, RuleError, UnsupportedRule
from engine.segments.rules import (
    And,
    Condition,
    NeverPerformed,
    Not,
    Or,
    Performed,
    PropertyFilter,
    Rule,
    rule_json_schema,
    walk,
)
from engine.segments.validation import check_rule, dump_rule, parse_rule

__all__ = [
    "And",
    "Condition",
    "CustomerNotFound",
    "NeverPerformed",
    "Not",
    "Or",
    "Performed",
    "Problem",
    "PropertyFilter",
    "Rule",
    "RuleError",
    "UnsupportedRule",
    "check_rule",
    "describe",
    "dump_rule",
    "parse_rule",
    "rule_json_schema",
    "walk",
]
