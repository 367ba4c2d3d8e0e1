"""Which text provider the settings choose: the language model when one is configured, else the local one."""

from __future__ import annotations

from engine.ai.local import LocalProvider
from engine.ai.openai_compatible import OpenAICompatibleProvider
from engine.ai.provider import TextProvider
from engine.settings import Settings


def text_provider(settings: Settings) -> TextProvider:
    if settings.uses_llm:
        return OpenAICompatibleProvider.from_settings(settings)
    return LocalProvider()
