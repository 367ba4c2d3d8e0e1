"""The two ways a rule can fail: it does not fit the language or catalog, or a backend cannot compile it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict

from engine.errors import Invalid, NotFound


class Problem(BaseModel):
    """One thing wrong with a rule: where (the node's path), which field, and what."""

    model_config = ConfigDict(frozen=True)

    path: str
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.path or "rule"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class RuleError(Invalid, ValueError):
    """A rule that does not parse or does not fit the catalog; `problems` lists every fault found."""

    error = "invalid_rule"

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(problem) for problem in self.problems))

    @property
    def detail(self) -> Any:
        return [problem.model_dump() for problem in self.problems]


class UnsupportedRule(Invalid, NotImplementedError):
    """A node that a backend cannot compile: refused rather than answered wrongly."""

    error = "invalid_rule"

    def __init__(self, backend: str, path: str, detail: str) -> None:
        self.backend = backend
        self.path = path
        super().__init__(f"the {backend} backend cannot compile {path or 'the rule'}: {detail}")

    @property
    def detail(self) -> Any:
        return [{"path": self.path, "field": None, "message": str(self)}]


class CustomerNotFound(NotFound, LookupError):
    """The customer asked about is not in the snapshot being evaluated."""
