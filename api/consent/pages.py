"""The small HTML pages a customer sees from an unsubscribe or preference link: no sign-in, no scripts.

Every value shown is escaped; forms post back to the same signed URL, so the token is the only credential.
"""

from __future__ import annotations

from html import escape

from engine.consent.preferences import LinkTarget, Preferences

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1f2937}"
    "button{background:#4f46e5;color:#fff;border:0;border-radius:.4rem;padding:.6rem 1.2rem;font-size:1rem}"
    "label{display:block;margin:.4rem 0}fieldset{border:1px solid #e5e7eb;border-radius:.4rem;margin:1rem 0}"
)


def page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style></head>'
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )


def _what(target: LinkTarget, channel_label: str) -> str:
    if target.topic is not None:
        return f"“{escape(target.topic_name or target.topic)}” messages"
    return f"{escape(channel_label)} messages" + (f" to {escape(target.address)}" if target.address else "")


def unsubscribe_form(target: LinkTarget, channel_label: str, preferences_url: str) -> str:
    return page(
        "Unsubscribe",
        f"<p>Stop receiving {_what(target, channel_label)}?</p>"
        '<form method="post"><button type="submit">Unsubscribe</button></form>'
        f'<p><a href="{escape(preferences_url)}">Choose what you receive instead</a></p>',
    )


def unsubscribed(target: LinkTarget, channel_label: str, preferences_url: str) -> str:
    return page(
        "You are unsubscribed",
        f"<p>You will no longer receive {_what(target, channel_label)}.</p>"
        f'<p><a href="{escape(preferences_url)}">Manage all your preferences</a></p>',
    )


def preference_form(preferences: Preferences, channel_labels: dict[str, str], saved: bool) -> str:
    channels = "".join(
        f'<label><input type="checkbox" name="channel" value="{escape(name)}"{" checked" if on else ""}'
        f"{' disabled' if name in preferences.blocked else ''}> {escape(channel_labels.get(name, name))}"
        + (f" (off: {escape(preferences.blocked[name])})" if name in preferences.blocked else "")
        + "</label>"
        for name, on in preferences.channels.items()
    )
    topics = "".join(
        f'<label><input type="checkbox" name="topic" value="{escape(key)}"{" checked" if on else ""}> '
        f"{escape(preferences.topic_names.get(key, key))}</label>"
        for key, on in preferences.topics.items()
    )
    topic_set = f"<fieldset><legend>Topics</legend>{topics}</fieldset>" if topics else ""
    note = "<p><strong>Saved.</strong></p>" if saved else ""
    return page(
        "Your preferences",
        f'{note}<form method="post"><fieldset><legend>Send me messages by</legend>{channels}</fieldset>'
        f'{topic_set}<button type="submit">Save</button></form>',
    )


def link_problem(message: str) -> str:
    return page(
        "This link cannot be used",
        f"<p>{escape(message)}.</p><p>Use the unsubscribe link of a more recent message, or reply STOP to a text "
        "message; nothing was changed.</p>",
    )


def nobody() -> str:
    return page("Nothing to manage", "<p>We no longer hold any details about you, so there is nothing to change.</p>")
