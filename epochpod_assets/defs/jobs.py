"""Jobs: the one the sensor launches for each episode, and the launchpad's way to order one."""

from typing import Any

import dagster as dg
from pydantic import Field

from epochpod_assets import settings
from epochpod_assets.defs.launchpad import order_mapping
from epochpod_assets.defs.resources import CatalogResource, MediaResource
from epochpod_assets.formats import formats
from epochpod_assets.intake import enqueue
from epochpod_assets.requests import RequestError, parse_request
from epochpod_assets.run_tags import missing_tags

generate_episode = dg.define_asset_job(
    name="generate_episode",
    selection=dg.AssetSelection.groups("episodes"),
    description="Outline, script, audio and publication of one episode (one partition).",
    # No executor here: every job of the code location takes the one `executor()` gives
    # `dg.Definitions`, so backfills and UI materializations run like the sensor's runs.
)

EXECUTORS = {"in_process": dg.in_process_executor, "multiprocess": dg.multiprocess_executor}


def executor() -> dg.ExecutorDefinition:
    """The executor of every job of the code location: the sensor's episode runs, the asset
    jobs the UI and backfills build, `request_episode`.

    In process by default. An episode's steps are a chain, so a process per step buys no
    parallelism; it only costs a Python start-up and import per step (a one-episode backfill
    took 57.5 s against 6 s in process). Pools, retries and termination work the same in
    process. A deployment that wants a process per step sets EPOCHPOD_EXECUTOR=multiprocess.
    """
    return EXECUTORS[settings.load().executor]


class EpisodeOrder(dg.Config):
    """A new episode, as the command line would order it: either `format` and `fields` (the
    request's fields, e.g. guest_name and topic), or the whole request as `request_json`."""

    format: str | None = Field(
        default=None,
        description=f"{', '.join(f.name for f in formats())} (with `fields`)",
    )
    fields: dict[str, Any] = Field(
        default_factory=dict,
        description="the request's fields, as `epochpod enqueue <format>` takes them",
    )
    request_json: str | None = Field(
        default=None, description="the whole request as JSON, instead of format and fields"
    )

    def request(self) -> Any:
        if self.request_json is not None:
            if self.format is not None or self.fields:
                raise RequestError(["request_json: give either request_json or format and fields"])
            # parse_request decodes it, with the same limits as every other way in.
            return self.request_json
        if self.format is None:
            raise RequestError(["format: required (or give request_json)"])
        return {**self.fields, "format": self.format}


@dg.op(
    description="Validate an episode request and put it on the queue; the episode_requests "
    "sensor starts its run."
)
def order_episode(
    context: dg.OpExecutionContext,
    config: EpisodeOrder,
    catalog: CatalogResource,
    media: MediaResource,
) -> dg.Output[str]:
    try:
        # Validated before the catalog is opened: a bad order writes nothing, not even a
        # new catalog. Source files named in the request are read by `enqueue`, as
        # `epochpod enqueue` reads them.
        request = parse_request(config.request())
        episode_id = enqueue(request, catalog.get(), media.get())
    except (RequestError, settings.SettingsError) as error:
        # Nothing was written. One line per bad field (or variable), as `epochpod` prints them.
        what = "request" if isinstance(error, RequestError) else "settings"
        raise dg.Failure(
            description=f"invalid {what}:\n" + "\n".join(error.problems),
            metadata={"problems": dg.MetadataValue.json(error.problems)},
            # The same config would fail the same way.
            allow_retries=False,
        ) from None
    row = catalog.get().get(episode_id)
    if row is not None:
        # The runs list says which episode this order made, like the episode's own runs.
        context.instance.add_run_tags(context.run_id, missing_tags(context.run.tags, row))
    context.log.info(f"queued episode {episode_id}")
    return dg.Output(episode_id, metadata={"episode_id": episode_id})


@dg.job(
    config=order_mapping(),
    description="Order a new episode from the launchpad: pick a format and fill in its fields "
    "(or give `request_json`); the launchpad checks the fields' types as you type, and the "
    "request is validated like `epochpod enqueue` before anything is launched. To regenerate "
    "an existing episode, materialize its partition instead.",
    tags={"epochpod/kind": "intake"},
)
def request_episode() -> None:
    order_episode()
