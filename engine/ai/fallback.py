"""Asking the configured provider, and the fallback (the local provider) when it gives no usable answer.

Message suggestions and campaign insights both try the language model first; when it is unavailable, or its
answer is still refused after its repair round, they ask the fallback and say why in a note. This is that
one place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from engine.ai.errors import ProviderUnavailable
from engine.ai.provider import TextProvider

Answer = TypeVar("Answer")


def with_fallback(
    ask: Callable[[TextProvider, list[str]], Answer],
    provider: TextProvider,
    fallback: TextProvider | None,
    refused: type[Exception],
    what: str,
) -> Answer:
    """`ask(provider, notes)`; when the provider is unavailable or `refused` is raised, `ask(fallback, notes)`
    with a note naming `what` was not usable and why (re-raised when there is no fallback)."""
    notes: list[str] = []
    try:
        return ask(provider, notes)
    except (ProviderUnavailable, refused) as failure:
        if fallback is None:
            raise
        reason = failure.reason if isinstance(failure, ProviderUnavailable) else str(failure)
        notes.append(
            f"The language model ({provider.model}) gave no usable {what} ({reason}); these are the local ones."
        )
        return ask(fallback, notes)
