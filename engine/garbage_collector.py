"""Python's cyclic garbage collector, tuned for processes that decode and validate batches of records.

With CPython's defaults (a young collection every 700 new containers), decoding one ingest batch of 20,000
events ran a hundred collections, and the older generations, walked whole each time, held every object imported
at start. The ingest consumer spent more CPU in them than in decoding (11.9 µs an event, 4.0 with the collector
off). The objects made at start live as long as the process: `gc.freeze` moves them out of every collection's
way. Young collections come every 10,000 new containers: a batch's records are freed by their reference counts
when it is applied, and the rare cycles wait a little longer.
"""

from __future__ import annotations

import gc
from functools import cache

YOUNG_THRESHOLD = 10_000


@cache
def tune_garbage_collector() -> None:
    """Exempt what exists now (modules, settings, pools) from collection, and collect the young less often; once
    a process (a test session creates many apps)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
