"""AI routes: plain language to segment rules, message suggestions, campaign images, the AI call log."""
