"""The opt-out line a channel's messages must carry (SMS: "Reply STOP to opt out"), added at launch.

Carriers require marketing SMS to say how to stop them; a channel declares its line (`Channel.opt_out`), and every
rendered message that does not already mention STOP gets it as its last line, before its length is checked, so a
message the line makes too long is skipped with the reason rather than cut. E-mail carries its unsubscribe link
instead (`engine.channels.mime`).
"""

from __future__ import annotations

import polars as pl

MENTIONS_STOP = r"(?i)\bstop\b"


def with_opt_out(messages: pl.Series, line: str | None) -> pl.Series:
    """`messages` each ending with `line` unless it mentions STOP already (unchanged when the channel needs none)."""
    if line is None:
        return messages
    ended = pl.when(pl.col("m").str.contains(MENTIONS_STOP)).then(pl.col("m")).otherwise(pl.col("m") + "\n" + line)
    return messages.to_frame("m").select(ended.alias(messages.name)).to_series()
