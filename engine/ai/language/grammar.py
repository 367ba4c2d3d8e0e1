"""How clauses combine: and / or / not, commas, parentheses, and the words that only join.

    sentence  := part ((", or" | ", and" | ", but") part)*     a comma before a joining word ends a part
    part      := all ("or" all)*                                "or" binds looser than "and"
    all       := one (("and" | "but" | "," | nothing) one)*     "in Mumbai who spent ..." is an "and"
    one       := "not" one | "(" sentence ")" | clause

So "spent over ₹10K but ordered fewer than 3 times, or haven't bought anything in 90 days" reads as
(A and B) or C, and "in Mumbai or Delhi, and opted in to SMS" as (A or B) and C. Words that name no
condition ("customers", "who", "have") are skipped; any other word no clause can read is recorded with
its position, and the reading goes on so that every such stretch is reported at once.
"""

from __future__ import annotations

import re

from engine.ai.errors import Unparsed
from engine.ai.language.clauses import Clauses
from engine.ai.language.lexicon import FILLER, FLAGS, NEGATION
from engine.ai.language.nodes import Node, join, negate
from engine.ai.language.values import skip_space

_PART_JOIN = re.compile(r"\s*[,;]\s*(?:(?P<or>or)|and|but|while|plus|whereas)\b(?:\s+also\b)?", FLAGS)
_OR = re.compile(r"\s*\bor\b", FLAGS)
_AND = re.compile(r"\s*(?:\b(?:and|but|while|plus|yet|as\s+well\s+as)\b|&|[,;])", FLAGS)
_WORD = re.compile(r"\s*[^\s,;()]+")
_TRAILING = re.compile(r"[\s.?!]*\Z")


class Grammar:
    """One reading of `text`: `read()` gives the rule's JSON (None if it names no condition); `problems` the rest."""

    def __init__(self, text: str, clauses: Clauses) -> None:
        self.text = text
        self.clauses = clauses
        self.problems: list[Unparsed] = []
        self.assumed: list[tuple[int, int, str]] = []  # team terms used: where, and what they were taken to mean
        self.notes: list[str] = []
        trailing = _TRAILING.search(text)
        self.end = trailing.start() if trailing else len(text)

    def read(self) -> Node | None:
        node, pos = self._sentence(0)
        while not self._at_end(pos):
            at = skip_space(self.text, pos)
            if self.text[at] == ")":
                self._unparsed(at, at + 1, "this closing bracket has no opening one")
                pos = at + 1
            else:
                pos = self._skip_unknown(pos)
            more, pos = self._sentence(pos)
            node = join("and", node, more)
        return node

    def _sentence(self, pos: int) -> tuple[Node | None, int]:
        node, pos = self._part(pos)
        while (found := _PART_JOIN.match(self.text, pos)) is not None:
            right, pos = self._part(found.end())
            node = join("or" if found.group("or") else "and", node, right)
        return node, pos

    def _part(self, pos: int) -> tuple[Node | None, int]:
        node, pos = self._all(pos)
        while _PART_JOIN.match(self.text, pos) is None and (found := _OR.match(self.text, pos)) is not None:
            right, pos = self._all(found.end())
            node = join("or", node, right)
        return node, pos

    def _all(self, pos: int) -> tuple[Node | None, int]:
        node, pos = self._one(pos)
        while not self._stops(pos):
            joined = _AND.match(self.text, pos)
            start = joined.end() if joined else pos
            right, after = self._one(start)
            if after == start and right is None:
                after = self._skip_unknown(start)
            node, pos = join("and", node, right), after
        return node, pos

    def _one(self, pos: int) -> tuple[Node | None, int]:
        """One condition at `pos`, skipping joining words; (None, where the unreadable starts) when none does."""
        while not self._at_end(pos):
            at = skip_space(self.text, pos)
            if self.text[at] == "(":
                return self._group(at)
            clause = self.clauses.at(at)
            if clause is not None:
                if clause.problem is not None:
                    self.problems.append(clause.problem)
                self.assumed += clause.assumed
                self.notes += clause.notes
                return clause.node, clause.end
            negation = NEGATION.match(self.text, at)
            if negation:
                inner, end = self._one(negation.end())
                if inner is None and end == negation.end():
                    self._unparsed(at, negation.end(), "not what? nothing I understand follows")
                    return None, end
                if negation.group("exclusion"):
                    return (None if inner is None else {"not": inner}), end
                return negate(inner), end
            filler = FILLER.match(self.text, at)
            if filler is None:
                return None, at
            pos = filler.end()
            if self._stops(pos):
                return None, pos
        return None, pos

    def _group(self, at: int) -> tuple[Node | None, int]:
        node, pos = self._sentence(at + 1)
        close = skip_space(self.text, pos)
        if close < self.end and self.text[close] == ")":
            return node, close + 1
        self._unparsed(at, at + 1, "this bracket is never closed")
        return node, pos

    def _stops(self, pos: int) -> bool:
        """Whether a part ends here: the end, a closing bracket, "or", or a comma with a joining word."""
        if self._at_end(pos):
            return True
        at = skip_space(self.text, pos)
        return self.text[at] == ")" or bool(_PART_JOIN.match(self.text, pos) or _OR.match(self.text, pos))

    def _at_end(self, pos: int) -> bool:
        return skip_space(self.text, pos) >= self.end

    def _skip_unknown(self, pos: int) -> int:
        """Record the words from `pos` up to where something readable starts again; return that position."""
        start = skip_space(self.text, pos)
        end = start
        while not self._at_end(end):
            word = _WORD.match(self.text, end)
            if word is None:  # a lone comma, semicolon or bracket
                break
            end = word.end()
            if self._stops(end) or _AND.match(self.text, end) or self._readable(end):
                break
        if end == start:
            end = start + 1
        self._unparsed(start, end, "not understood")
        return end

    def _readable(self, pos: int) -> bool:
        at = skip_space(self.text, pos)
        return self.clauses.at(at) is not None or NEGATION.match(self.text, at) is not None

    def _unparsed(self, start: int, end: int, reason: str) -> None:
        self.problems.append(Unparsed(start, end, self.text[start:end], reason))
