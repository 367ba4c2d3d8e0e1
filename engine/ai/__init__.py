"""The AI helpers: plain language to segment rules, message suggestions, campaign images and insights.

Every helper asks a provider (`provider` is the interface; `local` needs no network or model,
`openai_compatible` talks to a language model; `choice` picks by settings) and validates the answer
before anyone sees it: a rule must parse against the catalog (`rules`), a message must be a valid
template using only known features that states the objective's offer unchanged (`messages`). A provider
that fails or times out gives way to the local one, with a note. Every call is logged (`calls`). Slow
work (images, campaign insights) runs off the request path on the AI queue (`queue`, `jobs`); `images`
draws or fetches banners; `insights` turns the communication log into facts, insights whose every number
is a computed one and whose every comparison is beyond chance, and a send-time suggestion. `language` is
the local reader of plain language; `evals` measures how well providers read it (and the objectives).
"""
