"""The Dagster code location: `dagster dev` and `dagster-daemon` load `defs` from here."""

import dagster as dg

from epochpod_assets.assets.episodes import (
    episode_audio,
    episode_outline,
    episode_script,
    published_episode,
)
from epochpod_assets.jobs import generate_episode
from epochpod_assets.resources import resources_from_env
from epochpod_assets.sensors import episode_requests, episode_run_failures

defs = dg.Definitions(
    assets=[episode_outline, episode_script, episode_audio, published_episode],
    jobs=[generate_episode],
    sensors=[episode_requests, episode_run_failures],
    resources=resources_from_env(),
)
