"""The code location loads cleanly, as `dagster dev` would load it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from epochpod_assets.definitions import defs

ROOT = Path(__file__).resolve().parents[2]


def test_graph_shape() -> None:
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == {
        "episode_research",
        "episode_outline",
        "episode_script",
        "episode_audio",
        "published_episode",
        "podcast_feed",
        "generation_costs",
    }
    assert graph.get(dg.AssetKey("published_episode")).parent_keys == {dg.AssetKey("episode_audio")}
    assert graph.get(dg.AssetKey("episode_outline")).parent_keys == {
        dg.AssetKey("episode_research")
    }
    # A request that asks for review runs only up to its script (editorial/defs.py).
    assert {j.name for j in defs.resolve_sensor_def("episode_requests").jobs} == {
        "generate_episode",
        "write_episode",
    }


def test_code_location_loads_without_warnings(epochpod_home: Path) -> None:
    dagster_home = epochpod_home / "dagster"
    dagster_home.mkdir(parents=True)
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    done = subprocess.run(
        [
            sys.executable,
            "-W",
            "always",
            "-m",
            "dagster",
            "definitions",
            "validate",
            "-w",
            "workspace.yaml",
        ],
        cwd=ROOT,
        env={**os.environ, "DAGSTER_HOME": str(dagster_home)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    ours = [
        line
        for line in done.stderr.splitlines()
        if "Warning" in line and ("epochpod_assets" in line or "WARNING" in line)
    ]
    assert ours == []
