"""Segments in the API: saved segments, previews of unsaved rules, members, exports, explanations, history."""
