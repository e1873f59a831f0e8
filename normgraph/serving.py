"""Getting a serving process ready before its first request (the HTTP workers' lifespan, the MCP server).

Two things, both measured on the 155k benchmark (bench/bank_155k.py):

- the store loads what the first frame query would otherwise load on demand (the label indexes: ~0.5 s at
  15k concepts, which every worker's first request paid);
- the cyclic garbage collector stops rescanning what start-up loaded (``gc.freeze``) and runs its youngest
  generation less often. A setting-only query decodes ~1,300 norms at 155k; with the default threshold (700
  allocations) they were promoted mid-query, so a full collection ran every few such queries, each scanning
  the whole heap (tens of milliseconds at best). Norms die with their query, by reference counting, before a
  collection at this threshold sees most of them.
"""

from __future__ import annotations

import gc

from normgraph.store.base import GraphStore

# Allocations (net of deallocations) of tracked objects between collections of the youngest generation.
GC_GEN0_THRESHOLD = 20_000


def prepare_for_serving(store: GraphStore) -> None:
    """Warm the store's read indexes, then tune the collector for a long-lived serving process (objects alive
    now are never collected as cycles afterwards: call this once start-up is done)."""
    store.warm()
    gc.collect()
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, GC_GEN0_THRESHOLD), gen1, gen2)
