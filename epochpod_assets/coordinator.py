"""The run coordinator that gives every episode run its episode, format and title tags before
it joins the run queue.

Dagster tags a backfill's runs and a UI materialization's run with `dagster/partition` only
(a partitions definition cannot add tags per partition, and the daemon builds backfill runs from
the serialized definition, so no code of ours runs there). Without `epochpod/format` such a run
escapes the `tag_concurrency_limits` of dagster.yaml, so a 500-episode adventure backfill
would ignore the adventure limit. This coordinator looks the partition's episode up in the
catalog when the run is submitted (in the webserver for a UI launch, in the daemon for a
backfill or a sensor) and adds the tags it lacks; the queue then counts it like any other.

Configure it in dagster.yaml in place of `QueuedRunCoordinator` (same settings):

    run_coordinator:
      module: epochpod_assets.coordinator
      class: EpisodeRunCoordinator
"""

from __future__ import annotations

from functools import cache

import dagster as dg

from epochpod_assets import settings
from epochpod_assets.catalog import Catalog
from epochpod_assets.run_tags import episode_of_tags, missing_tags


@cache
def _catalog(url: str) -> Catalog:
    # Read-only here: the code location's resources migrate the schema, not the daemon.
    return Catalog(url)


def tags_for_run(run: dg.DagsterRun) -> dict[str, str]:
    """The episode tags `run` lacks ({} for a run that is not for an episode)."""
    episode_id = episode_of_tags(run.tags)
    if not episode_id:
        return {}
    row = _catalog(settings.database_url()).get(episode_id)
    return missing_tags(run.tags, row) if row else {}


class EpisodeRunCoordinator(dg.QueuedRunCoordinator):
    """`QueuedRunCoordinator` that first tags each episode run with its episode id, format and
    title, so the format concurrency limits apply to runs Dagster launched without them."""

    def submit_run(self, context: dg.SubmitRunContext) -> dg.DagsterRun:
        run = context.dagster_run
        try:
            tags = tags_for_run(run)
        except Exception as error:
            # An unreachable catalog must not stop the run: it would fail on its own first step
            # with the real reason. It only misses the format limit meanwhile, and says so.
            self._logger.warning(
                f"run {run.run_id}: could not read its episode's tags from the catalog "
                f"({type(error).__name__}); it is queued without them"
            )
            tags = {}
        if tags and run.status == dg.DagsterRunStatus.NOT_STARTED:
            self._instance.add_run_tags(run.run_id, tags)
            run = run.with_tags({**run.tags, **tags})
            context = dg.SubmitRunContext(run, context.workspace)
        return super().submit_run(context)
