"""Writing to length: plan by words, speak the script as it is written, correct what missed.

A voice's pace depends on the text as much as on the voice: eSpeak reads short narrative
sentences at ~133 words a minute and an interviewee's long answers at ~148, and a generic
calibration passage says neither. So for a long-form episode (see `longform.LONGFORM_MINUTES`)
the script stage

1. plans the word budget at each voice's *remembered* rate (`pacing.SpeakingRates`; a
   calibration passage only for a voice never heard before), and asks the writer for that
   budget divided by its remembered habit of running long or short (`pacing.WritingHabits`),
2. writes the parts of the script concurrently (`longform`) and speaks every part's lines
   through the segment cache the moment that part is written: speech, the slow and
   rate-limited half of an episode, starts seconds into the script stage instead of after it,
   and the audio stage finds every segment cached,
3. measures the listening time exactly (the spoken segments plus the renderer's pauses; for an
   adventure, the average path) and, if it misses the target by more than
   `REWRITE_TOLERANCE`, rewrites and re-speaks only the parts that came out too long or too
   short -- the fewest that bring the episode back on length -- not the whole episode,
4. remembers each voice's rate on everything it spoke, and the writer's habit on every part it
   wrote, so the next episode plans closer.

A short episode plans at the remembered rates and speaks nothing at the script stage. A long
format written in one call (a debate) cannot be corrected part by part: it speaks a sample of
its lines, predicts, and is rewritten once if the prediction misses.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from epochpod_assets.audio.segments import SegmentCache
from epochpod_assets.formats.base import (
    EpisodeFormat,
    Line,
    RenderedTrackInfo,
    SectionBrief,
    SectionScript,
    TrackPlan,
    count_words,
)
from epochpod_assets.providers.base import ProviderError, Usage, Voice, Writer
from epochpod_assets.scripting import longform
from epochpod_assets.scripting.longform import is_longform, join_parts, run_parallel, write_script
from epochpod_assets.scripting.pacing import (
    Pace,
    SpeakingRates,
    WritingHabits,
    pace_for,
    plan_words,
)
from epochpod_assets.speech.lexicon import Lexicon, for_episode
from epochpod_assets.speech.normalize import spoken_words
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
    rewritten: bool  # the whole script was written again (one-call formats only)
    corrected_parts: list[int] = field(default_factory=list)  # parts rewritten (1-based)
    spoken_lines: int = 0  # lines already in the segment cache for the audio stage
    habit: float = 1.0  # words the writer was expected to write per word asked


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
    speech_parallel: int = SAMPLE_PARALLEL,
) -> Written:
    """The script for `request`, written to last its target minutes when spoken by `speaker`.

    `parallel` bounds the writing calls made at once (default: each stage's own constant),
    `speech_parallel` the speech calls."""
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
        # Measuring is an optimization: a voice that is down now fails the stage that speaks
        # the script (with its retries), and the plan falls back to the default rate.
        log.warning("could not measure the voices (%s); planning at the default rate", exc)
        pace = pauses
    budget = plan_words(fmt, request, pace)
    habit = WritingHabits(store).remembered(writer.provider, writer.model)
    asked = max(1, round(budget / habit))
    briefs = fmt.section_briefs(request, outline, asked)
    if briefs:
        session = _SpeakingWriter(
            writer, speaker, fmt, request, outline, store, usage, pace, speech_parallel, habit
        )
        return session.write(briefs, asked, parallel)
    script = write_script(writer, fmt, request, outline, budget, usage, parallel=parallel)
    try:
        rates = measure_script(
            speaker,
            store,
            usage,
            fmt.tracks(request, outline, script),
            cast,
            parallel=parallel,
            lexicon=for_episode(request),
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


class _SpeakingWriter:
    """Writes a long-form script part by part, speaking each part as soon as it is written,
    then corrects the parts that came out too long or too short (module docstring)."""

    def __init__(
        self,
        writer: Writer,
        speaker: Voice,
        fmt: EpisodeFormat[Any, Any, Any],
        request: Any,
        outline: Any,
        store: MediaStore,
        usage: Usage,
        pace: Pace,
        speech_parallel: int,
        habit: float,
    ) -> None:
        self.writer, self.speaker, self.fmt = writer, speaker, fmt
        self.request, self.outline, self.store, self.usage = request, outline, store, usage
        self.pace, self.habit = pace, habit
        self.cast = fmt.cast(request)
        # The request's lexicon, as the audio stage uses: the same text, the same cache keys.
        self.cache = SegmentCache(speaker, store, usage, for_episode(request))
        self.speech_parallel = max(1, speech_parallel)
        # Seconds of every line spoken so far, by (voice, text): what the segment cache keys
        # on, so the joined script's lines find their durations whatever the join adds.
        self.seconds: dict[tuple[str, str], float] = {}

    def write(self, briefs: list[SectionBrief], budget: int, parallel: int | None) -> Written:
        width = longform.MAX_PARALLEL_PARTS if parallel is None else parallel
        target = float(getattr(self.request, "target_minutes", 5)) * 60.0
        # What each part was planned to last (the writer is expected to write `habit` words
        # per word asked): corrections aim back at it.
        self.planned = {
            b.index: b.words * self.habit * 60.0 / self.pace.words_per_minute for b in briefs
        }
        self.corrected: set[int] = set()
        self.first_drafts: list[tuple[int, int]] = []  # (asked, written) words per part
        with ThreadPoolExecutor(self.speech_parallel, thread_name_prefix="tts") as speech:
            written = run_parallel(lambda b: self._write_part(b, speech), briefs, width)
            briefs, parts = [b for b, _ in written], [p for _, p in written]
            asked = sum(words for words, _ in self.first_drafts)
            wrote = sum(words for _, words in self.first_drafts)
            WritingHabits(self.store).learn(self.writer.provider, self.writer.model, wrote, asked)
            script = join_parts(self.fmt, self.request, self.outline, briefs, parts, budget)
            self._speak(_lines(self.fmt, self.request, self.outline, script), speech)
            listening = self._listening(script)
            if abs(listening / target - 1.0) > REWRITE_TOLERANCE:
                # No part was far off on its own, but together they miss: correct the fewest.
                chosen = self._parts_to_correct(briefs, parts, script, target)
                log.info(
                    "spoken script lasts %.0f s for a %.0f s target; rewriting parts %s",
                    listening, target, [i + 1 for i in chosen],
                )  # fmt: skip
                again = run_parallel(
                    lambda i: self._write_part(
                        self._corrected_brief(briefs[i], parts[i]), speech, correct=False
                    ),
                    chosen,
                    width,
                )
                asked = sum(brief.words for brief in briefs)
                for index, (brief, part) in zip(chosen, again, strict=True):
                    briefs[index], parts[index] = brief, part
                    self.corrected.add(index)
                # The whole script's budget check applies to what is asked of the parts now
                # (scaled: an adventure's budget is one path's, not the sum of its nodes).
                budget = round(budget * sum(brief.words for brief in briefs) / asked)
                script = join_parts(self.fmt, self.request, self.outline, briefs, parts, budget)
                self._speak(_lines(self.fmt, self.request, self.outline, script), speech)
                listening = self._listening(script)
        return Written(
            script,
            budget,
            self.pace,
            self._learn_rates(),
            listening,
            rewritten=False,
            corrected_parts=sorted(i + 1 for i in self.corrected),
            spoken_lines=len(self.seconds),
            habit=self.habit,
        )

    def _write_part(
        self, brief: SectionBrief, speech: ThreadPoolExecutor, *, correct: bool = True
    ) -> tuple[SectionBrief, SectionScript]:
        """Writes and speaks one part; one far off its planned length (by more than a part's
        word tolerance) is rewritten at once, while the other parts are still being spoken."""
        part: SectionScript = self.writer.write(
            self.fmt.section_task(self.request, self.outline, brief), self.usage
        )
        if correct:  # a first draft: what the writer does when simply asked
            self.first_drafts.append((brief.words, sum(count_words(x.text) for x in part.lines)))
        self._speak(part.lines, speech)
        miss = self._part_seconds(part) / self.planned[brief.index] - 1.0
        if correct and abs(miss) > longform.PART_TOLERANCE:
            self.corrected.add(brief.index)
            corrected = self._corrected_brief(brief, part)
            return self._write_part(corrected, speech, correct=False)
        return brief, part

    def _speak(self, lines: Sequence[Line], speech: ThreadPoolExecutor) -> None:
        """Speaks the lines not yet spoken (through the cache), in parallel."""
        keys = dict.fromkeys((self.cast[line.speaker], line.text) for line in lines)
        todo = [key for key in keys if key not in self.seconds]  # in script order
        said = [speech.submit(self.cache.speak, text, voice) for voice, text in todo]
        for key, future in zip(todo, said, strict=True):
            self.seconds[key] = future.result().duration_seconds

    def _listening(self, script: Any) -> float:
        def spoken(voice: str, text: str) -> float:
            return self.seconds[(voice, text)]

        return listening_seconds(self.fmt, self.request, self.outline, script, spoken, self.pace)

    def _part_seconds(self, part: SectionScript) -> float:
        return sum(self.seconds[(self.cast[x.speaker], x.text)] for x in part.lines)

    def _parts_to_correct(
        self,
        briefs: Sequence[SectionBrief],
        parts: Sequence[SectionScript],
        script: Any,
        target: float,
    ) -> list[int]:
        """The fewest parts that, each brought back to its planned length, bring the episode
        within half the tolerance: the worst misses in the episode's direction first."""
        listening = self._listening(script)
        too_long = listening > target
        misses = [
            self._part_seconds(p) - self.planned[b.index]
            for b, p in zip(briefs, parts, strict=True)
        ]
        candidates = sorted(
            (i for i, miss in enumerate(misses) if (miss > 0) == too_long and miss != 0),
            key=lambda i: -abs(misses[i]),
        )
        chosen: list[int] = []
        scale: dict[tuple[str, str], float] = {}
        for index in candidates:
            chosen.append(index)
            planned, spoken = self.planned[briefs[index].index], self._part_seconds(parts[index])
            for line in parts[index].lines:
                scale[(self.cast[line.speaker], line.text)] = planned / spoken
            predicted = listening_seconds(
                self.fmt,
                self.request,
                self.outline,
                script,
                lambda voice, text: self.seconds[(voice, text)] * scale.get((voice, text), 1.0),
                self.pace,
            )
            if abs(predicted / target - 1.0) <= REWRITE_TOLERANCE / 2:
                break
        return sorted(chosen)

    def _corrected_brief(self, brief: SectionBrief, part: SectionScript) -> SectionBrief:
        """The brief again, its budget scaled by the part's miss so it lasts what it was
        planned to. Scaling what was *asked* (not what was written) corrects both the voice's
        pace and the writer's habit of writing a little over or under what it is asked."""
        scale = self.planned[brief.index] / self._part_seconds(part)
        return brief.model_copy(update={"words": max(1, round(brief.words * scale))})

    def _learn_rates(self) -> dict[str, float]:
        spoken = [(voice, text, seconds) for (voice, text), seconds in self.seconds.items()]
        return remember_rates(self.speaker, self.store, spoken)


def _lines(
    fmt: EpisodeFormat[Any, Any, Any], request: Any, outline: Any, script: Any
) -> list[Line]:
    return [
        line
        for track in fmt.tracks(request, outline, script)
        for section in track.sections
        for line in section.lines
    ]


def measure_script(
    speaker: Voice,
    store: MediaStore,
    usage: Usage,
    tracks: Sequence[TrackPlan],
    cast: dict[str, str],
    *,
    parallel: int | None = None,
    lexicon: Lexicon | None = None,
) -> dict[str, float]:
    """Each voice's words per minute on a sample of this script's own lines (remembered)."""
    by_voice: dict[str, list[str]] = defaultdict(list)
    for track in tracks:
        for section in track.sections:
            for line in section.lines:
                by_voice[cast[line.speaker]].append(line.text)
    samples = [(voice, text) for voice, texts in by_voice.items() for text in _spread(texts)]
    cache = SegmentCache(speaker, store, usage, lexicon)
    spoken = run_parallel(
        lambda sample: cache.speak(sample[1], sample[0]).duration_seconds,
        samples,
        SAMPLE_PARALLEL if parallel is None else parallel,
    )
    return remember_rates(
        speaker, store, [(v, t, d) for (v, t), d in zip(samples, spoken, strict=True)]
    )


def remember_rates(
    speaker: Voice, store: MediaStore, spoken: Sequence[tuple[str, str, float]]
) -> dict[str, float]:
    """Folds (voice, text, seconds) measurements into each voice's remembered rate; returns
    the rates, words per minute by voice."""
    words: dict[str, int] = defaultdict(int)
    seconds: dict[str, float] = defaultdict(float)
    for voice, text, duration in spoken:
        words[voice] += spoken_words(text)  # rates count the words the voice says
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

    def at_rate(voice: str, text: str) -> float:
        return spoken_words(text) * 60.0 / rates.get(voice, pace.words_per_minute)

    return listening_seconds(fmt, request, outline, script, at_rate, pace)


def listening_seconds(
    fmt: EpisodeFormat[Any, Any, Any],
    request: Any,
    outline: Any,
    script: Any,
    line_seconds: Callable[[str, str], float],
    pace: Pace,
) -> float:
    """One listen's length: `line_seconds(voice, text)` for every line, plus the renderer's
    pauses (for an adventure, the format's average path)."""
    cast = fmt.cast(request)
    infos = []
    for track in fmt.tracks(request, outline, script):
        speech = sum(
            line_seconds(cast[line.speaker], line.text)
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
