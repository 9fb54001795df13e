"""Writing to length: plan by words, measure the voices on the script itself, correct once.

A voice's pace depends on the text as much as on the voice: eSpeak reads short narrative
sentences at ~133 words a minute and an interviewee's long answers at ~148, and a generic
calibration passage says neither. So the script stage

(Steps 1, 3 and 4 apply to long-form episodes, see `longform.LONGFORM_MINUTES`; a short one
plans at the remembered rates and speaks nothing at the script stage.)

1. plans the word budget at each voice's *remembered* rate (`pacing.SpeakingRates`; a
   calibration passage only for a voice never heard before),
2. writes the script (section-parallel when long, see `longform`),
3. speaks a sample of the script's own lines, spread over the episode, through the segment
   cache -- the audio stage reuses those segments, so nothing is paid twice -- and folds the
   measurement into the remembered rate,
4. predicts the listening time (speech at the measured rates plus the renderer's pauses; for
   an adventure, the average path) and, if it misses the target by more than
   `REWRITE_TOLERANCE`, rewrites once with the budget scaled by the miss.

The rewrite is rare after the first episode with a voice and style, because the remembered
rate already holds what step 3 learned.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from epochpod_assets.formats.base import EpisodeFormat, RenderedTrackInfo, TrackPlan, count_words
from epochpod_assets.formats.longform import is_longform, run_parallel, write_script
from epochpod_assets.formats.pacing import Pace, SpeakingRates, pace_for, plan_words
from epochpod_assets.providers.base import ProviderError, Usage, Voice, Writer
from epochpod_assets.segments import SegmentCache
from epochpod_assets.storage import MediaStore

log = logging.getLogger(__name__)

# Words per voice spoken to measure the script's pace: enough to average over sentence
# lengths, a small share of a long episode. The audio stage reuses these segments.
SAMPLE_WORDS = 700
# A predicted miss larger than this is rewritten (the target is +-10 %; leave room for what
# the prediction cannot see).
REWRITE_TOLERANCE = 0.04
# Sample lines are spoken this many at a time (the shared rate limiter sets the real pace).
SAMPLE_PARALLEL = 8


@dataclass(frozen=True)
class Written:
    script: Any
    budget: int
    pace: Pace
    rates: dict[str, float]  # voice -> measured words per minute
    predicted_seconds: float
    rewritten: bool


def write_to_length(
    writer: Writer,
    speaker: Voice,
    fmt: EpisodeFormat[Any, Any, Any],
    request: Any,
    outline: Any,
    store: MediaStore,
    usage: Usage,
    *,
    seconds_between_turns: float,
    seconds_between_sections: float,
    parallel: int | None = None,
) -> Written:
    """The script for `request`, written to last its target minutes when spoken by `speaker`.

    `parallel` bounds the calls made at once (default: each stage's own constant)."""
    cast = fmt.cast(request)
    if not is_longform(request):
        # Short episodes plan at the remembered rates (or the default) and speak nothing
        # here: a few percent off a few minutes is seconds, and the script stage of a short
        # episode stays a pure writing stage.
        pace = pace_for(
            speaker,
            cast.values(),
            store,
            usage,
            seconds_between_turns=seconds_between_turns,
            seconds_between_sections=seconds_between_sections,
            measure=False,
        )
        budget = plan_words(fmt, request, pace)
        script = write_script(writer, fmt, request, outline, budget, usage, parallel=parallel)
        rates = {v: pace.words_per_minute for v in cast.values()}
        predicted = predict_seconds(fmt, request, outline, script, rates, pace)
        return Written(script, budget, pace, rates, predicted, rewritten=False)
    pauses = Pace(
        seconds_between_turns=seconds_between_turns,
        seconds_between_sections=seconds_between_sections,
    )
    try:
        pace = pace_for(
            speaker,
            cast.values(),
            store,
            usage,
            seconds_between_turns=seconds_between_turns,
            seconds_between_sections=seconds_between_sections,
        )
    except ProviderError as exc:
        # Measuring is an optimization: a voice that is down now fails the audio stage (with
        # its retries), not the script, which is planned at the default rate instead.
        log.warning("could not measure the voices (%s); planning at the default rate", exc)
        pace = pauses
    budget = plan_words(fmt, request, pace)
    script = write_script(writer, fmt, request, outline, budget, usage, parallel=parallel)
    try:
        rates = measure_script(
            speaker, store, usage, fmt.tracks(request, outline, script), cast, parallel=parallel
        )
    except ProviderError as exc:
        log.warning("could not measure the script's pace (%s); keeping the plan", exc)
        rates = {}
    target = float(getattr(request, "target_minutes", 5)) * 60.0
    predicted = predict_seconds(fmt, request, outline, script, rates, pace)
    rewritten = False
    if abs(predicted / target - 1.0) > REWRITE_TOLERANCE:
        new_budget = max(1, round(budget * target / predicted))
        log.info(
            "script predicted at %.0f s for a %.0f s target; rewriting at %d words (was %d)",
            predicted, target, new_budget, budget,
        )  # fmt: skip
        budget = new_budget
        script = write_script(writer, fmt, request, outline, budget, usage, parallel=parallel)
        predicted = predict_seconds(fmt, request, outline, script, rates, pace)
        rewritten = True
    return Written(script, budget, pace, rates, predicted, rewritten)


def measure_script(
    speaker: Voice,
    store: MediaStore,
    usage: Usage,
    tracks: Sequence[TrackPlan],
    cast: dict[str, str],
    *,
    parallel: int | None = None,
) -> dict[str, float]:
    """Each voice's words per minute on a sample of this script's own lines (remembered)."""
    by_voice: dict[str, list[str]] = defaultdict(list)
    for track in tracks:
        for section in track.sections:
            for line in section.lines:
                by_voice[cast[line.speaker]].append(line.text)
    samples = [(voice, text) for voice, texts in by_voice.items() for text in _spread(texts)]
    cache = SegmentCache(speaker, store, usage)
    spoken = run_parallel(
        lambda sample: cache.speak(sample[1], sample[0]).duration_seconds,
        samples,
        SAMPLE_PARALLEL if parallel is None else parallel,
    )
    words: dict[str, int] = defaultdict(int)
    seconds: dict[str, float] = defaultdict(float)
    for (voice, text), duration in zip(samples, spoken, strict=True):
        words[voice] += count_words(text)
        seconds[voice] += duration
    memory = SpeakingRates(store)
    return {
        voice: memory.learn(speaker.provider, speaker.model, voice, words[voice], seconds[voice])
        for voice in words
        if seconds[voice] > 0
    }


def _spread(texts: list[str]) -> list[str]:
    """Lines spread evenly over the script until SAMPLE_WORDS words."""
    total = sum(count_words(t) for t in texts)
    if total <= SAMPLE_WORDS:
        return texts
    step = total / SAMPLE_WORDS
    picked, seen, next_at = [], 0, 0.0
    for text in texts:
        if seen >= next_at:
            picked.append(text)
            next_at += step * count_words(text)
        seen += count_words(text)
    return picked


def predict_seconds(
    fmt: EpisodeFormat[Any, Any, Any],
    request: Any,
    outline: Any,
    script: Any,
    rates: dict[str, float],
    pace: Pace,
) -> float:
    """One listen's length: every line at its voice's rate, plus the renderer's pauses."""
    cast = fmt.cast(request)
    infos = []
    for track in fmt.tracks(request, outline, script):
        speech = sum(
            count_words(line.text) * 60.0 / rates.get(cast[line.speaker], pace.words_per_minute)
            for section in track.sections
            for line in section.lines
        )
        turns = sum(len(s.lines) for s in track.sections)
        sections = sum(1 for s in track.sections if s.lines)
        pauses = pace.seconds_for(0, turns, sections)
        infos.append(
            RenderedTrackInfo(key=track.key, url="", bytes=0, duration_seconds=speech + pauses)
        )
    return fmt.listening_seconds(request, infos)
