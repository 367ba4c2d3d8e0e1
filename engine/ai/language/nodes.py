"""Building rule JSON as the parser reads: joining clauses, and turning a clause around for "not".

The parser builds plain rule JSON (the shape `engine.segments.parse_rule` reads) and has it checked
at the end. Negation reads the way people mean it: "didn't spend over ₹5K" is `total_spend <= 5000`,
"not in Pune" is `city not in [...]`, "never opened an email" is a `never` event condition; only what
has no natural opposite ("haven't ordered in 90 days") becomes a `not` group.
"""

from __future__ import annotations

from typing import Any

Node = dict[str, Any]
NO_VALUE = frozenset({"is set", "is not set"})

_OPPOSITE_OPS = {">": "<=", ">=": "<", "<": ">=", "<=": ">", "=": "!=", "!=": "=", "in": "not in",
                 "not in": "in", "is set": "is not set", "is not set": "is set"}  # fmt: skip


def join(kind: str, left: Node | None, right: Node | None) -> Node | None:
    """`left` and/or `right` as one group, flattening a group of the same kind ("a and b and c")."""
    if left is None or right is None:
        return left if right is None else right
    return {kind: [*left.get(kind, [left]), *right.get(kind, [right])]}


def negate(node: Node | None) -> Node | None:
    """The clause turned around, in the plainest form that means it."""
    if node is None:
        return None
    if "not" in node:
        return dict(node["not"])
    if "field" in node:
        op, value = node["op"], node.get("value")
        if isinstance(value, str) and op in ("<", "<=", ">", ">="):  # "not since May": nor ever, so no flip
            return {"not": node}
        if op == ">=" and value == 1 and _is_count(node["field"]):
            return {**node, "op": "=", "value": 0}  # "never ordered": no orders, rather than "fewer than 1"
        if op in _OPPOSITE_OPS and not (op in ("=", "!=") and isinstance(value, bool)):
            flipped = {**node, "op": _OPPOSITE_OPS[op]}
            return {key: item for key, item in flipped.items() if key != "value" or flipped["op"] not in NO_VALUE}
        if isinstance(value, bool) and op == "=":
            return {**node, "value": not value}
    if "event" in node:
        return _negate_event(node)
    if "never" in node:
        return {"event": node["never"], **_filters_and_window(node)}
    return {"not": node}


def _is_count(field: str) -> bool:
    return field == "order_count" or (field.startswith("orders_") and field.endswith("d"))


def _filters_and_window(node: Node) -> Node:
    return {key: node[key] for key in ("where", "within_days") if key in node}


def _negate_event(node: Node) -> Node:
    op, count = node.get("op", "at least"), node.get("count", 1)
    rest = _filters_and_window(node)
    if op == "at least" and count == 1:
        return {"never": node["event"], **rest}
    if op == "at least" and count > 1:
        return {"event": node["event"], "op": "at most", "count": count - 1, **rest}
    if op == "at most":
        return {"event": node["event"], "op": "at least", "count": count + 1, **rest}
    return {"not": node}


def condition(field: str, op: str, value: Any = None) -> Node:
    """A field condition; `value` is a tuple for `between` and lists."""
    if op in NO_VALUE:
        return {"field": field, "op": op}
    return {"field": field, "op": op, "value": list(value) if isinstance(value, tuple) else value}


def performed(event: str, op: str, count: int, within_days: int | None) -> Node:
    node: Node = {"event": event, "op": op, "count": count}
    if within_days is not None:
        node["within_days"] = within_days
    return node
