"""The feature catalog in the API, for the rule builder, the AI and integrators."""
