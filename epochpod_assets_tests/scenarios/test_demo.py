"""`epochpod demo`, as a new user runs it: one published episode of each format, with playable
MP3s."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from epochpod_assets.audio.ffmpeg import measure_loudness
from epochpod_assets.audio.trackcheck import check_folder
from epochpod_assets.catalog import Catalog
from epochpod_assets.console import audio_location
from epochpod_assets.formats import formats


@pytest.mark.slow
def test_demo_publishes_one_episode_of_each_format(epochpod_home: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "epochpod_assets.cli", "demo"],
        env={**os.environ, "EPOCHPOD_HOME": str(epochpod_home)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    made = formats()  # one of each registered format
    assert f"{len(made)} of {len(made)} episodes published" in done.stdout

    db = Catalog(f"sqlite:///{epochpod_home / 'catalog.db'}")
    rows = db.list()
    assert sorted(r["type"] for r in rows) == sorted(f.episode_type for f in made)
    for row in rows:
        assert row["generation_status"] == "COMPLETED", row["generation_error"]
        assert row["audio_url"].startswith("http://127.0.0.1:8765/"), "served by epochpod serve"
        mp3 = Path(audio_location(row["audio_url"]))
        assert mp3.name in done.stdout
        assert measure_loudness(mp3.read_bytes()).integrated_lufs > -20

    # The runs went through the real Dagster instance, under the sensor's run keys.
    assert os.environ["DAGSTER_HOME"] == str(epochpod_home / "dagster")
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
        episode_runs = [r for r in runs if "dagster/sensor_name" in r.tags]
        assert len(episode_runs) == len(made)
        assert {r.tags["dagster/sensor_name"] for r in episode_runs} == {"episode_requests"}
        # ... and then one that rebuilt the feed and the cost report.
        (reports,) = [r for r in runs if r not in episode_runs]
        assert reports.tags["epochpod/kind"] == "reports"
        assert all(r.is_success for r in runs)
    assert (epochpod_home / "media" / "feed.xml").exists()
    assert (epochpod_home / "media" / "reports" / "costs_by_episode.csv").exists()

    # Captions people can read and tracks that match their words, on the demo's own output:
    # every cue within two lines of 42 characters and 7 s, chapters stored and listed by
    # ffmpeg in time order, the adventure's node tracks numbered.
    problems, counts = check_folder(epochpod_home / "media" / "episodes")
    assert problems == [], problems
    assert counts["cues"] > 0 and counts["chapters"] > 0 and counts["numbered"] >= 3
