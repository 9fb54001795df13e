"""media.py: the keys an episode's files live under, and the typed audio manifest."""

from __future__ import annotations

import json
from pathlib import Path

from epochpod_assets import media
from epochpod_assets.storage import LocalMediaStore


def test_keys_are_built_from_the_id_and_fixed_names() -> None:
    assert media.outline_key("ep-1") == "episodes/ep-1/outline.json"
    assert media.script_key("ep-1") == "episodes/ep-1/script.json"
    assert media.manifest_key("ep-1") == "episodes/ep-1/audio.json"
    assert media.track_key("ep-1", "n3", "vtt") == "episodes/ep-1/audio/n3.vtt"


def test_the_manifest_round_trips_and_keeps_its_json(tmp_path: Path) -> None:
    store = LocalMediaStore(tmp_path)
    entry = media.TrackEntry(
        key="episode",
        url="file:///episode.mp3",
        bytes=1234,
        duration_seconds=61.5,
        captions_url=None,
        integrated_lufs=-16.1,
        true_peak_dbtp=-1.5,
        chapters=[media.ChapterEntry(title="Opening", start=0.0, end=30.0)],
    )
    media.save_manifest(store, "ep-1", [entry])
    assert media.load_manifest(store, "ep-1") == [entry]
    # The JSON the web app and older readers see is unchanged: a list of plain objects.
    raw = json.loads(store.get(media.manifest_key("ep-1")))
    assert raw == [
        {
            "key": "episode",
            "url": "file:///episode.mp3",
            "bytes": 1234,
            "duration_seconds": 61.5,
            "captions_url": None,
            "integrated_lufs": -16.1,
            "true_peak_dbtp": -1.5,
            "chapters": [{"title": "Opening", "start": 0.0, "end": 30.0}],
        }
    ]
    assert entry.info().duration_seconds == 61.5
