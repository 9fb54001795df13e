"""Issue 4's "done when", measured on what `make demo` published.

    make demo && .venv/bin/python benchmarks/demo_audio.py

It reads the folders `make demo` uses (EPOCHPOD_HOME and DAGSTER_HOME, as the Makefile sets
them; relative paths are taken from the current directory).

For every published episode and every one of its tracks (an adventure has one per node),
measured here, independently of the pipeline's own in-line meter:
- integrated loudness and true peak of the stored, tagged MP3 by ffmpeg's ebur128 filter;
- the ID3v2 chapters (CHAP frames under a CTOC) mutagen reads back from the file;
- the WebVTT captions: cue count, speakers, and the last cue's end against the track's length;
and, from the Dagster instance the demo ran in, every asset check evaluation of the episode.
Exit status 1 if a track misses -16 +-1 LUFS / -1 dBTP, lacks chapters or captions, or a check
did not pass.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from pathlib import Path

import dagster as dg
import mutagen.id3
from dagster._core.event_api import PartitionKeyFilter

from epochpod_assets.audio.ffmpeg import measure_loudness
from epochpod_assets.defs.checks import episode_checks
from epochpod_assets.defs.resources import resources_from_env
from epochpod_assets.intake import open_catalog
from epochpod_assets.storage import episode_key

ROOT = Path(__file__).resolve().parent.parent
# Where `make demo` keeps its catalog, media and Dagster instance (Dagster wants absolute paths).
os.environ["EPOCHPOD_HOME"] = str(
    Path(os.environ.get("EPOCHPOD_HOME", ROOT / ".epochpod")).resolve()
)
os.environ["DAGSTER_HOME"] = str(
    Path(os.environ.get("DAGSTER_HOME", Path(os.environ["EPOCHPOD_HOME"]) / "dagster")).resolve()
)

VTT_CUE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})$", re.M)


def check_results(episode_id: str) -> dict[str, bool]:
    """Whether each asset check's latest evaluation for the episode passed, read from the
    Dagster instance in DAGSTER_HOME (a check that never evaluated is missing)."""
    results = {}
    with dg.DagsterInstance.get() as instance:
        for check in episode_checks:
            for key in check.check_keys:
                history = instance.event_log_storage.get_asset_check_execution_history(
                    key, limit=1, partition_filter=PartitionKeyFilter(key=episode_id)
                )
                evaluation = history[0].evaluation if history else None
                if evaluation is not None:
                    results[key.name] = evaluation.passed
    return results


def main() -> int:
    db = open_catalog()
    store = resources_from_env()["media"].get()  # type: ignore[attr-defined]
    ok = True
    for episode in db.list(limit=1000):
        if episode["generation_status"] != "COMPLETED":
            continue
        episode_id = episode["id"]
        print(f"{episode_id} {episode['type']}: {episode['title']}")
        manifest = json.loads(store.get(episode_key(episode_id, "audio.json")))
        for track in manifest:
            mp3 = store.get(episode_key(episode_id, f"audio/{track['key']}.mp3"))
            vtt = store.get(episode_key(episode_id, f"audio/{track['key']}.vtt")).decode()
            loudness = measure_loudness(mp3)
            tags = mutagen.id3.ID3(io.BytesIO(mp3))
            chapters = tags.getall("CHAP")
            toc = tags.getall("CTOC")
            ends = VTT_CUE.findall(vtt)
            last_end = 0.0
            if ends:
                h, m, s, ms = (int(v) for v in ends[-1][4:])
                last_end = h * 3600 + m * 60 + s + ms / 1000
            speakers = sorted(set(re.findall(r"<v ([^>]+)>", vtt)))
            good = (
                abs(loudness.integrated_lufs + 16.0) <= 1.0
                and loudness.true_peak_dbtp <= -1.0
                and len(chapters) > 0
                and len(toc) == 1
                and len(ends) > 0
                and last_end <= track["duration_seconds"] + 0.001  # cue times are in ms
            )
            ok &= good
            print(
                f"  {track['key']:8} {track['duration_seconds'] / 60:5.2f} min  "
                f"ebur128 {loudness.integrated_lufs:+.1f} LUFS "
                f"{loudness.true_peak_dbtp:+.1f} dBTP  "
                f"chapters {len(chapters)} (CTOC {len(toc)})  captions {len(ends)} cues, "
                f"{len(speakers)} speakers, last ends {last_end:.1f} s  {'ok' if good else 'MISS'}"
            )
        latest = check_results(episode_id)
        passed = sum(latest.values())
        expected = sum(len(check.check_keys) for check in episode_checks)
        ok &= passed == expected
        failed = sorted(name for name, result in latest.items() if not result)
        print(f"  asset checks: {passed}/{expected} passed {failed or ''}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
