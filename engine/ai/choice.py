"""Which text provider the settings choose: the language model when one is configured, else the local one; both
with the team's terms for vague words (`XENO_AI_TERMS_FILE`)."""

from __future__ import annotations

from engine.ai.language.terms import load_terms
from engine.ai.local import LocalProvider
from engine.ai.openai_compatible import OpenAICompatibleProvider
from engine.ai.provider import TextProvider
from engine.settings import Settings


def text_provider(settings: Settings) -> TextProvider:
    if settings.uses_llm:
        return OpenAICompatibleProvider.from_settings(settings)
    return local_provider(settings)


def local_provider(settings: Settings) -> LocalProvider:
    """The local provider with the team's terms."""
    return LocalProvider(load_terms(settings.ai_terms_file))
