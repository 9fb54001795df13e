"""One of several processes enqueuing at once (concurrency tests and benchmarks). Imports only
the intake, so that a spawned process starts fast."""

from __future__ import annotations

from typing import Any

from epochpod_assets.catalog import Catalog
from epochpod_assets.intake import enqueue

REQUEST = {"format": "interview", "guest_name": "Ada Lovelace", "target_minutes": 1}


def enqueue_many(url: str, count: int, start: Any, worker: int) -> list[str]:
    """`count` distinct requests through the real `enqueue`, after every process has reached
    the `start` barrier (so that they all write at once)."""
    db = Catalog(url)
    with db.engine.connect():
        pass  # connected before the barrier, not after
    start.wait(120)
    ids = [
        enqueue({**REQUEST, "topic": f"engines, writer {worker} no. {n}"}, db) for n in range(count)
    ]
    db.engine.dispose()
    return ids
