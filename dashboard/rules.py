"""The rule builder's model, apart from any widget: a tree of groups and conditions, to and from rule JSON.

The builder edits `BuilderNode`s. Each node is addressed by its *index path* ("" the root group, "0" its
first child, "0.2" that child's third child), which does not change when a group switches between AND
and OR or a node is negated, so the widgets keyed by it keep their values. `compile_rule` turns the tree
into the rule JSON of the API (README, "Segment rules"; empty groups left out) together with each node's
path *in that rule* ("and[0].or[1]"), which is how the API keys per-clause counts and problems.

Widget values live in a plain mapping (Streamlit's session state) under `widget_key(path, part)`;
`read_tree` rebuilds the tree from them, and `value_kind` / `widget_value` / `rule_value` convert a
condition's value between the rule and the input that fits its field's type and operator. A condition starts
without a value (its input shows an example as a placeholder, never as a value); `unfinished` names the
conditions still without a usable value, which `compile_rule` leaves out until they have one.
"""

from __future__ import annotations

import textwrap
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from dashboard import formats

GROUP, FIELD, EVENT = "group", "field", "event"
MODES = ("and", "or")
COUNT_OPS = ("at least", "at most", "exactly", "never")
NO_VALUE_OPS = frozenset({"is set", "is not set"})
DAYS_OPS = frozenset({"within last days", "more than days ago"})
LIST_OPS = frozenset({"in", "not in"})
KEY_PREFIX = "rule:"


@dataclass(frozen=True)
class Feature:
    """A catalogued field as `GET /v1/features` describes it."""

    name: str
    type: str
    label: str
    operators: tuple[str, ...]
    examples: tuple[Any, ...] = ()

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> Feature:
        return cls(item["name"], item["type"], item["label"], tuple(item["operators"]), tuple(item.get("examples", ())))


@dataclass(frozen=True)
class BuilderNode:
    """A group (`mode` and `children`), a field condition (`field`, `op`, `value`) or an event condition
    (`event`, `op` one of COUNT_OPS, `count`, `within_days`, property filters kept as given in `where`)."""

    kind: str
    negated: bool = False
    mode: str = "and"
    children: tuple[BuilderNode, ...] = ()
    field: str = ""
    op: str = ""
    value: Any = None
    event: str = ""
    count: int = 1
    within_days: int | None = None
    where: tuple[Any, ...] = ()


@dataclass(frozen=True)
class CompiledRule:
    """The rule JSON (None while every group is empty) and each node's rule path by its index path."""

    rule: dict[str, Any] | None
    rule_paths: dict[str, str] = field(default_factory=dict)

    def index_path_of(self, rule_path: str) -> str | None:
        """The builder node at `rule_path`, or the nearest one above it (a problem may name a node's part)."""
        by_rule_path = {value: key for key, value in self.rule_paths.items()}
        candidate = rule_path
        while candidate not in by_rule_path:
            if not candidate:
                return None
            candidate = candidate.rpartition(".")[0]
        return by_rule_path[candidate]


def empty_tree() -> BuilderNode:
    return BuilderNode(GROUP)


def tree_of(rule: Mapping[str, Any] | None) -> BuilderNode:
    """The builder tree of a rule; its root is always a group (a lone condition is put in an AND group)."""
    if not rule:
        return empty_tree()
    node = _node_of(rule, negated=False)
    return node if node.kind == GROUP else BuilderNode(GROUP, children=(node,))


def _node_of(rule: Mapping[str, Any], negated: bool) -> BuilderNode:
    if "not" in rule:
        return _node_of(rule["not"], not negated)
    for mode in MODES:
        if mode in rule:
            return BuilderNode(
                GROUP, negated, mode=mode, children=tuple(_node_of(child, False) for child in rule[mode])
            )
    where = tuple(rule.get("where", ()))
    if "field" in rule:
        return BuilderNode(FIELD, negated, field=rule["field"], op=rule["op"], value=rule.get("value"))
    if "never" in rule:
        return BuilderNode(
            EVENT, negated, event=rule["never"], op="never", within_days=rule.get("within_days"), where=where
        )
    if "event" in rule:
        op, count = rule.get("op", "at least"), int(rule.get("count", 1))
        return BuilderNode(
            EVENT, negated, event=rule["event"], op=op, count=count, within_days=rule.get("within_days"), where=where
        )
    raise ValueError(f"not a rule node: {dict(rule)}")


def compile_rule(root: BuilderNode, leave_out: Collection[str] = ()) -> CompiledRule:
    """The rule of the tree, without the nodes at the index paths in `leave_out` (unfinished conditions)."""
    rule, paths = _compile(root, "", "", frozenset(leave_out))
    return CompiledRule(rule, paths)


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path else part


def _compile(
    node: BuilderNode, index_path: str, rule_path: str, leave_out: frozenset[str]
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    if index_path in leave_out:
        return None, {}
    inner_path = _join(rule_path, "not") if node.negated else rule_path
    paths = {index_path: rule_path}
    body: dict[str, Any]
    if node.kind == GROUP:
        kept: list[dict[str, Any]] = []
        for number, child in enumerate(node.children):
            child_rule, child_paths = _compile(
                child, _join(index_path, str(number)), _join(inner_path, f"{node.mode}[{len(kept)}]"), leave_out
            )
            if child_rule is not None:
                kept.append(child_rule)
                paths.update(child_paths)
        if not kept:
            return None, {}
        body = {node.mode: kept}
    elif node.kind == FIELD:
        body = {"field": node.field, "op": node.op}
        if node.op not in NO_VALUE_OPS:
            body["value"] = node.value
    else:
        body = (
            {"never": node.event} if node.op == "never" else {"event": node.event, "op": node.op, "count": node.count}
        )
        if node.within_days:
            body["within_days"] = node.within_days
        if node.where:
            body["where"] = list(node.where)
    return ({"not": body} if node.negated else body), paths


# --- editing the tree by index path ---


def node_at(root: BuilderNode, index_path: str) -> BuilderNode:
    node = root
    for number in _indices(index_path):
        node = node.children[number]
    return node


def _indices(index_path: str) -> list[int]:
    return [int(part) for part in index_path.split(".")] if index_path else []


def _replace_at(root: BuilderNode, indices: list[int], change: Any) -> BuilderNode:
    if not indices:
        result: BuilderNode = change(root)
        return result
    children = list(root.children)
    children[indices[0]] = _replace_at(children[indices[0]], indices[1:], change)
    return replace(root, children=tuple(children))


def add_child(root: BuilderNode, group_path: str, child: BuilderNode) -> BuilderNode:
    return _replace_at(root, _indices(group_path), lambda group: replace(group, children=(*group.children, child)))


def remove_node(root: BuilderNode, index_path: str) -> BuilderNode:
    *parent, number = _indices(index_path)

    def without(group: BuilderNode) -> BuilderNode:
        return replace(group, children=group.children[:number] + group.children[number + 1 :])

    return _replace_at(root, parent, without)


def new_condition(features: Iterable[Feature]) -> BuilderNode:
    """A condition to start from, without a value yet: on the first number field (spend, most likely), else the
    first field."""
    features = list(features)
    first = next((feature for feature in features if feature.type == "number"), features[0])
    return BuilderNode(FIELD, field=first.name, op=first.operators[0])


def new_event() -> BuilderNode:
    return BuilderNode(EVENT, event="", op="at least", count=1, within_days=30)


# --- widget state ---


def widget_key(index_path: str, part: str) -> str:
    """The session-state key of one widget of the node at `index_path` (`rule:root:mode`, `rule:0.1:field`)."""
    return f"{KEY_PREFIX}{index_path or 'root'}:{part}"


def value_kind(feature: Feature, op: str) -> str | None:
    """Which input fits a value of `feature` under `op`: number, integer, text, boolean, date, days, list,
    choices (several of a category's values), choice (one of them); None: the operator takes no value.
    `between` uses two inputs of the kind."""
    if op in NO_VALUE_OPS:
        return None
    if op in DAYS_OPS:
        return "days"
    if op in LIST_OPS:
        return "choices" if feature.type == "category" else "list"
    if feature.type == "category":
        return "choice"
    return {"number": "number", "integer": "integer", "boolean": "boolean", "datetime": "date", "date": "date"}.get(
        feature.type, "text"
    )


def widget_value(kind: str, value: Any) -> Any:
    """A rule value as the input of `kind` shows it: empty when the value does not fit (but a day count, which
    starts at 30)."""
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "number":
        return float(value) if numeric else None
    if kind in ("integer", "days"):
        return int(value) if numeric else (30 if kind == "days" else None)
    if kind == "boolean":
        return value if isinstance(value, bool) else True
    if kind == "date":
        try:
            return date.fromisoformat(str(value)[:10])
        except ValueError:
            return date.today()
    if kind == "list":
        return ", ".join(str(item) for item in value) if isinstance(value, list | tuple) else ""
    if kind == "choices":
        return [str(item) for item in value] if isinstance(value, list | tuple) else []
    if kind == "choice":
        return None if value is None else str(value)
    return value if isinstance(value, str) else ""


def rule_value(kind: str, shown: Any, feature: Feature) -> Any:
    """What an input of `kind` holds, as the rule's value for `feature` (None while it is empty)."""
    if shown is None:
        return None
    if kind == "number":
        return float(shown)
    if kind in ("integer", "days"):
        return int(shown)
    if kind == "date":
        return f"{shown.isoformat()}T00:00:00Z" if feature.type == "datetime" else shown.isoformat()
    if kind == "list":
        return [_typed(item.strip(), feature) for item in str(shown).split(",") if item.strip()]
    if kind == "choices":
        return list(shown)
    return shown


def _typed(text: str, feature: Feature) -> Any:
    if feature.type == "integer":
        try:
            return int(text)
        except ValueError:
            return text
    if feature.type == "number":
        try:
            return float(text)
        except ValueError:
            return text
    return text


def current(state: Mapping[Any, Any], key: str, default: Any, allowed: Iterable[Any] | None = None) -> Any:
    """The widget's value in `state`, else `default`; one outside `allowed` counts as missing."""
    if key in state:
        value = state[key]
        if allowed is None or value in list(allowed):
            return value
    return default


def read_tree(
    node: BuilderNode, state: Mapping[Any, Any], catalog: Mapping[str, Feature], index_path: str = ""
) -> BuilderNode:
    """The tree as the widgets now show it (a node without widgets yet keeps its values)."""
    negated = bool(current(state, widget_key(index_path, "not"), node.negated))
    if node.kind == GROUP:
        children = tuple(
            read_tree(child, state, catalog, _join(index_path, str(number)))
            for number, child in enumerate(node.children)
        )
        mode = current(state, widget_key(index_path, "mode"), node.mode, MODES)
        return replace(node, negated=negated, mode=mode, children=children)
    if node.kind == EVENT:
        return replace(
            node,
            negated=negated,
            event=str(current(state, widget_key(index_path, "event"), node.event)).strip(),
            op=current(state, widget_key(index_path, "op"), node.op, COUNT_OPS),
            count=int(current(state, widget_key(index_path, "count"), node.count)),
            within_days=int(current(state, widget_key(index_path, "within"), node.within_days or 0)) or None,
        )
    feature = field_of(node, state, catalog, index_path)
    op = op_of(node, state, feature, index_path)
    return replace(
        node, negated=negated, field=feature.name, op=op, value=value_of(node, state, feature, op, index_path)
    )


def field_of(node: BuilderNode, state: Mapping[Any, Any], catalog: Mapping[str, Feature], index_path: str) -> Feature:
    default = node.field if node.field in catalog else next(iter(catalog))
    return catalog[current(state, widget_key(index_path, "field"), default, catalog)]


def op_of(node: BuilderNode, state: Mapping[Any, Any], feature: Feature, index_path: str) -> str:
    default = node.op if node.op in feature.operators else feature.operators[0]
    op: str = current(state, widget_key(index_path, "op"), default, feature.operators)
    return op


def value_keys(index_path: str, kind: str, op: str) -> list[str]:
    """The keys of a condition's value inputs: one, or two for `between` (kind in the key, so a change of
    type never hands an input a value of the wrong type)."""
    parts = ["low", "high"] if op == "between" else ["value"]
    return [widget_key(index_path, f"{part}:{kind}") for part in parts]


def starting_values(node: BuilderNode, kind: str, op: str, feature: Feature) -> list[Any]:
    """What the value inputs start with: the node's value, or nothing once the field has changed."""
    value = node.value if node.field == feature.name else None
    if op == "between":
        pair = value if isinstance(value, list | tuple) and len(value) == 2 else (None, None)
        return [widget_value(kind, pair[0]), widget_value(kind, pair[1])]
    return [widget_value(kind, value)]


def value_of(node: BuilderNode, state: Mapping[Any, Any], feature: Feature, op: str, index_path: str) -> Any:
    kind = value_kind(feature, op)
    if kind is None:
        return None
    shown = [
        current(state, key, start)
        for key, start in zip(value_keys(index_path, kind, op), starting_values(node, kind, op, feature), strict=True)
    ]
    values = [rule_value(kind, item, feature) for item in shown]
    return values if op == "between" else values[0]


def value_problem(node: BuilderNode, feature: Feature | None) -> str | None:
    """Why a field condition's value cannot be used yet (none given, a word where a number goes), or None."""
    if node.kind != FIELD or node.op in NO_VALUE_OPS:
        return None
    items = list(node.value) if isinstance(node.value, list | tuple) else [node.value]
    if not items or any(item is None or (isinstance(item, str) and not item.strip()) for item in items):
        return "Give it a value: the condition counts once it has one."
    if feature is not None and feature.type in ("number", "integer"):
        words = [item for item in items if isinstance(item, str)]
        if words:
            whole = "a whole number" if feature.type == "integer" else "a number"
            return f"“{words[0]}” is not {whole}: type digits only, e.g. 1200."
    return None


def unfinished(root: BuilderNode, catalog: Mapping[str, Feature], index_path: str = "") -> dict[str, str]:
    """The conditions without a usable value yet, by index path, each with what is missing."""
    if root.kind == GROUP:
        found: dict[str, str] = {}
        for number, child in enumerate(root.children):
            found.update(unfinished(child, catalog, _join(index_path, str(number))))
        return found
    problem = value_problem(root, catalog.get(root.field))
    return {} if problem is None else {index_path: problem}


def builder_keys(state: Iterable[Any]) -> list[str]:
    """Every builder widget key in `state` (to forget them all after the tree's shape changed)."""
    return [key for key in state if isinstance(key, str) and key.startswith(KEY_PREFIX)]


# --- drawing ---


def describe_node(rule: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    """A rule node in a few words, for the tree drawing."""
    if "not" in rule:
        return "NOT"
    if "and" in rule:
        return "ALL of"
    if "or" in rule:
        return "ANY of"
    if "field" in rule:
        value = "" if rule["op"] in NO_VALUE_OPS else f" {_value_text(rule.get('value'))}"
        return f"{labels.get(rule['field'], rule['field'])} {rule['op']}{value}"
    window = f" in the last {rule['within_days']} days" if rule.get("within_days") else ""
    if "never" in rule:
        return f"never {rule['never']}{window}"
    return f"{rule['event']} {rule.get('op', 'at least')} {rule.get('count', 1)}×{window}"


def clause_text(rule: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    """A whole clause in a line: a condition as `describe_node` says it, a group as its parts joined by its mode
    ("(total spend > 1000 OR order count >= 3)"), a negation with NOT before it."""
    if "not" in rule:
        return f"NOT {clause_text(rule['not'], labels)}"
    for mode in MODES:
        if mode in rule:
            parts = [clause_text(child, labels) for child in rule[mode]]
            return parts[0] if len(parts) == 1 else "(" + f" {mode.upper()} ".join(parts) + ")"
    return describe_node(rule, labels)


def _value_text(value: Any) -> str:
    """A rule value as it reads: numbers grouped without a trailing `.0`, lists in brackets, the rest as given."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(_value_text, value)) + "]"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return formats.number(value)
    return str(value)


DOT_LINE_CHARS = 24  # the longest line of a node's label in the rule drawing


def rule_dot(rule: Mapping[str, Any], counts: Mapping[str, int], labels: Mapping[str, str]) -> str:
    """The rule as a Graphviz DOT graph, each node with how many customers it matches (when counted).

    Drawn top to bottom with labels wrapped at `DOT_LINE_CHARS`, so it stays readable on a phone (390 px): its
    width grows with the clauses side by side, not with the rule's depth times its longest label."""
    lines = [
        "digraph rule {",
        "  rankdir=TB; nodesep=0.15; ranksep=0.3;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];',
    ]

    def draw(node: Mapping[str, Any], path: str) -> str:
        name = f"n{len(lines)}"
        is_group = any(key in node for key in ("and", "or", "not"))
        count = f"\\n{_customers(counts[path])}" if path in counts else ""
        colour = "#E0E7FF" if is_group else "#F1F5F9"
        wrapped = textwrap.wrap(describe_node(node, labels), DOT_LINE_CHARS, break_on_hyphens=False)
        text = "\\n".join(_dot_text(line) for line in wrapped)
        lines.append(f'  {name} [label="{text}{count}", fillcolor="{colour}"];')
        for child_path, child in _children(node, path):
            lines.append(f"  {name} -> {draw(child, child_path)};")
        return name

    draw(rule, "")
    lines.append("}")
    return "\n".join(lines)


def _customers(count: int) -> str:
    return f"{count:,} customer{'' if count == 1 else 's'}"


def _children(node: Mapping[str, Any], path: str) -> list[tuple[str, Mapping[str, Any]]]:
    if "not" in node:
        return [(_join(path, "not"), node["not"])]
    for mode in MODES:
        if mode in node:
            return [(_join(path, f"{mode}[{number}]"), child) for number, child in enumerate(node[mode])]
    return []


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
