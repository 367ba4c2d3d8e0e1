"""Notifications in the API: each signed-in user's list, read state, and a live stream of new ones."""
