"""`epochpod run` (and so `make demo`) leaves a feed and a cost report: without the daemon,
nothing else would run the automation that builds them."""

from __future__ import annotations

from pathlib import Path

import feedparser
import pytest

from epochpod_assets import enqueue
from epochpod_assets.cli import main
from epochpod_assets.intake import open_catalog


@pytest.mark.slow
def test_epochpod_run_rebuilds_the_feed_and_the_cost_report(
    epochpod_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = open_catalog()
    episode_id = enqueue(
        {"format": "interview", "guest_name": "Hypatia", "topic": "comets", "target_minutes": 1},
        db,
    )
    media = epochpod_home / "media"
    assert not (media / "feed.xml").exists()

    assert main(["run"]) == 0

    feed = feedparser.parse((media / "feed.xml").read_bytes())
    assert [entry.id for entry in feed.entries] == [episode_id]
    costs = (media / "reports" / "costs_by_episode.csv").read_text()
    assert episode_id in costs
    assert "feed.xml" in capsys.readouterr().out, "it says where the feed is"
