"""Segments: the size of every saved segment at each feature snapshot."""
