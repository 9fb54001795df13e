"""Jobs: the one the sensor launches for each episode."""

import dagster as dg

from epochpod_assets.partitions import episodes_partitions

generate_episode = dg.define_asset_job(
    name="generate_episode",
    selection=dg.AssetSelection.groups("episodes"),
    partitions_def=episodes_partitions,
    description="Outline, script, audio and publication of one episode (one partition).",
)
