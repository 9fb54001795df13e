"""Jobs: the one the sensor launches for each episode."""

import dagster as dg

generate_episode = dg.define_asset_job(
    name="generate_episode",
    selection=dg.AssetSelection.groups("episodes"),
    description="Outline, script, audio and publication of one episode (one partition).",
)
