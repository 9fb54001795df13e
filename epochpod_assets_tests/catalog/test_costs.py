"""The cost report: totals per episode, per format and per day, in metadata and as CSV."""

from __future__ import annotations

import datetime as dt
import io

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from epochpod_assets import enqueue, settings
from epochpod_assets.catalog import Catalog
from epochpod_assets.defs.assets.costs import (
    METRIC_COLUMNS,
    REPORT_KEYS,
    cost_report,
    generation_costs,
    markdown_table,
)
from epochpod_assets.defs.resources import resources_from_env
from epochpod_assets.intake import open_catalog
from epochpod_assets.providers.base import Usage
from epochpod_assets.storage import LocalMediaStore

DAY1 = dt.datetime(2025, 3, 1, 23, 30, tzinfo=dt.UTC)
DAY2 = dt.datetime(2025, 3, 2, 0, 15, tzinfo=dt.UTC)


def _metrics() -> pd.DataFrame:
    rows = [
        # (episode, title, format, status, stage, tokens, chars, usd, seconds, at)
        ("ep-a", "Curie", "INTERVIEW", "PUBLISHED", "outline", 100, 0, 0.01, 1.0, DAY1),
        ("ep-a", "Curie", "INTERVIEW", "PUBLISHED", "script", 900, 0, 0.05, 2.0, DAY1),
        ("ep-a", "Curie", "INTERVIEW", "PUBLISHED", "audio", 0, 5000, 0.075, 30.0, DAY2),
        ("ep-b", "Watt | Blake", "DEBATE", "DRAFT", "outline", 200, 0, 0.02, 1.5, DAY2),
        # A failed attempt and its retry: both were paid for.
        ("ep-b", "Watt | Blake", "DEBATE", "DRAFT", "script", 300, 0, 0.03, 2.5, DAY2),
        ("ep-b", "Watt | Blake", "DEBATE", "DRAFT", "script", 1100, 0, 0.07, 3.0, DAY2),
        ("ep-c", "Paris", "INTERVIEW", "PUBLISHED", "outline", 50, 0, 0.005, 0.5, DAY2),
    ]
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def test_totals_per_episode_format_and_day() -> None:
    report = cost_report(_metrics())

    episodes = report.by_episode.set_index("episode_id")
    assert list(report.by_episode["episode_id"]) == ["ep-c", "ep-b", "ep-a"], "newest first"
    assert episodes.loc["ep-a", "usd"] == pytest.approx(0.135)
    assert episodes.loc["ep-a", "llm_tokens"] == 1000
    assert episodes.loc["ep-a", "tts_characters"] == 5000
    assert episodes.loc["ep-b", "stage_runs"] == 3
    assert episodes.loc["ep-b", "usd"] == pytest.approx(0.12)
    assert episodes.loc["ep-b", "wall_seconds"] == pytest.approx(7.0)

    formats = report.by_format.set_index("format")
    assert formats.loc["INTERVIEW", "episodes"] == 2
    assert formats.loc["INTERVIEW", "usd"] == pytest.approx(0.14)
    assert formats.loc["INTERVIEW", "usd_per_episode"] == pytest.approx(0.07)
    assert formats.loc["DEBATE", "stage_runs"] == 3

    # Days are UTC calendar days: ep-a's spending straddles midnight.
    days = report.by_day.set_index("day")
    assert list(days.index) == ["2025-03-01", "2025-03-02"]
    assert days.loc["2025-03-01", "usd"] == pytest.approx(0.06)
    assert days.loc["2025-03-02", "usd"] == pytest.approx(0.2)
    assert days.loc["2025-03-02", "episodes"] == 3
    assert report.by_day["usd"].sum() == pytest.approx(report.by_episode["usd"].sum())


def test_naive_timestamps_from_sqlite_are_read_as_utc() -> None:
    metrics = _metrics()
    metrics["created_at"] = [t.replace(tzinfo=None) for t in metrics["created_at"]]
    assert list(cost_report(metrics).by_day["day"]) == ["2025-03-01", "2025-03-02"]


def test_markdown_table_escapes_and_formats() -> None:
    table = markdown_table(cost_report(_metrics()).by_episode)
    lines = table.splitlines()
    assert lines[0].startswith("| episode_id | title | format | status | first_run |")
    assert len(lines) == 2 + 3
    assert "Watt \\| Blake" in table, "a pipe in a title does not break the table"
    assert "| 0.1350 |" in table and "| 1,000 |" in table
    assert markdown_table(cost_report(_metrics().iloc[0:0]).by_day) == "_No generation runs yet._"


def _record(db: Catalog, episode_id: str, stage: str, tokens: int, chars: int, usd: float) -> None:
    usage = Usage(prompt_tokens=tokens, tts_characters=chars, usd=usd)
    db.record_usage(episode_id, stage, "run-1", usage, wall_seconds=1.0)


def test_asset_reports_the_catalog_metrics_and_stores_csv() -> None:
    db = open_catalog()
    interview = enqueue({"format": "interview", "guest_name": "Marie Curie", "topic": "radium"}, db)
    adventure = enqueue({"format": "adventure", "setting": "Rome, 44 BC"}, db)
    _record(db, interview, "outline", 100, 0, 0.25)
    _record(db, interview, "audio", 0, 4000, 0.5)
    _record(db, adventure, "outline", 300, 0, 1.0)

    result = dg.materialize([generation_costs], resources=resources_from_env())
    assert result.success
    metadata = result.asset_materializations_for_node("generation_costs")[0].metadata
    assert metadata["total_usd"].value == pytest.approx(1.75)
    assert metadata["episodes"].value == 2
    assert metadata["stage_runs"].value == 3
    by_format = str(metadata["by_format"].value)
    assert "| INTERVIEW | 1 | 2 | 100 | 4,000 | 0.7500 |" in by_format
    assert "| ADVENTURE | 1 | 1 | 300 | 0 | 1.0000 |" in by_format

    store = LocalMediaStore(settings.media_root())
    by_episode = pd.read_csv(io.BytesIO(store.get(REPORT_KEYS["by_episode"])))
    assert set(by_episode["episode_id"]) == {interview, adventure}
    assert by_episode["usd"].sum() == pytest.approx(1.75)
    by_day = pd.read_csv(io.BytesIO(store.get(REPORT_KEYS["by_day"])))
    assert by_day["usd"].sum() == pytest.approx(1.75)

    # Episodes the catalog deletes take their metrics with them (ON DELETE CASCADE).
    with db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM episodes WHERE id = :id"), {"id": adventure})
    again = dg.materialize([generation_costs], resources=resources_from_env())
    metadata = again.asset_materializations_for_node("generation_costs")[0].metadata
    assert metadata["total_usd"].value == pytest.approx(0.75)
