"""The language-model provider: any OpenAI-compatible chat completions API, with structured output.

OpenAI itself, Vertex AI's OpenAI endpoint, vLLM and Ollama all speak `POST {base}/chat/completions` with
`response_format: {"type": "json_schema", ...}`; the base URL, key and model come from settings. Each
answer is held to a strict JSON Schema (`engine.ai.prompts`), decoded here, and handed back as a draft:
checking it is the caller's job. Anything that keeps the model from answering (timeout, connection,
an HTTP error) is `ProviderUnavailable`, so the caller can fall back to the local provider.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any, ClassVar

import openai
from openai.types.chat import ChatCompletionMessage, ChatCompletionMessageParam

from engine.ai.errors import CannotExpress, InvalidOutput, ProviderUnavailable, Unparsed
from engine.ai.insights.facts import Fact
from engine.ai.language.terms import Terms, load_terms
from engine.ai.messages.brief import DraftMessage, MessageBrief, MessageDrafts
from engine.ai.prompts import (
    INSIGHT_RULES,
    drop_nulls,
    insight_answer_schema,
    insight_user_prompt,
    message_answer_schema,
    message_system_prompt,
    message_user_prompt,
    repair_prompt,
    rule_answer_schema,
    rule_system_prompt,
)
from engine.ai.provider import Repair, TextProvider
from engine.ai.rule_draft import Assumption, RuleDraft
from engine.features.catalog import Catalog
from engine.settings import Settings, revealed


class OpenAICompatibleProvider(TextProvider):
    name: ClassVar[str] = "openai"

    def __init__(self, client: openai.OpenAI, model: str, timeout_s: float, terms: Terms | None = None) -> None:
        self.client = client
        self.model = model
        self.timeout_s = timeout_s
        self.terms = terms or load_terms()  # the team's vague words, told to the model

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAICompatibleProvider:
        assert settings.ai_model is not None, "the settings name no model (XENO_AI_MODEL)"
        client = openai.OpenAI(
            base_url=settings.ai_base_url,
            api_key=revealed(settings.ai_api_key) or "unused",  # vLLM and Ollama take any key; the library wants one
            timeout=settings.ai_timeout_s,
            max_retries=0,  # a slow or failing model gives way to the local provider at once
        )
        return cls(client, settings.ai_model, settings.ai_timeout_s, load_terms(settings.ai_terms_file))

    def draft_rule(self, text: str, catalog: Catalog, today: date, repair: Repair | None = None) -> RuleDraft:
        conversation = self._conversation(rule_system_prompt(catalog, self.terms, today), text, repair)
        message = self._complete(conversation, "segment_rule", rule_answer_schema(catalog))
        if message.refusal:
            raise CannotExpress(message.refusal)
        raw = message.content or ""
        answer = _decoded(raw)
        if not isinstance(answer, dict) or "rule" not in answer:
            raise InvalidOutput(raw, 'the answer must be an object with "rule" and "cannot"')
        if answer["rule"] is None:
            raise CannotExpress(str(answer.get("cannot") or "the model gave no rule and no reason"))
        assumed = tuple(
            Assumption(str(item.get("words", "")), str(item.get("meaning", "")))
            for item in answer.get("assumed") or ()
            if isinstance(item, dict)
        )
        skipped = tuple(
            _skipped(text, str(item.get("words", "")), str(item.get("why", "")))
            for item in answer.get("skipped") or ()
            if isinstance(item, dict)
        )
        return RuleDraft(drop_nulls(answer["rule"]), assumed, skipped)

    def draft_messages(self, brief: MessageBrief, repair: Repair | None = None) -> MessageDrafts:
        conversation = self._conversation(
            message_system_prompt(brief), message_user_prompt(brief), repair, "a valid set of message variants"
        )
        message = self._complete(conversation, "message_variants", message_answer_schema(len(brief.tones)))
        if message.refusal:
            raise ProviderUnavailable(self.name, f"the model declined: {message.refusal}")
        raw = message.content or ""
        answer = _decoded(raw)
        variants = answer.get("variants") if isinstance(answer, dict) else None
        if not isinstance(variants, list) or not all(isinstance(item, dict) for item in variants):
            raise InvalidOutput(raw, 'the answer must be an object with a list of "variants"')
        try:
            drafts = tuple(
                DraftMessage(str(item["tone"]), str(item["body"]), item.get("subject") or None) for item in variants
            )
        except KeyError as missing:
            raise InvalidOutput(raw, f"every variant needs {missing}") from None
        return MessageDrafts(drafts)

    def phrase_insights(self, facts: Sequence[Fact], repair: Repair | None = None) -> tuple[str, ...]:
        conversation = self._conversation(INSIGHT_RULES, insight_user_prompt(facts), repair, "a valid set of insights")
        message = self._complete(conversation, "campaign_insights", insight_answer_schema())
        if message.refusal:
            raise ProviderUnavailable(self.name, f"the model declined: {message.refusal}")
        raw = message.content or ""
        answer = _decoded(raw)
        insights = answer.get("insights") if isinstance(answer, dict) else None
        if not isinstance(insights, list) or not all(
            isinstance(item, dict) and isinstance(item.get("text"), str) for item in insights
        ):
            raise InvalidOutput(raw, 'the answer must be an object with a list of "insights", each with a "text"')
        return tuple(item["text"].strip() for item in insights)

    @staticmethod
    def _conversation(
        system: str, user: str, repair: Repair | None, answer: str = "a valid rule"
    ) -> list[ChatCompletionMessageParam]:
        conversation: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
        if repair is not None:
            conversation += [
                {"role": "assistant", "content": repair.previous},
                {"role": "user", "content": repair_prompt(repair.problems, answer)},
            ]
        return conversation

    def _complete(
        self, conversation: list[ChatCompletionMessageParam], name: str, schema: dict[str, Any]
    ) -> ChatCompletionMessage:
        assert self.model is not None
        try:
            response = self.client.chat.completions.create(
                model=self.model,
                messages=conversation,
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": name, "schema": schema, "strict": True},
                },
                temperature=0,
            )
        except openai.APITimeoutError:
            raise ProviderUnavailable(self.name, f"no answer within {self.timeout_s:g} s") from None
        except openai.APIConnectionError as error:
            raise ProviderUnavailable(self.name, f"could not connect: {error}") from None
        except openai.APIStatusError as error:
            raise ProviderUnavailable(self.name, f"the service answered HTTP {error.status_code}") from None
        except openai.OpenAIError as error:
            raise ProviderUnavailable(self.name, str(error)) from None
        if not response.choices:
            raise ProviderUnavailable(self.name, "the answer had no choices")
        return response.choices[0].message


def _skipped(text: str, words: str, why: str) -> Unparsed:
    """Words the model left out, pointed at in the user's text where they are found there."""
    start = text.lower().find(words.lower()) if words else -1
    if start < 0:
        return Unparsed(0, 0, words, why)
    return Unparsed(start, start + len(words), text[start : start + len(words)], why)


def _decoded(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise InvalidOutput(raw, f"the answer is not JSON ({error.msg} at character {error.pos})") from None
