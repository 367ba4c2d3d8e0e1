"""Event names a rule uses that no customer has performed: not an error (an event the shop has only just started
sending has no rows yet), but usually a typo that makes a segment silently empty, so the caller is warned with
the names that are known."""

from __future__ import annotations

import difflib
from collections.abc import Collection

from engine.segments.operands import event_name
from engine.segments.rules import NeverPerformed, Performed, Rule, walk

LISTED_NAMES = 30  # a warning lists at most this many known names


def unknown_event_warnings(rule: Rule, known: Collection[str]) -> list[str]:
    """One warning per event the rule names that is not among `known`, suggesting the closest known name."""
    warnings = []
    listed = sorted(known)[:LISTED_NAMES]
    more = f" and {len(known) - LISTED_NAMES:,} more" if len(known) > LISTED_NAMES else ""
    names = f"the events known are {', '.join(repr(name) for name in listed)}{more}" if known else "no events yet"
    for path, node in walk(rule):
        if isinstance(node, Performed | NeverPerformed) and (name := event_name(node)) not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            warnings.append(f"{path or 'rule'}: no customer has performed {name!r}{hint}; {names}")
    return warnings
