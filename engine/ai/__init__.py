"""The AI helpers: plain language to segment rules, message suggestions and campaign images.

Every helper asks a provider (`providers`: the local one, which needs no network or model, or an
OpenAI-compatible language model) and validates the answer before anyone sees it: a rule must parse
against the catalog (`rules`), a message must be a valid template using only known features
(`messages`). A provider that fails or times out gives way to the local one, with a note. Every call is
logged (`calls`). Slow work (images; later campaign insights) runs off the request path on the AI queue
(`queue`). `language` is the local reader of plain language; `evals` measures how well providers read it.
"""
