"""The Dagster code location: `dagster dev` and `dagster-daemon` load `defs` from here."""

import dagster as dg

from epochpod_assets.defs.assets.costs import generation_costs
from epochpod_assets.defs.assets.episodes import (
    episode_audio,
    episode_outline,
    episode_script,
    published_episode,
)
from epochpod_assets.defs.assets.feed import podcast_feed, publication_reports
from epochpod_assets.defs.assets.research import episode_research
from epochpod_assets.defs.checks import episode_checks
from epochpod_assets.defs.editorial import (
    EDIT_JOBS,
    EDITORIAL_UI_JOBS,
    episode_edits,
    write_episode,
)
from epochpod_assets.defs.jobs import executor, generate_episode, request_episode
from epochpod_assets.defs.notifications import FailureWebhookResource
from epochpod_assets.defs.resources import env, resources_from_env
from epochpod_assets.defs.sensors import episode_requests, episode_run_failures, episode_run_sweeper

defs = dg.Definitions(
    assets=[
        episode_research,
        episode_outline,
        episode_script,
        episode_audio,
        published_episode,
        podcast_feed,
        generation_costs,
    ],
    asset_checks=episode_checks,
    jobs=[generate_episode, request_episode, write_episode, *EDIT_JOBS, *EDITORIAL_UI_JOBS],
    # One executor for every job, the ones Dagster builds for UI launches and backfills too.
    executor=executor(),
    sensors=[
        episode_requests,
        episode_edits,
        episode_run_failures,
        episode_run_sweeper,
        publication_reports,
    ],
    resources={
        **resources_from_env(),
        "failure_webhook": FailureWebhookResource(url=env("EPOCHPOD_FAILURE_WEBHOOK_URL")),
    },
)
