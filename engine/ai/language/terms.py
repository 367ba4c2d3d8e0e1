"""The team's vocabulary: vague words ("VIP", "lapsed", "big spenders") and the rules they stand for.

A marketer says "VIPs in Bangalore"; the reader cannot know what the team counts as a VIP, so it uses
the team's definition and says so ("By “VIPs” I assumed total spend of ₹50,000 or more"). The built-in
definitions are in `terms.json` beside this module; a team edits them by pointing `XENO_AI_TERMS_FILE`
at a JSON file of the same shape, whose terms replace the built-in ones of the same name and add the rest.
Every term's rule is checked against the catalog when it is used, like any other rule.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from engine.ai.language.lexicon import FLAGS, compile_words


@dataclass(frozen=True)
class Term:
    """A vague word's meaning: the words that say it, the rule (JSON) it stands for, and that rule in words."""

    name: str
    words: tuple[str, ...]
    rule: Any
    meaning: str


class Terms:
    """The terms in use, found in text by their words (longest first, whole words only)."""

    def __init__(self, terms: tuple[Term, ...]) -> None:
        self.terms = terms
        self._by_word = {_normal(word): term for term in terms for word in term.words}
        escaped = (re.escape(word).replace(r"\ ", r"\s+") for word in self._by_word)
        self._pattern = re.compile(rf"(?:{compile_words(*escaped)})(?![\w-])", FLAGS) if self._by_word else None

    def match(self, text: str, pos: int) -> tuple[Term, int] | None:
        """The term whose words start at `pos`, and where they end."""
        found = self._pattern.match(text, pos) if self._pattern else None
        return (self._by_word[_normal(found.group())], found.end()) if found else None


def load_terms(team_file: Path | None = None) -> Terms:
    """The built-in terms, with the team's file (if any) replacing those of the same name and adding others."""
    if team_file is None:
        return _terms(None, 0)
    return _terms(str(team_file), team_file.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _terms(team_file: str | None, _modified_ns: int) -> Terms:
    built_in = _read(files("engine.ai.language").joinpath("terms.json").read_text(encoding="utf-8"))
    if team_file is None:
        return Terms(built_in)
    team = {term.name: term for term in _read(Path(team_file).read_text(encoding="utf-8"))}
    kept = tuple(team.pop(term.name, term) for term in built_in)
    return Terms((*kept, *team.values()))


def _read(text: str) -> tuple[Term, ...]:
    data = json.loads(text)
    return tuple(Term(item["name"], tuple(item["words"]), item["rule"], item["meaning"]) for item in data["terms"])


def _normal(words: str) -> str:
    return re.sub(r"\s+", " ", words.strip().lower())
