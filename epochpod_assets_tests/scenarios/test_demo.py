"""`epochpod demo`, as a new user runs it: three published episodes with playable MP3s."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from epochpod_assets.audio.ffmpeg import measure_loudness
from epochpod_assets.catalog import Catalog


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
    assert "3 of 3 episodes published" in done.stdout

    db = Catalog(f"sqlite:///{epochpod_home / 'catalog.db'}")
    rows = db.list()
    assert sorted(r["type"] for r in rows) == ["ADVENTURE", "DEBATE", "INTERVIEW"]
    for row in rows:
        assert row["generation_status"] == "COMPLETED", row["generation_error"]
        mp3 = Path(row["audio_url"].removeprefix("file://"))
        assert mp3.name in done.stdout
        assert measure_loudness(mp3.read_bytes()).integrated_lufs > -20

    # The runs went through the real Dagster instance, under the sensor's run keys.
    assert os.environ["DAGSTER_HOME"] == str(epochpod_home / "dagster")
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
        assert len(runs) == 3
        assert {r.tags["dagster/sensor_name"] for r in runs} == {"episode_requests"}
        assert all(r.is_success for r in runs)
