"""Every script an episode had is kept: replacing `script.json` first copies the current one to
`scripts/v<N>.json` (N = 1, 2, ...), so an import, a rejection or a one-line rewrite can be
compared with, or rolled back to, what came before."""

from __future__ import annotations

from pydantic import BaseModel

from epochpod_assets.storage import MediaStore, episode_key, put_model

SCRIPT = "script.json"


def version_key(episode_id: str, number: int) -> str:
    return episode_key(episode_id, f"scripts/v{number}.json")


def versions(store: MediaStore, episode_id: str) -> int:
    """How many earlier scripts are kept."""
    number = 0
    # Keys are probed, not listed: the stores promise get/put/exists only, and an episode
    # has a handful of versions.
    while store.exists(version_key(episode_id, number + 1)):
        number += 1
    return number


def store_script(store: MediaStore, episode_id: str, script: BaseModel) -> int | None:
    """Make `script` the episode's script, keeping the one it replaces. Returns the version
    number the previous script was kept under (None for a first script)."""
    key = episode_key(episode_id, SCRIPT)
    kept: int | None = None
    try:
        previous = store.get(key)
    except KeyError:
        previous = None
    if previous is not None and previous != script.model_dump_json(indent=2).encode():
        kept = versions(store, episode_id) + 1
        store.put(version_key(episode_id, kept), previous, "application/json")
    put_model(store, key, script)
    return kept
