"""The per-episode assets: (research ->) outline -> script -> audio -> published episode.

Each asset stores what it made in media storage (JSON for the outline and script, MP3 and
WebVTT for audio) and returns a `dg.MaterializeResult` whose metadata the UI shows. The code is
format-agnostic: everything format-specific goes through `episode.format`.
"""

import contextlib
from typing import Any

import dagster as dg

from epochpod_assets import lifecycle
from epochpod_assets.audio.rendering import (
    PAUSE_BETWEEN_SECTIONS,
    PAUSE_BETWEEN_TURNS,
    render_tracks,
)
from epochpod_assets.audio.segments import SegmentCache
from epochpod_assets.defs.assets.continuity import continuity_check_result, continuity_check_spec
from epochpod_assets.defs.assets.research import episode_research, research_for
from epochpod_assets.defs.assets.stages import Episode, episode_stage, titled, usage_metadata
from epochpod_assets.defs.partitions import episodes_partitions
from epochpod_assets.defs.pools import pool_slot
from epochpod_assets.defs.resources import (
    CatalogResource,
    MediaResource,
    VoiceResource,
    WriterResource,
)
from epochpod_assets.editorial import own_script
from epochpod_assets.editorial.revise import edit_for_run, revise, stops_for_review
from epochpod_assets.editorial.versions import store_script
from epochpod_assets.formats.base import (
    WORDS_PER_MINUTE,
    RenderedTrackInfo,
    count_words,
    section_words,
    transcript,
)
from epochpod_assets.history.gate import Gate
from epochpod_assets.history.grounding import GroundedWriter
from epochpod_assets.history.integrity import (
    INTEGRITY_JSON,
    integrity_metadata,
    integrity_report,
)
from epochpod_assets.history.shownotes import (
    citation,
    cited_transcript,
    feed_citations,
    show_notes,
)
from epochpod_assets.media import (
    TrackEntry,
    load_manifest,
    outline_key,
    save_manifest,
    track_key,
)
from epochpod_assets.providers.budget import BudgetedVoice, BudgetedWriter, check_budget
from epochpod_assets.scripting.fitting import write_to_length
from epochpod_assets.scripting.longform import is_longform
from epochpod_assets.speech.lexicon import for_episode
from epochpod_assets.speech.normalize import spoken_words
from epochpod_assets.status import Stage
from epochpod_assets.storage import (
    M,
    MediaStore,
    display_url,
    episode_key,
    get_model,
    put_json,
    put_model,
)

GROUP = "episodes"
# Transient provider trouble that outlived the client's own retries gets one more go, as in
# the original (retries: 1); permanent failures are raised with allow_retries=False.
RETRY = dg.RetryPolicy(
    max_retries=1, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


@dg.asset(
    partitions_def=episodes_partitions,
    group_name=GROUP,
    deps=[episode_research],
    retry_policy=RETRY,
    kinds={"python"},
    pool="llm",
)
def episode_outline(
    context: dg.AssetExecutionContext,
    catalog: CatalogResource,
    writer: WriterResource,
    media: MediaResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """The episode's plan: who speaks, the sections and questions (or the story's branches),
    written from the fact sheet. Everything after it is written from this plan."""
    db = catalog.get()
    with episode_stage(context, db, Stage.GENERATING_OUTLINE, "outline") as stage:
        # Inside the stage: a provider or store that cannot be set up fails the episode with
        # its own reason, not as a step that failed before it started.
        store, author = media.get(), writer.get()
        check_budget(stage, db, Stage.GENERATING_OUTLINE, writer=author)
        episode = stage.episode
        if own_script.requested(episode.request):
            # Bring your own script: the plan is read from the producer's file, not written.
            outline = own_script.outline_for(store, episode.format, episode.request)
        else:
            grounded = GroundedWriter(author, research_for(store, episode))
            outline = grounded.write(episode.format.outline_task(episode.request), stage.usage)
        put_model(store, outline_key(episode.id), outline)
    return dg.MaterializeResult(
        metadata={
            "title": titled(context, episode.format.publication(episode.request, outline).title),
            "format": episode.type,
            "writer": f"{author.provider} / {author.model}",
            "writer_pricing": _pricing(author, "llm"),
            "preview": dg.MetadataValue.md(episode.format.outline_preview(outline)),
            "wall_seconds": round(stage.seconds, 2),
            **usage_metadata(stage.usage),
        }
    )


@dg.asset(
    partitions_def=episodes_partitions,
    group_name=GROUP,
    deps=[episode_outline],
    retry_policy=RETRY,
    kinds={"python"},
    pool="llm",
    check_specs=[continuity_check_spec()],
)
def episode_script(
    context: dg.AssetExecutionContext,
    catalog: CatalogResource,
    writer: WriterResource,
    voice: VoiceResource,
    media: MediaResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """The words of the episode, turn by turn and speaker by speaker, written from the fact
    sheet and checked against the cast, the word budget, continuity, the time guard and the
    claims. The budget is planned from the target duration at the cast's measured speaking
    rate. A short script is checked before any audio is paid for; a long one is written
    section by section, in parallel, and each part is spoken only once it has passed the time
    guard and the claim check (its failing lines rewritten), so no anachronism is ever paid
    for, and the parts that miss their length can be rewritten."""
    db = catalog.get()
    with episode_stage(context, db, Stage.GENERATING_SCRIPT, "script") as stage:
        store, author, speaker = media.get(), writer.get(), voice.get()
        episode = stage.episode
        # A long script is spoken as it is written: the voice is armed with the same cap as
        # the writer, and the allowance does not hold the audio stage's speech back for later.
        check_budget(
            stage,
            db,
            Stage.GENERATING_SCRIPT,
            writer=author,
            voice=speaker,
            speaks_ahead=is_longform(episode.request),
        )
        fmt = episode.format
        outline: Any = _upstream(store, episode, "outline.json", fmt.outline_model)
        # The fact sheet the script is written from and judged against (history/gate.py).
        found = research_for(store, episode)
        gate = Gate(found, author)
        edit = edit_for_run(db, context.run, episode.id)
        how: dict[str, Any]
        if edit is not None:
            # An editor's change (editorial/revise.py): an imported script, a rewrite after
            # review, or one line; lines that did not change come from the segment cache.
            current: Any = _upstream(store, episode, "script.json", fmt.script_model)
            revised = revise(
                edit, author, stage.usage, fmt, episode.request, outline, current, store
            )
            script = revised.script
            how = {
                "edit": f"#{edit['id']} {edit['kind']}: {revised.how}",
                "changed_lines": revised.changed_lines,
            }
        elif own_script.requested(episode.request):
            script = own_script.script_for(store, fmt, episode.request, outline)
            how = {"edit": "the producer's own script (no writer call)"}
        else:
            # Planned at the voices' remembered rates. A long episode is spoken part by part
            # as it is written (the audio stage finds the segments cached) and the parts
            # that miss their length are rewritten (formats/fitting.py). Speaking, it holds a
            # `tts` pool slot as the audio stage does, so the pool bounds all speech.
            speaks = (
                pool_slot(
                    context.instance,
                    "tts",
                    context.run.run_id,
                    str(context.op_execution_context.op_handle),
                )
                if is_longform(episode.request)
                else contextlib.nullcontext()
            )
            with speaks:
                written = write_to_length(
                    GroundedWriter(author, found, enforce=gate.enforce),
                    speaker,
                    fmt,
                    episode.request,
                    outline,
                    store,
                    stage.usage,
                    seconds_between_turns=PAUSE_BETWEEN_TURNS,
                    seconds_between_sections=PAUSE_BETWEEN_SECTIONS,
                    speech_parallel=voice.concurrency,
                )
            script = written.script
            how = {
                "word_budget": written.budget,
                "writer_words_per_word_asked": round(written.habit, 3),
                "words_per_minute": ", ".join(
                    f"{v} {r:.0f}" for v, r in sorted(written.rates.items())
                ),
                "predicted_minutes": round(written.predicted_seconds / 60, 2),
                "rewritten_to_length": written.rewritten,
                "parts_corrected_to_length": ", ".join(map(str, written.corrected_parts)) or "none",
                "lines_spoken_ahead": written.spoken_lines,
            }
        tracks = fmt.tracks(episode.request, outline, script)
        # The whole script once more, whoever wrote it (the writer's parts were checked as
        # they came; an edit or a producer's own script is checked here): what fails blocks
        # before the script is stored and any audio paid for.
        report = integrity_report(gate, tracks)
        put_json(store, episode_key(episode.id, INTEGRITY_JSON), report.model_dump(mode="json"))
        report.raise_if_blocked()
        # The script it replaces is kept under a versioned key (editorial/versions.py).
        kept = store_script(store, episode.id, script)
        if stops_for_review(context.run):
            # The review gate: no audio is paid for until an editor approves this script.
            lifecycle.start_stage(db, episode.id, Stage.AWAITING_REVIEW)
            if edit is not None:
                db.finish_edit(edit["id"], context.run.run_id)
    words = sum(section_words(t.sections) for t in tracks)
    speakers = sorted({line.speaker for t in tracks for s in t.sections for line in s.lines})
    return dg.MaterializeResult(
        metadata={
            "title": titled(context, fmt.publication(episode.request, outline).title),
            "format": episode.type,
            "writer": f"{author.provider} / {author.model}",
            "writer_pricing": _pricing(author, "llm"),
            "word_count": words,
            **how,
            "previous_script": f"scripts/v{kept}.json" if kept else "none",
            "awaiting_review": stops_for_review(context.run),
            "speakers": ", ".join(speakers),
            "turns": sum(len(s.lines) for t in tracks for s in t.sections),
            "tracks": len(tracks),
            "preview": dg.MetadataValue.md(fmt.script_preview(episode.request, outline, script)),
            **integrity_metadata(report),
            "wall_seconds": round(stage.seconds, 2),
            **usage_metadata(stage.usage),
        },
        check_results=[continuity_check_result(tracks, fmt.cast(episode.request))],
    )


@dg.asset(
    partitions_def=episodes_partitions,
    group_name=GROUP,
    deps=[episode_script],
    retry_policy=RETRY,
    kinds={"python"},
    pool="tts",
)
def episode_audio(
    context: dg.AssetExecutionContext,
    catalog: CatalogResource,
    voice: VoiceResource,
    media: MediaResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """The episode's sound: every line spoken in its speaker's voice, assembled into
    loudness-normalized MP3 tracks with chapters and captions (one track per adventure node)."""
    db = catalog.get()
    with episode_stage(context, db, Stage.GENERATING_AUDIO, "audio") as stage:
        store, speaker = media.get(), voice.get()
        check_budget(stage, db, Stage.GENERATING_AUDIO, voice=speaker)
        episode = stage.episode
        fmt = episode.format
        outline: Any = _upstream(store, episode, "outline.json", fmt.outline_model)
        script: Any = _upstream(store, episode, "script.json", fmt.script_model)
        plans = fmt.tracks(episode.request, outline, script)
        publication = fmt.publication(episode.request, outline)
        cache = SegmentCache(speaker, store, stage.usage, for_episode(episode.request))

        def on_progress(done: int, total: int) -> None:
            # 70 -> 89 as segments finish; 90 belongs to UPLOADING.
            lifecycle.progress(
                db, episode.id, Stage.GENERATING_AUDIO.progress + (19 * done) // total
            )

        outcomes = render_tracks(
            episode.id,
            plans,
            fmt.cast(episode.request),
            album="Epoch Pod",
            description=publication.description,
            cache=cache,
            store=store,
            concurrency=voice.concurrency,
            on_progress=on_progress,
            bitrate=voice.mp3_bitrate,
            beds=voice.audio_beds,
        )
        lifecycle.start_stage(db, episode.id, Stage.UPLOADING)
        save_manifest(store, episode.id, [TrackEntry.of(o.info, o.rendered) for o in outcomes])
    seconds = sum(o.info.duration_seconds for o in outcomes)
    # The estimate counts what the voice says ("1066" is three words), as the checks do.
    words = sum(spoken_words(line.text) for p in plans for s in p.sections for line in s.lines)
    loudness = [o.rendered.loudness.integrated_lufs for o in outcomes]
    return dg.MaterializeResult(
        metadata={
            "title": titled(context, publication.title),
            "format": episode.type,
            "voice": f"{speaker.provider} / {speaker.model}",
            "voice_pricing": _pricing(speaker, "tts"),
            "tracks": len(outcomes),
            "duration_seconds": round(seconds, 1),
            "estimated_seconds": round(words / WORDS_PER_MINUTE * 60, 1),
            "audio_bytes": sum(o.info.bytes for o in outcomes),
            "segments": cache.hits + cache.misses,
            "cache_hits": cache.hits,
            "cache_misses": cache.misses,
            "integrated_lufs": round(min(loudness), 2),
            # The loudest inter-sample peak of any track (ceiling -1 dBTP).
            "true_peak_dbtp": round(max(o.rendered.loudness.true_peak_dbtp for o in outcomes), 1),
            "audio_url": dg.MetadataValue.url(
                display_url(store, track_key(episode.id, outcomes[0].info.key, "mp3"))
            ),
            **_captions_link(store, episode.id, outcomes[0].info),
            "wall_seconds": round(stage.seconds, 2),
            **usage_metadata(stage.usage),
        }
    )


@dg.asset(
    partitions_def=episodes_partitions,
    group_name=GROUP,
    deps=[episode_audio],
    kinds={"python"},
)
def published_episode(
    context: dg.AssetExecutionContext, catalog: CatalogResource, media: MediaResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """The episode as listeners and the web app see it: title, description, transcript,
    duration, audio URL, sources and format detail on the catalog row, status PUBLISHED."""
    db = catalog.get()
    with episode_stage(context, db, Stage.UPLOADING, "publish") as stage:
        store = media.get()
        episode = stage.episode
        fmt = episode.format
        outline: Any = _upstream(store, episode, "outline.json", fmt.outline_model)
        script: Any = _upstream(store, episode, "script.json", fmt.script_model)
        try:
            tracks = [entry.info() for entry in load_manifest(store, episode.id)]
        except KeyError:
            raise ValueError(
                f"audio.json does not exist for {episode.id} yet; materialize episode_audio first"
            ) from None
        plans = fmt.tracks(episode.request, outline, script)
        publication = fmt.publication(episode.request, outline)
        entry = tracks[0]
        found = research_for(store, episode)
        sheet = found.sheet
        lines = [line for p in plans for s in p.sections for line in s.lines]
        notes = show_notes(publication.title, publication.description, found, lines)
        store.put(episode_key(episode.id, "show_notes.md"), notes.markdown.encode(), _MD)
        notes_url = store.put(
            episode_key(episode.id, "show_notes.html"), notes.html.encode(), _HTML
        )
        text = cited_transcript((s for p in plans for s in p.sections), sheet)
        lifecycle.publish(
            db,
            episode.id,
            {
                "title": publication.title,
                "subtitle": publication.subtitle,
                "description": f"{publication.description}\n\n{feed_citations(notes, sheet)}",
                "topic": publication.topic,
                "era": publication.era,
                # The numbered sources the episode rests on; without any, the outline's
                # suggestions for further reading, as before.
                "sources": [f"[{s.id}] {citation(s)}" for s in sheet.sources]
                or publication.sources,
                "show_notes_url": notes_url,
                # The fact sheet again, with the ids of the facts the episode's lines cite.
                "fact_sheet": {**sheet.model_dump(mode="json"), "cited": notes.cited_facts},
                "transcript": text,
                "duration_seconds": round(fmt.listening_seconds(episode.request, tracks)),
                "audio_url": entry.url,
                "audio_bytes": entry.bytes,
                "captions_url": entry.captions_url,
            },
            fmt.detail(episode.request, outline, script, tracks),
        )
        edit = edit_for_run(db, context.run, episode.id)
        if edit is not None:
            db.finish_edit(edit["id"], context.run.run_id)
    totals = db.stats([episode.id]).get(episode.id)
    return dg.MaterializeResult(
        metadata={
            "title": titled(context, publication.title),
            "format": episode.type,
            "audio_url": dg.MetadataValue.url(
                display_url(store, track_key(episode.id, entry.key, "mp3"))
            ),
            **_captions_link(store, episode.id, entry),
            "duration_seconds": round(fmt.listening_seconds(episode.request, tracks)),
            "tracks": len(tracks),
            "word_count": count_words(transcript(s for p in plans for s in p.sections)),
            "sources": len(sheet.sources),
            "facts_cited": notes.facts_cited,
            "show_notes": dg.MetadataValue.url(
                display_url(store, episode_key(episode.id, "show_notes.html"))
            ),
            "episode_usd": round(totals.estimated_usd, 6) if totals else 0.0,
            "episode_llm_tokens": totals.llm_tokens if totals else 0,
            "episode_tts_characters": totals.tts_characters if totals else 0,
            # What went out, beside where to hear it: a producer checks both on one page.
            "script_preview": dg.MetadataValue.md(
                fmt.script_preview(episode.request, outline, script)
            ),
        }
    )


_MD = "text/markdown; charset=utf-8"
_HTML = "text/html; charset=utf-8"


def _pricing(provider: BudgetedWriter | BudgetedVoice, kind: str) -> str:
    """How this stage's provider is priced: OpenAI's list, the operator's table, or $0 for a
    local server (labelled, so a free episode is never mistaken for an unbilled one)."""
    if provider.provider != "openai":
        return "offline: $0"
    return provider.prices.note(kind, provider.model)


def _captions_link(
    store: MediaStore, episode_id: str, info: RenderedTrackInfo
) -> dict[str, dg.MetadataValue]:
    if not info.captions_url:
        return {}
    key = track_key(episode_id, info.key, "vtt")
    return {"captions_url": dg.MetadataValue.url(display_url(store, key))}


def _upstream(store: MediaStore, episode: Episode, name: str, model: type[M]) -> M:
    try:
        return get_model(store, episode_key(episode.id, name), model)
    except KeyError:
        raise ValueError(
            f"{name} does not exist for {episode.id} yet; materialize the upstream asset first"
        ) from None
