"""Segments: the rule language, its checks and English, and the compilers that evaluate it.

A rule is a typed tree stored as JSON (`rules`), parsed and checked against the feature catalog
(`validation`), read back as a sentence (`english`), and compiled for Polars, DuckDB or SQL; the
backends agree on every rule, nulls included (see NULLS.md).
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
