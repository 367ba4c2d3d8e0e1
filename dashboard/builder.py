"""The segment rule builder drawn with Streamlit's own widgets: nested bordered containers for AND/OR groups,
a row of inputs per condition (the operators and the value input fit the field's type: a pick list of the
snapshot's values for a category, an empty input with an example as its placeholder otherwise), each node with
how many customers it matches, the problems the API found in it, and what it still lacks.

The tree lives in session state (`TREE_KEY`); every widget is keyed by its node's index path
(`dashboard.rules.widget_key`). Adding or removing a node first reads the tree back from the widgets, then
changes it and forgets the builder's widget keys, so the widgets are filled again from the tree at their
new places.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from dashboard import formats, rules
from dashboard.rules import BuilderNode, Feature

TREE_KEY = "builder_tree"
MODE_WORDS = {"and": "ALL of these (AND)", "or": "ANY of these (OR)"}


@dataclass(frozen=True)
class NodeNotes:
    """What to show beside each node, by index path: matching customers, problems, and what an unfinished
    condition lacks; and where a category's values for its pick list come from."""

    counts: Mapping[str, int] = field(default_factory=dict)
    problems: Mapping[str, list[str]] = field(default_factory=dict)
    lacking: Mapping[str, str] = field(default_factory=dict)
    values_of: Callable[[str], list[str]] = lambda name: []


def tree() -> BuilderNode:
    if TREE_KEY not in st.session_state:
        st.session_state[TREE_KEY] = rules.empty_tree()
    node: BuilderNode = st.session_state[TREE_KEY]
    return node


def replace_tree(new: BuilderNode) -> None:
    """Put a new tree in the builder (a loaded segment, an AI suggestion): its widgets start from it."""
    for key in rules.builder_keys(list(st.session_state.keys())):
        del st.session_state[key]
    st.session_state[TREE_KEY] = new


def current_tree(catalog: Mapping[str, Feature]) -> BuilderNode:
    """The tree as the widgets show it now (kept as the builder's tree)."""
    read = rules.read_tree(tree(), st.session_state, catalog)
    st.session_state[TREE_KEY] = read
    return read


def _add(catalog: Mapping[str, Feature], group_path: str, kind: str) -> None:
    child = {
        rules.FIELD: lambda: rules.new_condition(catalog.values()),
        rules.EVENT: rules.new_event,
        rules.GROUP: lambda: rules.add_child(rules.empty_tree(), "", rules.new_condition(catalog.values())),
    }[kind]()
    replace_tree(rules.add_child(current_tree(catalog), group_path, child))


def _remove(catalog: Mapping[str, Feature], index_path: str) -> None:
    replace_tree(rules.remove_node(current_tree(catalog), index_path))


def action_key(index_path: str, action: str) -> str:
    """The key of a builder button (outside the widget keys, which are forgotten on every change of shape)."""
    return f"rule-do:{index_path or 'root'}:{action}"


def _seeded(key: str, start: Any, allowed: list[Any] | None = None) -> None:
    """Give the widget `key` its starting value unless it has a fitting one already."""
    if key not in st.session_state or (allowed is not None and st.session_state[key] not in allowed):
        st.session_state[key] = start


def draw(node: BuilderNode, catalog: Mapping[str, Feature], notes: NodeNotes, index_path: str = "") -> None:
    """Draw the node at `index_path` and, for a group, everything in it."""
    with st.container(border=True):
        if node.kind == rules.GROUP:
            _draw_group(node, catalog, notes, index_path)
        elif node.kind == rules.EVENT:
            _draw_event(node, catalog, notes, index_path)
        else:
            _draw_condition(node, catalog, notes, index_path)
        if index_path in notes.lacking:
            st.warning(notes.lacking[index_path], icon=":material/edit:")
        for problem in notes.problems.get(index_path, []):
            st.error(problem, icon="⚠️")


def _negation(node: BuilderNode, index_path: str) -> None:
    key = rules.widget_key(index_path, "not")
    _seeded(key, node.negated)
    st.checkbox("NOT", key=key)


def _count(notes: NodeNotes, index_path: str) -> None:
    if index_path in notes.counts:
        st.caption(f"{formats.number(notes.counts[index_path])} match")


def _remove_button(catalog: Mapping[str, Feature], index_path: str) -> None:
    if index_path:
        st.button(
            "",
            key=action_key(index_path, "remove"),
            icon=":material/delete:",
            help="Remove",
            on_click=_remove,
            args=(catalog, index_path),
        )


def _draw_group(node: BuilderNode, catalog: Mapping[str, Feature], notes: NodeNotes, index_path: str) -> None:
    head = st.columns([3, 1.2, 2, 0.6], vertical_alignment="center")
    mode_key = rules.widget_key(index_path, "mode")
    _seeded(mode_key, node.mode, list(rules.MODES))
    head[0].selectbox(
        "Group", rules.MODES, key=mode_key, format_func=MODE_WORDS.__getitem__, label_visibility="collapsed"
    )
    with head[1]:
        _negation(node, index_path)
    with head[2]:
        _count(notes, index_path)
    with head[3]:
        _remove_button(catalog, index_path)
    if not node.children:
        st.caption("Empty: add a condition or a group.")
    for number, child in enumerate(node.children):
        draw(child, catalog, notes, f"{index_path}.{number}" if index_path else str(number))
    buttons = st.columns(3)
    for column, (kind, label) in zip(
        buttons, ((rules.FIELD, "Condition"), (rules.EVENT, "Event condition"), (rules.GROUP, "Group")), strict=True
    ):
        column.button(
            label,
            key=action_key(index_path, f"add_{kind}"),
            icon=":material/add:",
            on_click=_add,
            args=(catalog, index_path, kind),
        )


def _draw_condition(node: BuilderNode, catalog: Mapping[str, Feature], notes: NodeNotes, index_path: str) -> None:
    columns = st.columns([4, 3.4, 4.6], vertical_alignment="center")
    field_key = rules.widget_key(index_path, "field")
    names = list(catalog)
    _seeded(field_key, node.field if node.field in catalog else names[0], names)
    columns[0].selectbox(
        "Field", names, key=field_key, format_func=lambda name: catalog[name].label, label_visibility="collapsed"
    )
    feature = catalog[st.session_state[field_key]]
    op_key = rules.widget_key(index_path, "op")
    operators = list(feature.operators)
    _seeded(op_key, node.op if node.op in operators else operators[0], operators)
    columns[1].selectbox("Operator", operators, key=op_key, label_visibility="collapsed")
    op = st.session_state[op_key]
    kind = rules.value_kind(feature, op)
    with columns[2]:
        if kind is not None:
            keys = rules.value_keys(index_path, kind, op)
            for key, start in zip(keys, rules.starting_values(node, kind, op, feature), strict=True):
                _seeded(key, start)
                label = "and" if key == keys[-1] and len(keys) == 2 else "Value"
                _value_input(kind, key, feature, label, notes.values_of)
    _footer(node, catalog, notes, index_path)


def _footer(node: BuilderNode, catalog: Mapping[str, Feature], notes: NodeNotes, index_path: str) -> None:
    """A condition's second line: NOT, how many it matches, and its remove button (a line of their own, so the
    inputs above get the width their full labels need)."""
    row = st.container(horizontal=True, vertical_alignment="center", gap="medium")
    with row:
        _negation(node, index_path)
        _count(notes, index_path)
        _remove_button(catalog, index_path)


def _example(feature: Feature) -> str:
    return f"e.g. {feature.examples[0]}" if feature.examples else ""


def _value_input(kind: str, key: str, feature: Feature, label: str, values_of: Callable[[str], list[str]]) -> None:
    hidden: Any = "collapsed" if label == "Value" else "visible"
    if kind == "number":
        st.number_input(
            label, key=key, step=1.0, format="%g", placeholder=_example(feature), label_visibility=hidden
        )  # %g: 500 reads 500, not 500.00
    elif kind in ("integer", "days"):
        st.number_input(
            f"{label} (days)" if kind == "days" else label,
            key=key,
            step=1,
            min_value=0 if kind == "days" else None,
            placeholder=_example(feature),
            label_visibility=hidden if kind == "integer" else "visible",
        )
    elif kind == "choice":
        chosen = st.session_state.get(key)
        options = list(dict.fromkeys([*values_of(feature.name), *([chosen] if chosen else [])]))
        st.selectbox(
            label, options, key=key, accept_new_options=True, placeholder="Pick a value", label_visibility=hidden
        )
    elif kind == "boolean":
        st.selectbox(
            label, [True, False], key=key, format_func=lambda value: "yes" if value else "no", label_visibility=hidden
        )
    elif kind == "date":
        st.date_input(label, key=key, label_visibility=hidden)
    elif kind == "choices":
        chosen = list(st.session_state.get(key, []))
        options = list(dict.fromkeys([*values_of(feature.name), *chosen]))
        st.multiselect(
            label, options, key=key, accept_new_options=True, label_visibility=hidden, placeholder="Pick or type values"
        )
    elif kind == "list":
        examples = ", ".join(map(str, feature.examples)) or "a, b"
        st.text_input(label, key=key, placeholder=f"comma separated, e.g. {examples}", label_visibility=hidden)
    else:
        st.text_input(label, key=key, placeholder=_example(feature), label_visibility=hidden)


def _draw_event(node: BuilderNode, catalog: Mapping[str, Feature], notes: NodeNotes, index_path: str) -> None:
    columns = st.columns([3.6, 3, 2.4, 2.6], vertical_alignment="bottom")
    event_key, op_key = rules.widget_key(index_path, "event"), rules.widget_key(index_path, "op")
    count_key, within_key = rules.widget_key(index_path, "count"), rules.widget_key(index_path, "within")
    _seeded(event_key, node.event)
    _seeded(op_key, node.op if node.op in rules.COUNT_OPS else "at least", list(rules.COUNT_OPS))
    _seeded(count_key, node.count)
    _seeded(within_key, node.within_days or 0)
    columns[0].text_input("Event", key=event_key, placeholder="event name, e.g. purchase")
    columns[1].selectbox("Performed", rules.COUNT_OPS, key=op_key)
    if st.session_state[op_key] != "never":
        columns[2].number_input("times", key=count_key, step=1, min_value=0)
    columns[3].number_input(
        "within days", key=within_key, step=1, min_value=0, help="In the last this many days; 0: ever."
    )
    _footer(node, catalog, notes, index_path)
    if node.where:
        st.caption(
            f"Also filtered by {len(node.where)} event propert{'y' if len(node.where) == 1 else 'ies'} "
            "(edit them in the rule's JSON)."
        )
