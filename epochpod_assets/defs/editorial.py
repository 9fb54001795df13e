"""The Dagster side of editorial control: the jobs an edit runs and the sensor that runs it.

The review gate in asset terms: a request that asks for review is launched on
`write_episode` (everything up to `episode_script`), tagged to stop there; its episode then
rests in AWAITING_REVIEW. Approval launches `voice_episode` (`episode_audio` and
`published_episode` only); a rejection launches `revise_script` (`episode_script` only, so
only the writer is billed). An import or a one-line rewrite launches `revise_episode`
(script, audio, publication; unchanged lines come from the segment cache), or `revise_script`
while the episode waits for review. Each edit is one `episode_edits` row and one run key,
`edit-<id>`: launched once, and asked for again after the lease if its run never started.

From the launchpad, `approve_episode`, `reject_episode`, `import_script`, `rewrite_line` and
`request_own_script` do what the command line does, with the same checks
(editorial/actions.py): each queues its action, and a sensor starts the run.
"""

import datetime as dt
from collections.abc import Callable
from typing import Any

import dagster as dg
from pydantic import Field

from epochpod_assets import settings
from epochpod_assets.defs.resources import CatalogResource, MediaResource
from epochpod_assets.editorial import actions, own_script
from epochpod_assets.editorial.actions import APPROVE, REJECT, EditError
from epochpod_assets.editorial.revise import EDIT_TAG, REVIEW_TAG, STOP
from epochpod_assets.formats import registry
from epochpod_assets.intake import enqueue
from epochpod_assets.requests import RequestError
from epochpod_assets.run_tags import episode_run_tags

write_episode = dg.define_asset_job(
    name="write_episode",
    selection=dg.AssetSelection.assets("episode_script").upstream(),
    description="Everything up to the script of one episode that asked for review; it then "
    "waits in AWAITING_REVIEW for `epochpod approve` or `epochpod reject`.",
)
voice_episode = dg.define_asset_job(
    name="voice_episode",
    selection=dg.AssetSelection.assets("episode_audio", "published_episode"),
    description="Audio and publication of an approved script (no writer call).",
)
revise_episode = dg.define_asset_job(
    name="revise_episode",
    selection=dg.AssetSelection.assets("episode_script", "episode_audio", "published_episode"),
    description="An edited script (imported, or one line rewritten), voiced and published: "
    "only changed lines are spoken, the rest come from the segment cache.",
)
revise_script = dg.define_asset_job(
    name="revise_script",
    selection=dg.AssetSelection.assets("episode_script"),
    description="The script of an episode under review, written again with the editor's "
    "note (or imported, or one line rewritten); it waits for review again.",
)
EDIT_JOBS = [voice_episode, revise_episode, revise_script]


def job_for(edit: dict[str, Any]) -> tuple[str, bool]:
    """(job name, whether the run stops for review) for an edit."""
    if edit["kind"] == APPROVE:
        return voice_episode.name, False
    if edit["kind"] == REJECT or edit["review"]:
        return revise_script.name, True
    return revise_episode.name, False


def edit_run_request(edit: dict[str, Any], tags: dict[str, str]) -> dg.RunRequest:
    job, stop = job_for(edit)
    return dg.RunRequest(
        run_key=f"edit-{edit['id']}",
        partition_key=edit["episode_id"],
        job_name=job,
        tags={**tags, EDIT_TAG: str(edit["id"]), **({REVIEW_TAG: STOP} if stop else {})},
    )


_settings = settings.load()


@dg.sensor(
    jobs=EDIT_JOBS,
    minimum_interval_seconds=_settings.sensor_interval_seconds,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def episode_edits(context: dg.SensorEvaluationContext, catalog: CatalogResource) -> dg.SensorResult:
    """Turns each editorial action (approve, reject, import, one-line rewrite) into exactly one
    run of the assets it needs, oldest first. Rows are marked as asked for only after the tick
    has built its result; one whose run never started comes back after the lease, under the
    same run key, so it still runs once."""
    db = catalog.get()
    lease = dt.timedelta(seconds=_settings.sensor_lease_seconds)
    edits = db.pending_edits(limit=_settings.sensor_batch, lease=lease)
    requests = [
        edit_run_request(
            edit, episode_run_tags(edit["episode_id"], edit["episode_type"], edit["title"])
        )
        for edit in edits
    ]
    db.mark_edits_queued([edit["id"] for edit in edits])
    if requests:
        context.log.info(
            "requesting "
            + ", ".join(f"{r.job_name} for {r.partition_key} ({r.run_key})" for r in requests)
        )
    return dg.SensorResult(run_requests=requests)


TAGS = {"epochpod/kind": "editorial"}


class ReviewDecision(dg.Config):
    episode_id: str = Field(description="the episode awaiting review (AWAITING_REVIEW)")


class Rejection(dg.Config):
    episode_id: str = Field(description="the episode awaiting review (AWAITING_REVIEW)")
    note: str = Field(description="what the writer should change; the script is written again")


class ScriptImport(dg.Config):
    episode_id: str = Field(description="the episode whose script this replaces")
    script_text: str = Field(
        description="the whole script in the plain format (`epochpod script export` writes it)"
    )


class LineRewrite(dg.Config):
    episode_id: str
    line: int = Field(description="line number of a spoken line in the exported script")
    note: str = Field(description="what to change in that line")


class OwnScript(dg.Config):
    format: str = Field(description="the format's name: " + ", ".join(registry.names()))
    script_text: str = Field(description="the script in the plain format, or a podcastfy one")
    title: str | None = Field(default=None, description="instead of the file's '# Title'")
    voices: dict[str, str] = Field(
        default_factory=dict, description="speaker name -> voice, e.g. {'Ada Lovelace': 'nova'}"
    )
    review: bool | None = Field(default=None, description="stop for review after the script")
    as_of: str | None = Field(
        default=None, description="the date the figures speak from (e.g. 1921, 44 BC)"
    )


def _refused(error: EditError | RequestError) -> dg.Failure:
    problems = error.problems
    return dg.Failure(
        description="refused:\n" + "\n".join(problems),
        metadata={"problems": dg.MetadataValue.json(problems)},
        # The same config would be refused the same way.
        allow_retries=False,
    )


def _queued(context: dg.OpExecutionContext, what: str, do: Callable[[], Any]) -> dg.Output[Any]:
    try:
        value = do()
    except (EditError, RequestError) as error:
        raise _refused(error) from None
    context.log.info(f"{what}: {value}")
    return dg.Output(value, metadata={"queued": str(value)})


@dg.op(description="Approve a script awaiting review: its audio and publication follow.")
def approve_script(
    context: dg.OpExecutionContext, config: ReviewDecision, catalog: CatalogResource
) -> dg.Output[Any]:
    return _queued(
        context,
        "approval queued as edit",
        lambda: actions.approve(catalog.get(), config.episode_id),
    )


@dg.op(description="Reject a script awaiting review: the writer writes it again with the note.")
def reject_script(
    context: dg.OpExecutionContext, config: Rejection, catalog: CatalogResource
) -> dg.Output[Any]:
    return _queued(
        context,
        "rejection queued as edit",
        lambda: actions.reject(catalog.get(), config.episode_id, config.note),
    )


@dg.op(description="Replace an episode's script with an edited plain script and re-voice it.")
def import_episode_script(
    context: dg.OpExecutionContext,
    config: ScriptImport,
    catalog: CatalogResource,
    media: MediaResource,
) -> dg.Output[Any]:
    def do() -> str:
        imported = actions.import_script(
            catalog.get(), media.get(), config.episode_id, config.script_text
        )
        return f"edit {imported.edit_id}, {imported.changed_lines} changed line(s)"

    return _queued(context, "import queued", do)


@dg.op(description="Ask the writer for one line again, with the note, and re-voice that line.")
def rewrite_script_line(
    context: dg.OpExecutionContext,
    config: LineRewrite,
    catalog: CatalogResource,
    media: MediaResource,
) -> dg.Output[Any]:
    return _queued(
        context,
        "line rewrite queued as edit",
        lambda: actions.rewrite_line(
            catalog.get(), media.get(), config.episode_id, config.line, config.note
        ),
    )


@dg.op(description="Queue an episode voiced from the producer's own script (no writer call).")
def order_own_script(
    context: dg.OpExecutionContext,
    config: OwnScript,
    catalog: CatalogResource,
    media: MediaResource,
) -> dg.Output[Any]:
    def do() -> str:
        extra = {
            key: value
            for key, value in (("review", config.review), ("as_of", config.as_of))
            if value is not None
        }
        request, digest = own_script.build_request(
            config.script_text,
            config.format,
            title=config.title,
            voices=config.voices,
            extra=extra,
        )
        own_script.store_file(media.get(), config.script_text, digest)
        return enqueue(request, catalog.get())

    return _queued(context, "queued episode", do)


@dg.job(description="Approve a script awaiting review (as `epochpod approve`).", tags=TAGS)
def approve_episode() -> None:
    approve_script()


@dg.job(description="Reject a script awaiting review (as `epochpod reject`).", tags=TAGS)
def reject_episode() -> None:
    reject_script()


@dg.job(description="Import an edited script (as `epochpod script import`).", tags=TAGS)
def import_script() -> None:
    import_episode_script()


@dg.job(description="Rewrite one line of a script (as `epochpod script rewrite`).", tags=TAGS)
def rewrite_line() -> None:
    rewrite_script_line()


@dg.job(description="Voice the producer's own script (as `epochpod enqueue script`).", tags=TAGS)
def request_own_script() -> None:
    order_own_script()


EDITORIAL_UI_JOBS = [
    approve_episode,
    reject_episode,
    import_script,
    rewrite_line,
    request_own_script,
]
