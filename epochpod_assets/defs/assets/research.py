"""The research stage: the episode's fact sheet, before anything is planned or written."""

import dagster as dg

from epochpod_assets.defs.assets.stages import Episode, episode_stage, usage_metadata
from epochpod_assets.defs.partitions import episodes_partitions
from epochpod_assets.defs.resources import CatalogResource, MediaResource, WriterResource
from epochpod_assets.editorial import own_script
from epochpod_assets.history.factsheet import FactSheet
from epochpod_assets.history.research import Research, load_sources, research, resolve_dates
from epochpod_assets.history.shownotes import citation
from epochpod_assets.providers.budget import check_budget
from epochpod_assets.status import Stage
from epochpod_assets.storage import MediaStore, episode_key, get_model, put_model

GROUP = "episodes"
RESEARCH_JSON = "research.json"
RETRY = dg.RetryPolicy(
    max_retries=1, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


@dg.asset(
    partitions_def=episodes_partitions,
    group_name=GROUP,
    retry_policy=RETRY,
    kinds={"python"},
    pool="llm",
)
def episode_research(
    context: dg.AssetExecutionContext,
    catalog: CatalogResource,
    writer: WriterResource,
    media: MediaResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """The episode's fact sheet: numbered facts from the request's sources, each with its
    date, its source and the exact passage it rests on (checked against the source, never
    taken on a model's word), and each figure's timeline up to the date they speak from.
    The outline and script are written from it and the script's checks judge against it."""
    db = catalog.get()
    with episode_stage(context, db, Stage.RESEARCHING, "research") as stage:
        # Inside the stage: a provider or store that cannot be set up fails the episode with
        # its own reason, not as a step that failed before it started.
        store, author = media.get(), writer.get()
        check_budget(stage, db, Stage.RESEARCHING, writer=author)
        episode = stage.episode
        fmt, request = episode.format, episode.request
        found = research(
            author,
            topic=episode_topic(episode),
            figures=fmt.figures(request),
            meeting=fmt.meeting_date(request),
            sources=load_sources(request.sources, store),
            usage=stage.usage,
            # A producer's own script is checked against its sources, but nothing is written
            # for it: no model facts of its own.
            own_knowledge=not own_script.requested(request),
        )
        put_model(store, episode_key(episode.id, RESEARCH_JSON), found)
        sheet = found.sheet
        db.save_research(
            episode.id,
            [f"[{s.id}] {citation(s)}" for s in sheet.sources],
            sheet.model_dump(mode="json"),
        )
    dates = "\n".join(f"- **{v.speaker}**: {v.as_of or 'no date'} ({v.rule})" for v in found.voices)
    return dg.MaterializeResult(
        metadata={
            "format": episode.type,
            "writer": f"{author.provider} / {author.model}",
            "sources": len(sheet.sources),
            "facts": len(sheet.facts),
            "sourced_share": round(sheet.sourced_share, 3),
            "quotes_not_in_source_dropped": found.dropped_quotes,
            "chunks_read": found.chunks,
            "as_of": dg.MetadataValue.md(dates or "no figures"),
            "preview": dg.MetadataValue.md(_preview(found)),
            "wall_seconds": round(stage.seconds, 2),
            **usage_metadata(stage.usage),
        }
    )


def episode_topic(episode: Episode) -> str:
    return episode.format.catalog_topic(episode.request) or ""


def load_research(store: MediaStore, episode_id: str) -> Research:
    try:
        return get_model(store, episode_key(episode_id, RESEARCH_JSON), Research)
    except KeyError:
        raise ValueError(
            f"{RESEARCH_JSON} does not exist for {episode_id} yet; materialize "
            "episode_research first"
        ) from None


def research_for(store: MediaStore, episode: Episode) -> Research:
    """The episode's research; for an episode made before research existed (a backfill or an
    edit of an old episode), an empty fact sheet with the dates its request gives, so it is
    still held to them and simply cites nothing."""
    try:
        return load_research(store, episode.id)
    except ValueError:
        fmt, request = episode.format, episode.request
        sheet = FactSheet(topic=episode_topic(episode))
        voices = resolve_dates(fmt.figures(request), fmt.meeting_date(request), sheet)
        return Research(sheet=sheet, voices=voices)


def _preview(found: Research) -> str:
    sheet = found.sheet
    sources = "\n".join(f"{s.id}. {citation(s)}" for s in sheet.sources) or "*no sources*"
    facts = "\n".join(f"- {sheet.fact_line(f)}" for f in sheet.facts[:8]) or "*no facts*"
    return f"**Sources**\n\n{sources}\n\n**Facts** ({len(sheet.facts)})\n\n{facts}"
