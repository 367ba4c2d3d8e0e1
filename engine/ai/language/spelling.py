"""Mending the text before it is read: typos ("custmers who spnt more then 20k") and Hinglish ("Mumbai wale
customers jinhone 5000 se zyada kharida") become the English the reader knows, remembering where every
word came from so that skipped words are still pointed at in the user's own text.

A word is mended only when it is not a word the reader knows and one known word is one edit away (two
letters swapped, then a letter missing, then one extra, then one wrong: the likelier typo wins; words under
five letters never by a wrong letter, so "love" does not become "live"). Common shorthand ("ppl", "lst") is
spelt out. Each typo mended is said in a note.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

from engine.ai.errors import Unparsed
from engine.ai.language.lexicon import CITIES, COUNTRIES, FIELD_SYNONYMS, FLAGS, MONTHS, NUMBER_WORDS

_KNOWN_LINES = (  # the words the reader knows besides places, months, numbers and feature names
    "customer customers user users people person shoppers shopper clients client members buyers buyer who",
    "whose which that with have has had having haven't hasn't didn't don't doesn't not never no any anything",
    "something spent spend spending spends spender spenders paid bought buy buys purchased purchase purchases",
    "ordered order orders placed made shopped visited visit visits than more less fewer least most over under",
    "above below between and or but also only exactly times once twice thrice days day weeks week months",
    "month years year quarter fortnight last past recent since before after within ago yesterday today this",
    "opened open emails email mails newsletter clicked click link links added cart basket browsed viewed",
    "products product app signed joined registered consent sms text whatsapp opted subscribed live lives",
    "living based located from inactive lapsed dormant churned active loyal regular regulars new total",
    "lifetime value average worth rupees lakh lakhs crore thousand million phone number address city country",
    "name first their them they the in of for to on at by is are was were been show find list get all",
    "everyone those these",
)
_JOINED = {"atleast": "at least", "atmost": "at most", "morethan": "more than", "lessthan": "less than",
           "have'nt": "haven't", "has'nt": "hasn't", "did'nt": "didn't", "thn": "than", "thean": "than",
           "ppl": "people", "lst": "last", "mnths": "months", "mths": "months", "yrs": "years", "wks": "weeks",
           "custs": "customers", "cust": "customers"}  # fmt: skip
_COMPARATIVES = frozenset({"more", "less", "fewer", "greater", "higher", "lower", "bigger", "smaller"})

_UNITS = {"din": "days", "dino": "days", "dinon": "days", "mahine": "months", "mahino": "months", "mahina": "month",
          "hafte": "weeks", "hafton": "weeks", "hafta": "week", "saal": "year", "saalon": "years"}  # fmt: skip
_UNIT = rf"(?P<unit>{'|'.join(_UNITS)})"
_AMOUNT = r"(?P<n>\d[\d,.]*\s?(?:k|l|lakhs?|lacs?|cr|crores?|thousand|m)?)"


def _unit(match: re.Match[str]) -> str:
    return _UNITS[match["unit"].lower()]


_NOTHING_BOUGHT = r"(?:kuch\s+)?(?:bhi\s+)?(?:nahi|nahin|nhi)\s+(?:kharid\w*|order\s+(?:kiya|kiye|kara))"
_HINGLISH: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = tuple(
    (re.compile(pattern, FLAGS), make)
    for pattern, make in (
        (rf"(?P<n>\d+)\s+{_UNIT}\s+se\s+{_NOTHING_BOUGHT}", lambda m: f"haven't ordered in {m['n']} {_unit(m)}"),
        (r"kabhi\s+(?:bhi\s+)?(?:kuch\s+)?(?:order\s+)?(?:nahi|nahin|nhi)\s+(?:kharid\w*|kiya|kiye|order\s+kiya)",
         lambda m: "never ordered"),
        (rf"(?:pichle|pichhle|pichla|pichhla|pichli)\s+(?:(?P<n>\d+)\s+)?{_UNIT}(?:\s+(?:mein|me|main|se))?",
         lambda m: f"in the last {m['n'] or ''} {_unit(m)}"),
        (r"(?P<n>\d+)\s+(?:baar|bar|dafa)\s+se\s+(?:zyada|jyada|zyaada|jada|zada|adhik)\b",
         lambda m: f"more than {m['n']} times"),
        (r"(?P<n>\d+)\s+(?:baar|bar|dafa)\s+se\s+kam\b", lambda m: f"fewer than {m['n']} times"),
        (rf"{_AMOUNT}\s+se\s+(?:zyada|jyada|zyaada|jada|zada|adhik|upar|jyaada)\b", lambda m: f"more than {m['n']}"),
        (rf"{_AMOUNT}\s+se\s+(?:kam|neeche|niche)\b", lambda m: f"less than {m['n']}"),
        (r"(?P<n>\d+)\s+(?:baar|bar|dafa)\b", lambda m: f"{m['n']} times"),
        (r"(?P<c>sms|e-?mails?|whatsapp)\s+(?:le|pa)\s+sakte\s+(?:hain|hai|he)", lambda m: f"can receive {m['c']}"),
        (r"(?P<c>e-?mails?|app)\s+(?:khola|kholi|khole|kholte)", lambda m: f"opened {m['c']}"),
        (r"(?:spend|kharch|kharcha|kharche)\s+(?:kar\s+chuke\s+(?:hain|hai)|kiya|kiye|ki|karne|kare)",
         lambda m: "spent"),
        (r"(?:kharida|kharide|kharidi|khareeda|khareede|kharidari\s+(?:ki|kiya|kari|kare))", lambda m: "bought"),
        (r"order\s+(?:kiya|kiye|kar\s+chuke\s+(?:hain|hai)|kare|karte)", lambda m: "ordered"),
        (r"(?:jinhone|jinhon|jisne|jo|jinka|jinki|jinke)(?=\s)", lambda m: "who"),
        (r"(?:naye|naya|nayi)(?=\s)", lambda m: "new"),
        (r"aur(?=\s)", lambda m: "and"),
        (rf"{_UNIT}(?=\s|$)", _unit),
        (r"(?:wale|waale|wali|waali|vale|ke|ka|ki|log|hain|hai|mein|tha)(?=[\s,.]|$)", lambda m: ""),
    )
)  # fmt: skip
_WORD = re.compile(r"[A-Za-z][A-Za-z']*")


@dataclass(frozen=True)
class _Piece:
    """A stretch of the mended text and the stretch of the original it came from."""

    start: int
    end: int
    original_start: int
    original_end: int
    changed: bool


@dataclass(frozen=True)
class Mended:
    """The mended text, where each of its stretches came from, and the typos mended (original, mended)."""

    source: str
    text: str
    pieces: tuple[_Piece, ...]
    typos: tuple[tuple[str, str], ...]

    def original(self, item: Unparsed) -> Unparsed:
        """`item`, found in the mended text, pointed at in the original one."""
        start, end = self._at(item.start, True), self._at(item.end, False)
        end = max(end, start)
        return replace(item, start=start, end=end, text=self.source[start:end])

    def notes(self) -> tuple[str, ...]:
        return tuple(f"Read “{typo}” as “{meant}”." for typo, meant in self.typos)

    def _at(self, pos: int, starting: bool) -> int:
        for piece in self.pieces:
            if piece.start <= pos < piece.end or (not starting and pos == piece.end):
                if piece.changed:
                    return piece.original_start if starting else piece.original_end
                return piece.original_start + (pos - piece.start)
        return len(self.source)


def mend(text: str) -> Mended:
    """`text` with Hinglish phrases read into English and typos mended."""
    pieces: list[_Piece] = []
    typos: list[tuple[str, str]] = []
    out: list[str] = []
    length = 0
    pos = 0
    kept_from = 0

    def emit(new: str, original_start: int, original_end: int, changed: bool) -> None:
        nonlocal length
        if new or changed:
            pieces.append(_Piece(length, length + len(new), original_start, original_end, changed))
            out.append(new)
            length += len(new)

    while pos < len(text):
        at_word = (pos == 0 or not text[pos - 1].isalnum()) and text[pos].isalnum()
        replacement = _replacement(text, pos) if at_word else None
        if replacement is None:
            pos += 1
            continue
        new, end, typo = replacement
        emit(text[kept_from:pos], kept_from, pos, False)
        emit(new, pos, end, True)
        if typo:
            typos.append((text[pos:end], new))
        pos = kept_from = end
    emit(text[kept_from:], kept_from, len(text), False)
    return Mended(text, "".join(out), tuple(pieces), tuple(typos))


def _replacement(text: str, pos: int) -> tuple[str, int, bool] | None:
    """What the words at `pos` become, where they end, and whether it was a typo; None to keep them."""
    for pattern, make in _HINGLISH:
        found = pattern.match(text, pos)
        if found:
            return make(found), found.end(), False
    word = _WORD.match(text, pos)
    if word is None:
        return None
    lower = word.group().lower()
    before = text[:pos].split()
    if lower == "then" and before and before[-1].lower() in _COMPARATIVES:  # "more then 20k"
        return "than", word.end(), True
    if lower in _JOINED:
        return _JOINED[lower], word.end(), True
    if lower in known_words() or len(lower) < 4:
        return None
    meant = _nearest(lower)
    if meant is None:
        return None
    return (meant.capitalize() if word.group()[0].isupper() else meant), word.end(), True


@lru_cache(maxsize=1)
def known_words() -> frozenset[str]:
    phrases = (
        *_KNOWN_LINES,
        *CITIES,
        *COUNTRIES,
        *MONTHS,
        *NUMBER_WORDS,
        *(s for v in FIELD_SYNONYMS.values() for s in v),
    )
    return frozenset(word for phrase in phrases for word in phrase.lower().split())


@lru_cache(maxsize=4096)
def _nearest(word: str) -> str | None:
    """The known word one edit from `word`, preferring a swapped, then a missing, then an extra letter over a
    wrong one (short words: never a wrong one); None when the best is not one word or one word's forms."""
    by_kind: dict[int, set[str]] = {}
    for known in known_words():
        kind = _one_edit(word, known)
        if kind is not None and (len(word) >= 5 or kind < _WRONG_LETTER):
            by_kind.setdefault(kind, set()).add(known)
    if not by_kind:
        return None
    best = sorted(by_kind[min(by_kind)])
    same_stem = len({candidate[:-1] for candidate in best}) == 1 and len(best[0]) >= 4  # "spend", "spent"
    return best[0] if len(best) == 1 or same_stem else None


_SWAPPED, _MISSING, _EXTRA, _WRONG_LETTER = range(4)


def _one_edit(word: str, known: str) -> int | None:
    """Which one edit turns `word` into `known`: two neighbours swapped, a letter missing, extra or wrong; None
    when it takes more (or none)."""
    if word == known or abs(len(word) - len(known)) > 1:
        return None
    if len(word) == len(known):
        differ = [i for i, (a, b) in enumerate(zip(word, known, strict=True)) if a != b]
        if len(differ) == 1:
            return _WRONG_LETTER
        first = differ[0]
        swapped = word[first] == known[first + 1] and word[first + 1] == known[first]
        return _SWAPPED if len(differ) == 2 and differ[1] == first + 1 and swapped else None
    short, long = (word, known) if len(word) < len(known) else (known, word)
    i = 0
    while i < len(short) and short[i] == long[i]:
        i += 1
    if short[i:] != long[i + 1 :]:
        return None
    return _MISSING if short is word else _EXTRA
