"""Dagster concurrency pools held from inside a step, for work that belongs to another pool.

A step belongs to one pool (`episode_script` to `llm`, `episode_audio` to `tts`). A long-form
script stage also speaks the episode as it writes it, so while it does, it holds a `tts` slot
as well: the instance's `tts` limit then bounds every run's speech, whichever stage speaks.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

# How often a blocked claim is tried again when the instance suggests no interval.
POLL_SECONDS = 1.0


@contextmanager
def pool_slot(
    instance: dg.DagsterInstance, pool: str, run_id: str, step_key: str
) -> Iterator[bool]:
    """Hold one slot of `pool` for the block; yields whether a slot was held (False when the
    instance sets no limit for `pool`, as Dagster itself does not limit such a pool)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits or pool not in {
        limit.name for limit in storage.get_pool_limits()
    }:
        yield False
        return
    claimant = f"{step_key}[{pool}]"  # not the step's own key: that one holds its own pool
    try:
        while not (status := storage.claim_concurrency_slot(pool, run_id, claimant)).is_claimed:
            time.sleep(status.sleep_interval or POLL_SECONDS)
        yield True
    finally:
        # Frees the slot, or the place in the queue of a claim that never got one.
        storage.free_concurrency_slot_for_step(run_id, claimant)
