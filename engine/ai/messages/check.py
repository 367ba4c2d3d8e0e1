"""Whether a drafted message can be used: a valid template naming only known features, that states the
objective's offer unchanged (`engine.ai.messages.offer`), and a message that fits its channel (one SMS).

Every variant, from the local composer or a language model, passes `check_message` before it is shown.
An SMS is measured as the longest recipient would get it (the audience's longest first name, ...): one
SMS holds 160 characters of the GSM alphabet, or only 70 once it has any other character (₹, emoji), so
the check reports which applies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.ai.messages.audience import AudienceProfile
from engine.ai.messages.brief import DraftMessage
from engine.ai.messages.offer import OfferFact, missing_facts
from engine.campaigns.templates import MessageTemplate, TemplateError, check_template
from engine.channels import get_channel
from engine.features.catalog import Catalog, FeatureType

_STAND_IN_TEXT = "Alexandrina-Maria"  # when the audience is unknown: a long name, so the estimate errs long


@dataclass(frozen=True)
class CheckedMessage:
    """A variant that passed: its template(s), the features it uses and, for SMS, its longest length."""

    tone: str
    body: str
    subject: str | None
    variables: tuple[str, ...]
    longest_length: int | None = None  # SMS only: characters as the longest recipient gets it
    sms_limit: int | None = None


class MessageProblem(ValueError):
    """A variant that cannot be used; `problems` says why."""

    def __init__(self, tone: str, problems: list[str]) -> None:
        self.tone = tone
        self.problems = problems
        super().__init__(f"{tone}: " + "; ".join(problems))


def check_message(
    draft: DraftMessage,
    channel_name: str,
    catalog: Catalog,
    audience: AudienceProfile | None = None,
    facts: Sequence[OfferFact] = (),
) -> CheckedMessage:
    """The checked variant, or `MessageProblem` listing everything wrong with it. `facts` are the objective's,
    which the message (the body: a subject alone is not enough) must state unchanged."""
    problems: list[str] = [
        f"the objective's “{fact.said}” is missing or changed: state it as the objective does"
        for fact in missing_facts(draft.body, facts)
    ]
    body = _template(draft.body, catalog, "message", problems)
    channel = get_channel(channel_name)
    subject = None
    if channel.subject:
        if not draft.subject:
            problems.append(f"an {channel.label} needs a subject")
        else:
            subject = _template(draft.subject, catalog, "subject", problems)
    elif draft.subject:
        problems.append(f"{channel.label} messages have no subject")
    if body is None or (channel.subject and subject is None) or problems:
        raise MessageProblem(draft.tone, problems)
    variables = tuple(sorted({*body.variables, *(subject.variables if subject else ())}))
    if channel.subject:
        return CheckedMessage(draft.tone, draft.body, draft.subject, variables)
    text = body.render(longest_values(body.variables, catalog, audience))
    size = channel.size(text)
    if size.part_length is not None and size.characters > size.part_length:
        raise MessageProblem(
            draft.tone,
            [f"the SMS is {size.characters} characters for the longest recipient; one SMS holds {size.part_length}"],
        )
    too_long = channel.too_long(text)
    if too_long is not None:
        raise MessageProblem(draft.tone, [f"{too_long} for the longest recipient"])
    if not channel.segmented:
        return CheckedMessage(draft.tone, draft.body, None, variables)
    return CheckedMessage(draft.tone, draft.body, None, variables, size.characters, size.part_length)


def longest_values(variables: tuple[str, ...], catalog: Catalog, audience: AudienceProfile | None) -> Mapping[str, Any]:
    """For each feature a template uses, the longest value a recipient may have (a stand-in when unknown)."""
    values: dict[str, Any] = {}
    for name in variables:
        feature = catalog[name]
        known = audience.longest(name) if audience else None
        if known is not None:
            values[name] = known
        elif feature.type in (FeatureType.STRING, FeatureType.CATEGORY):
            values[name] = max([_STAND_IN_TEXT, *(str(example) for example in feature.examples)], key=len)
        elif feature.type in (FeatureType.NUMBER, FeatureType.INTEGER):
            values[name] = 99999
        else:
            values[name] = max((example for example in feature.examples), key=lambda item: len(str(item)), default="")
    return values


def _template(source: str, catalog: Catalog, what: str, problems: list[str]) -> MessageTemplate | None:
    try:
        return check_template(source, catalog)
    except TemplateError as error:
        problems.extend(f"{what} {problem}" for problem in error.problems)
        return None
