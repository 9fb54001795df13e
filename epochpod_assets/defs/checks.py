"""Asset checks: what a producer would verify before an episode goes out.

On `episode_script`: the length fits the word budget, every cast member speaks, and whatever
checks a format adds of its own (a debate is balanced). On `episode_audio`: no unplanned dead
air, the duration matches the script, and every track is on the loudness target. All are
blocking: a failed check stops `published_episode`, and the episode is left FAILED with the
check's reason so the web app shows why instead of a run stuck in GENERATING_*.

Checks read what the assets stored (outline, script, audio manifest, MP3s) from media
storage, so they can be re-run on their own from the Dagster UI.
"""

import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dagster as dg

from epochpod_assets import lifecycle, media
from epochpod_assets.audio.ffmpeg import find_silences
from epochpod_assets.audio.rendering import PAUSE_BETWEEN_SECTIONS, planned_pause_seconds
from epochpod_assets.catalog import Catalog
from epochpod_assets.defs.assets.episodes import episode_audio, episode_script
from epochpod_assets.defs.assets.research import research_for
from epochpod_assets.defs.assets.stages import Episode, load_episode
from epochpod_assets.defs.partitions import episodes_partitions
from epochpod_assets.defs.resources import CatalogResource, MediaResource
from epochpod_assets.editorial import own_script
from epochpod_assets.editorial.revise import editor_wrote
from epochpod_assets.formats import formats
from epochpod_assets.formats.base import (
    WORD_BUDGET_TOLERANCE,
    WORDS_PER_MINUTE,
    ScriptCheck,
    TrackPlan,
    Verdict,
    section_words,
)
from epochpod_assets.history.gate import Gate
from epochpod_assets.history.integrity import (
    INTEGRITY_JSON,
    IntegrityReport,
    findings_table,
    report_from,
)
from epochpod_assets.media import TrackEntry
from epochpod_assets.providers.offline import OfflineWriter
from epochpod_assets.speech.normalize import spoken_words
from epochpod_assets.storage import MediaStore, episode_key, get_model

# Dead air longer than this, beyond the longest pause the renderer plans, is a defect.
MAX_UNPLANNED_SILENCE_SECONDS = 3.0
SILENCE_NOISE_DB = -50.0
DURATION_TOLERANCE = 0.20
TARGET_LUFS = -16.0
LOUDNESS_TOLERANCE_LU = 1.0
MAX_TRUE_PEAK_DBTP = -1.0


@dataclass(frozen=True)
class Stored:
    """What the checks read back for one episode."""

    episode: Episode
    plans: list[TrackPlan]
    store: MediaStore


def _stored(catalog: Catalog, store: MediaStore, episode_id: str) -> Stored:
    episode = load_episode(catalog, episode_id)
    fmt = episode.format
    outline: Any = get_model(store, media.outline_key(episode_id), fmt.outline_model)
    script: Any = get_model(store, media.script_key(episode_id), fmt.script_model)
    return Stored(episode, fmt.tracks(episode.request, outline, script), store)


def _manifest(store: MediaStore, episode_id: str) -> list[TrackEntry]:
    return media.load_manifest(store, episode_id)


def _run_check(
    context: dg.AssetCheckExecutionContext,
    catalog: CatalogResource,
    media: MediaResource,
    name: str,
    judge: Callable[[Stored], Verdict],
) -> dg.AssetCheckResult:
    """Runs one check for the run's episode; a failure leaves the episode FAILED."""
    db, store = catalog.get(), media.get()
    episode_id = context.partition_key
    verdict = judge(_stored(db, store, episode_id))
    if not verdict.passed and db.get(episode_id) is not None:
        lifecycle.fail(db, episode_id, f"check {name} failed: {verdict.reason}")
    return dg.AssetCheckResult(
        passed=verdict.passed,
        description=verdict.reason,
        # A format's own check returns plain values; structured ones show as JSON.
        metadata={
            key: dg.MetadataValue.json(value) if isinstance(value, dict | list) else value
            for key, value in verdict.metadata.items()
        },
    )


# --- the script -----------------------------------------------------------------------------


def judge_word_budget(stored: Stored) -> Verdict:
    words = _words_per_listen(stored)
    if own_script.requested(stored.episode.request):
        # Bring your own script: nobody was asked for a length, so there is none to miss.
        return Verdict(True, f"{words} words per listen, the producer's own script", {})
    budget = stored.episode.format.word_budget(stored.episode.request)
    low = round(budget * (1 - WORD_BUDGET_TOLERANCE))
    high = round(budget * (1 + WORD_BUDGET_TOLERANCE))
    passed = low <= words <= high
    return Verdict(
        passed,
        f"{words} words per listen for a budget of {budget} (allowed {low} to {high})",
        {"word_count": words, "word_budget": budget, "low": low, "high": high},
    )


def judge_edited_length(stored: Stored) -> Verdict:
    words = _words_per_listen(stored)
    budget = stored.episode.format.word_budget(stored.episode.request)
    return Verdict(
        True,
        f"{words} words per listen (budget {budget}): the length an editor chose",
        {"word_count": words, "word_budget": budget},
    )


def _words_per_listen(stored: Stored) -> int:
    """The budget is for one listen: the whole script, or what the format says one listen
    hears (an adventure: one path through `depth` nodes at the nodes' average length)."""
    counts = [section_words(plan.sections) for plan in stored.plans]
    return int(stored.episode.format.words_per_listen(stored.episode.request, counts))


def judge_cast_speaks(stored: Stored) -> Verdict:
    cast = set(stored.episode.format.cast(stored.episode.request))
    spoken = Counter(
        line.speaker for plan in stored.plans for s in plan.sections for line in s.lines
    )
    silent = sorted(cast - set(spoken))
    unknown = sorted(set(spoken) - cast)
    problems = []
    if silent:
        problems.append(f"never speak: {', '.join(silent)}")
    if unknown:
        problems.append(f"not in the cast: {', '.join(unknown)}")
    return Verdict(
        not problems,
        "; ".join(problems) or f"all {len(cast)} cast members speak",
        {"turns_by_speaker": dg.MetadataValue.json(dict(spoken))},
    )


def judge_format_check(check: ScriptCheck, stored: Stored) -> Verdict:
    """A format's own check; an episode of a format without it passes."""
    fmt = stored.episode.format
    if check not in fmt.script_checks:
        owners = " or ".join(f.name for f in formats() if check in f.script_checks)
        return Verdict(True, f"not a {owners}", {})
    return check.judge(stored.episode.request, stored.plans)


# --- the audio ------------------------------------------------------------------------------


def judge_silence(stored: Stored) -> Verdict:
    # Planned pauses are at most PAUSE_BETWEEN_SECTIONS; anything longer than that plus the
    # allowance is dead air nobody wrote.
    longest_allowed = PAUSE_BETWEEN_SECTIONS + MAX_UNPLANNED_SILENCE_SECONDS
    found = []
    for track in _manifest(stored.store, stored.episode.id):
        mp3 = stored.store.get(media.track_key(stored.episode.id, track.key, "mp3"))
        for start, seconds in find_silences(
            mp3, min_seconds=longest_allowed, noise_db=SILENCE_NOISE_DB
        ):
            found.append(f"{track.key} at {start:.1f} s for {seconds:.1f} s")
    return Verdict(
        not found,
        ("dead air: " + "; ".join(found[:5]))
        if found
        else f"no silence longer than {longest_allowed:g} s",
        {"silences": len(found), "longest_allowed_seconds": longest_allowed},
    )


def judge_duration(stored: Stored) -> Verdict:
    tracks = {track.key: track for track in _manifest(stored.store, stored.episode.id)}
    misses = []
    detail = {}
    for plan in stored.plans:
        # The script's estimate: its words at the speaking rate, plus the pauses it plans.
        # Words as the voice says them ("1066" is three, "45%" two), as the planner counts.
        words = sum(spoken_words(line.text) for s in plan.sections for line in s.lines)
        estimate = words / WORDS_PER_MINUTE * 60
        estimate += planned_pause_seconds(plan)
        actual = tracks[plan.key].duration_seconds if plan.key in tracks else 0.0
        detail[plan.key] = {"seconds": round(actual, 1), "estimate": round(estimate, 1)}
        if abs(actual - estimate) > DURATION_TOLERANCE * estimate:
            misses.append(f"{plan.key} lasts {actual:.0f} s for an estimate of {estimate:.0f} s")
    return Verdict(
        not misses,
        "; ".join(misses[:5])
        if misses
        else f"every track within ±{DURATION_TOLERANCE:.0%} of the script's estimate",
        {"tracks": dg.MetadataValue.json(detail)},
    )


def judge_loudness(stored: Stored) -> Verdict:
    misses = []
    for track in _manifest(stored.store, stored.episode.id):
        lufs, peak = track.integrated_lufs, track.true_peak_dbtp
        if lufs is None or peak is None:
            misses.append(f"{track.key} has no loudness measurement")
            continue
        if abs(lufs - TARGET_LUFS) > LOUDNESS_TOLERANCE_LU or peak > MAX_TRUE_PEAK_DBTP:
            misses.append(f"{track.key} measures {lufs} LUFS, {peak} dBTP")
    return Verdict(
        not misses,
        ("; ".join(misses[:5]) + f" (wanted {TARGET_LUFS} ±{LOUDNESS_TOLERANCE_LU} LUFS, "
         f"at most {MAX_TRUE_PEAK_DBTP} dBTP)")
        if misses
        else f"every track at {TARGET_LUFS} ±{LOUDNESS_TOLERANCE_LU} LUFS, "
        f"≤ {MAX_TRUE_PEAK_DBTP} dBTP",
        {"off_target_tracks": len(misses)},
    )  # fmt: skip


# --- the Dagster definitions ----------------------------------------------------------------
# (No `from __future__ import annotations` in this module: Dagster inspects the `context`
# annotation at definition time and rejects it as a string.)


def _episode_check(
    asset: dg.AssetsDefinition, name: str | None = None, description: str | None = None
) -> Callable[[Callable[..., Any]], Any]:
    """A blocking check of one episode partition of `asset`."""

    def decorate(fn: Callable[..., Any]) -> Any:
        # Partitioned checks are a Dagster preview feature; they are what lets a check see
        # which episode it is checking (context.partition_key), so we opt in knowingly.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", dg.PreviewWarning)
            return dg.asset_check(
                asset=asset,
                name=name,
                description=description,
                blocking=True,
                partitions_def=episodes_partitions,
            )(fn)

    return decorate


@_episode_check(episode_script)
def script_within_word_budget(
    context: dg.AssetCheckExecutionContext, catalog: CatalogResource, media: MediaResource
) -> dg.AssetCheckResult:
    """The script's length is within ±20% of the word budget for the requested minutes (a
    script an editor imported or changed line by line is as long as the editor made it)."""
    judge = judge_word_budget
    if editor_wrote(catalog.get(), context.run):
        judge = judge_edited_length
    return _run_check(context, catalog, media, "script_within_word_budget", judge)


@_episode_check(episode_script)
def every_cast_member_speaks(
    context: dg.AssetCheckExecutionContext, catalog: CatalogResource, media: MediaResource
) -> dg.AssetCheckResult:
    """Everyone the request cast has lines, and no one outside the cast does."""
    return _run_check(context, catalog, media, "every_cast_member_speaks", judge_cast_speaks)


def _format_script_check(check: ScriptCheck) -> Any:
    """The Dagster check of a check a format declares (`EpisodeFormat.script_checks`)."""

    @_episode_check(episode_script, name=check.name, description=check.description)
    def format_check(
        context: dg.AssetCheckExecutionContext, catalog: CatalogResource, media: MediaResource
    ) -> dg.AssetCheckResult:
        return _run_check(
            context, catalog, media, check.name, lambda stored: judge_format_check(check, stored)
        )

    return format_check


def _integrity(stored: Stored) -> tuple[IntegrityReport, IntegrityReport | None]:
    """The stored script reviewed again (offline checks, so a check re-run from the UI sees an
    edited script), and the report the script stage stored (its rewrites and model findings)."""
    found = research_for(stored.store, stored.episode)
    lines = [line for plan in stored.plans for s in plan.sections for line in s.lines]
    review = Gate(found, OfflineWriter()).review(lines)
    try:
        raw = stored.store.get(episode_key(stored.episode.id, INTEGRITY_JSON))
        written: IntegrityReport | None = IntegrityReport.model_validate_json(raw)
    except KeyError:
        written = None
    return report_from(review, len(lines)), written


def judge_time_guard(stored: Stored) -> Verdict:
    now, written = _integrity(stored)
    found = now.of_kind("anachronism")
    rewritten = [f for r in (written.rewrites if written else []) for f in r.findings]
    fixed = [f for f in rewritten if f.kind == "anachronism"]
    return Verdict(
        not found,
        f"{len(found)} line(s) refer to something after their speaker's date"
        if found
        else f"no anachronism in {now.lines_checked} lines"
        + (f" ({len(fixed)} rewritten before speech)" if fixed else ""),
        {
            "anachronisms": len(found),
            "findings": dg.MetadataValue.md(findings_table(found)),
            "rewritten_before_speech": dg.MetadataValue.md(findings_table(fixed)),
        },
    )


def judge_claims(stored: Stored) -> Verdict:
    now, _ = _integrity(stored)
    contradicted = now.of_kind("contradicted")
    blocked = bool(contradicted) or now.too_unsupported
    reason = (
        f"{len(contradicted)} contradicted claim(s); {now.unsupported} of {now.claims} claims "
        f"unsupported ({now.unsupported_share:.0%}, at most {now.max_unsupported_share:.0%} "
        "allowed)"
    )
    return Verdict(
        not blocked,
        reason,
        {
            "claims_checked": now.claims,
            "unsupported": now.unsupported,
            "unsupported_share": round(now.unsupported_share, 3),
            "contradicted": len(contradicted),
            "findings": dg.MetadataValue.md(
                findings_table(now.of_kind("contradicted", "unsupported"))
            ),
        },
    )


@_episode_check(episode_script)
def script_respects_time_guard(
    context: dg.AssetCheckExecutionContext, catalog: CatalogResource, media: MediaResource
) -> dg.AssetCheckResult:
    """No figure (nor a narrator telling the story in its present) mentions a year, date,
    invention, event, institution, term or person after the date they speak from."""
    return _run_check(context, catalog, media, "script_respects_time_guard", judge_time_guard)


@_episode_check(episode_script)
def script_claims_are_supported(
    context: dg.AssetCheckExecutionContext, catalog: CatalogResource, media: MediaResource
) -> dg.AssetCheckResult:
    """No claim of a figure or narrator contradicts the fact sheet, and the share of claims
    no fact supports is within EPOCHPOD_MAX_UNSUPPORTED_SHARE."""
    return _run_check(context, catalog, media, "script_claims_are_supported", judge_claims)


@_episode_check(episode_audio)
def no_dead_air(
    context: dg.AssetCheckExecutionContext, catalog: CatalogResource, media: MediaResource
) -> dg.AssetCheckResult:
    """No track has a silence more than 3 s longer than the longest planned pause."""
    return _run_check(context, catalog, media, "no_dead_air", judge_silence)


@_episode_check(episode_audio)
def duration_matches_script(
    context: dg.AssetCheckExecutionContext, catalog: CatalogResource, media: MediaResource
) -> dg.AssetCheckResult:
    """Every track lasts within ±20% of its script's estimate (words at 150 per minute plus
    the planned pauses)."""
    return _run_check(context, catalog, media, "duration_matches_script", judge_duration)


@_episode_check(episode_audio)
def loudness_on_target(
    context: dg.AssetCheckExecutionContext, catalog: CatalogResource, media: MediaResource
) -> dg.AssetCheckResult:
    """Every track measures -16 ±1 LUFS integrated with true peak at or below -1 dBTP."""
    return _run_check(context, catalog, media, "loudness_on_target", judge_loudness)


episode_checks = [
    script_within_word_budget,
    every_cast_member_speaks,
    *(_format_script_check(check) for fmt in formats() for check in fmt.script_checks),
    script_respects_time_guard,
    script_claims_are_supported,
    no_dead_air,
    duration_matches_script,
    loudness_on_target,
]
