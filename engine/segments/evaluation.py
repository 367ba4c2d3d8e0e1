"""What every backend's evaluator offers: count, members, per-clause counts and "why is this customer in".

Each backend implements four small primitives; this base checks the rule against the catalog first and
builds the explanation tree the same way for all of them, so the API can swap backends freely.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from engine.features.catalog import Catalog
from engine.segments.english import describe
from engine.segments.rules import Condition, NeverPerformed, Performed, Rule, child_nodes
from engine.segments.validation import check_rule


class Explanation(BaseModel):
    """One node of a rule evaluated for one customer: whether it matched, and the values that decided."""

    model_config = ConfigDict(frozen=True)

    path: str
    sentence: str
    matched: bool
    field: str | None = None
    value: Any = None
    event_count: int | None = None
    children: tuple[Explanation, ...] = ()


@dataclass(frozen=True)
class CustomerFacts:
    """A backend's answer about one customer: each node's truth, field values and matching event counts."""

    matched: dict[str, bool]
    values: dict[str, Any] = field(default_factory=dict)
    event_counts: dict[str, int] = field(default_factory=dict)


class SegmentEvaluator(ABC):
    """Evaluates rules over one feature snapshot (and its events) at one reference time."""

    backend: ClassVar[str]
    catalog: Catalog

    def count(self, rule: Rule) -> int:
        """How many customers match."""
        check_rule(rule, self.catalog)
        return self._count(rule)

    def member_ids(self, rule: Rule, limit: int | None = None) -> list[int]:
        """The matching customers' ids, ascending (the first `limit` of them if given)."""
        check_rule(rule, self.catalog)
        return self._member_ids(rule, limit)

    def clause_counts(self, rule: Rule) -> dict[str, int]:
        """How many customers match each node, by path (the root's path is "")."""
        check_rule(rule, self.catalog)
        return self._clause_counts(rule)

    def explain(self, rule: Rule, customer_id: int) -> Explanation:
        """The rule tree for one customer: each node's value and the field values that decided it."""
        check_rule(rule, self.catalog)
        facts = self._customer_facts(rule, customer_id)
        return self._explanation(rule, "", facts)

    def _explanation(self, node: Rule, path: str, facts: CustomerFacts) -> Explanation:
        children = tuple(self._explanation(child, child_path, facts) for child_path, child in child_nodes(node, path))
        detail: dict[str, Any] = {}
        if isinstance(node, Condition):
            detail = {"field": node.field, "value": facts.values.get(node.field)}
        elif isinstance(node, Performed | NeverPerformed):
            detail = {"event_count": facts.event_counts[path]}
        return Explanation(
            path=path,
            sentence=describe(node, self.catalog),
            matched=facts.matched[path],
            children=children,
            **detail,
        )

    @abstractmethod
    def _count(self, rule: Rule) -> int: ...

    @abstractmethod
    def _member_ids(self, rule: Rule, limit: int | None) -> list[int]: ...

    @abstractmethod
    def _clause_counts(self, rule: Rule) -> dict[str, int]: ...

    @abstractmethod
    def _customer_facts(self, rule: Rule, customer_id: int) -> CustomerFacts:
        """Each node's truth by path, the values of the fields the rule tests, and event counts by path.

        Raises `CustomerNotFound` when the customer is not in the snapshot.
        """
