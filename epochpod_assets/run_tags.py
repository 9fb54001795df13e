"""The tags every run for an episode carries, however it was launched (the queue sensor, a
UI materialization, a backfill, `request_episode`, `epochpod run`).

They let the runs list say which episode a run is, and they are what dagster.yaml's
`tag_concurrency_limits` count: a run without `epochpod/format` escapes the adventure limit.
Dagster gives a backfill's or a UI launch's runs only `dagster/partition`, so
`EpisodeRunCoordinator` (coordinator.py) adds these before a run joins the queue.
"""

from __future__ import annotations

from collections.abc import Mapping

from epochpod_assets import settings

EPISODE_TAG = "epochpod/episode_id"
FORMAT_TAG = "epochpod/format"
TITLE_TAG = "epochpod/title"
PARTITION_TAG = "dagster/partition"
MAX_RUNTIME_TAG = "dagster/max_runtime"
# Long enough for any real title; the runs list shows tags on one line.
TITLE_LIMIT = 120


def max_runtime_seconds() -> int | None:
    # Overrides the instance's run_monitoring.max_runtime_seconds for episode runs only (Dagster+
    # deployments do not own dagster.yaml). Unset: the instance default applies.
    return settings.load().run_max_runtime_seconds


def episode_run_tags(
    episode_id: str, episode_type: str, title: str | None = None
) -> dict[str, str]:
    """The tags of a run that works on `episode_id`."""
    tags = {EPISODE_TAG: episode_id, FORMAT_TAG: episode_type}
    if title:
        tags[TITLE_TAG] = short_title(title)
    runtime = max_runtime_seconds()
    if runtime:
        tags[MAX_RUNTIME_TAG] = str(runtime)
    return tags


def short_title(title: str) -> str:
    flat = " ".join(title.split())
    return flat if len(flat) <= TITLE_LIMIT else flat[: TITLE_LIMIT - 1] + "…"


def episode_of_tags(tags: Mapping[str, str]) -> str | None:
    """The episode a run works on: its own tag, or the partition a UI or backfill run got."""
    return tags.get(EPISODE_TAG) or tags.get(PARTITION_TAG)


def missing_tags(tags: Mapping[str, str], row: Mapping[str, object]) -> dict[str, str]:
    """What a run for the catalog row `row` lacks of its episode tags (nothing it has is
    overwritten: the sensor's own tags win)."""
    wanted = episode_run_tags(str(row["id"]), str(row["type"]), str(row["title"] or ""))
    return {key: value for key, value in wanted.items() if key not in tags}
