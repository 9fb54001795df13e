"""Planning by duration: how many words fill the requested minutes with these voices.

A script lands on length only if the plan knows how fast its voices speak and how much silence
the renderer puts between turns and sections. 150 words per minute is a fair default for
people, but eSpeak's voices run at about 155 and every TTS model has its own pace, so each
voice's rate is *measured* once (a calibration passage spoken through the segment cache) and
*remembered* in media storage, next to the cached segments, keyed by provider, model and
voice. Every later episode with that voice plans with the remembered rate, at no cost.

Writers miss too: a model asked for 200 words writes 190 or 215, and keeps doing so. Its habit
(words written per word asked) is remembered the same way, keyed by provider and model, and a
long-form script asks for the budget divided by it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from epochpod_assets.formats.base import WORDS_PER_MINUTE, EpisodeFormat, count_words
from epochpod_assets.providers.base import Usage, Voice
from epochpod_assets.storage import MediaStore

log = logging.getLogger(__name__)

# Sentences like the ones episodes are made of (mixed lengths, commas, a question), so the
# measured pace is the pace of a script, not of a word list. ~90 words.
CALIBRATION_TEXT = (
    "When I think about those years, I remember how little of it seemed certain at the time. "
    "People imagine a single flash of inspiration, but it was years of stubborn work, letters "
    "that took weeks to arrive, and arguments that went on late into the night. What did we "
    "get wrong? A great deal, of course, and some of our mistakes were more useful than our "
    "successes. The tools we had were crude, so we had to be careful and a little bit brave. "
    "I still find it remarkable that such a small idea could travel so far."
)
CALIBRATION_WORDS = count_words(CALIBRATION_TEXT)
# How many words of measurements a remembered rate stands for.
MEMORY_WORDS = 5_000
# A measured rate outside this range is a broken voice or a silent answer, not a pace.
PLAUSIBLE_WPM = (60.0, 400.0)
# A writer's habit is trusted only this far: beyond it, the per-part checks and corrections
# (not the plan) have to bring the script back.
PLAUSIBLE_HABIT = (0.8, 1.25)


@dataclass(frozen=True)
class Pace:
    """How fast the episode will be spoken, and the silences that add to its length."""

    words_per_minute: float = WORDS_PER_MINUTE
    seconds_between_turns: float = 0.0
    seconds_between_sections: float = 0.0

    def words_for(
        self, seconds: float, words_per_turn: float, sections: int, turns: int | None = None
    ) -> int:
        """Words that, spoken at this pace with its pauses, take `seconds`.

        A pause follows every turn but the last, and a section break replaces a turn pause.
        With `turns` None, turns are about `words_per_turn` words each, so they grow with the
        words; otherwise their number is fixed.
        """
        breaks = max(sections - 1, 0)
        per_word = 60.0 / self.words_per_minute
        if turns is None:
            fixed = -(1 + breaks) * self.seconds_between_turns
            per_word += self.seconds_between_turns / words_per_turn
        else:
            fixed = max(turns - 1 - breaks, 0) * self.seconds_between_turns
        fixed += breaks * self.seconds_between_sections
        return max(1, round((seconds - fixed) / per_word))

    def seconds_for(self, words: int, turns: int, sections: int) -> float:
        """How long `words` in `turns` turns and `sections` sections take at this pace."""
        speech = words * 60.0 / self.words_per_minute
        breaks = max(sections - 1, 0)
        return (
            speech
            + breaks * self.seconds_between_sections
            + max(turns - 1 - breaks, 0) * self.seconds_between_turns
        )


def plan_words(fmt: EpisodeFormat[Any, Any, Any], request: Any, pace: Pace) -> int:
    """The word budget of one listen of `request` at `pace` (adventure: one path)."""
    seconds = float(getattr(request, "target_minutes", 5)) * 60.0
    return pace.words_for(
        seconds, fmt.words_per_turn, fmt.expected_sections(request), fmt.fixed_turns(request)
    )


def rate_key(provider: str, model: str, voice: str) -> str:
    return f"cache/pacing/{_digest(provider, model, voice)}.json"


def habit_key(provider: str, model: str) -> str:
    return f"cache/writing/{_digest(provider, model)}.json"


def _digest(*fields: str) -> str:
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()[:16]


class _Memory:
    """A ratio of two running totals kept in media storage, `MEMORY_WORDS` words deep: recent
    measurements outweigh old ones, so it follows a voice's or a writer's style as it
    changes. Concurrent learners may lose one update to each other, which only delays
    convergence a little."""

    names: tuple[str, str]  # the two totals' names in the stored JSON; the first is words

    def __init__(self, store: MediaStore) -> None:
        self.store = store

    def _totals(self, key: str) -> tuple[float, float] | None:
        try:
            entry = json.loads(self.store.get(key))
            words, other = float(entry[self.names[0]]), float(entry[self.names[1]])
        except (KeyError, ValueError, TypeError):
            return None
        return (words, other) if words > 0 and other > 0 else None

    def _fold(self, key: str, words: float, other: float, about: dict[str, Any]) -> float:
        """Adds a measurement to the totals at `key`; the new words / other."""
        old_words, old_other = self._totals(key) or (0.0, 0.0)
        if old_words + words > MEMORY_WORDS:
            keep = max(MEMORY_WORDS - words, 0) / old_words if old_words else 0.0
            old_words, old_other = old_words * keep, old_other * keep
        total_words, total_other = old_words + words, old_other + other
        entry = {
            **about,
            self.names[0]: round(total_words, 1),
            self.names[1]: round(total_other, 3),
        }
        self.store.put(key, json.dumps(entry).encode(), "application/json")
        return total_words / total_other


class SpeakingRates(_Memory):
    """Measured words per minute per (provider, model, voice), remembered in media storage."""

    names = ("words", "seconds")

    def remembered(self, provider: str, model: str, voice: str) -> float | None:
        totals = self._totals(rate_key(provider, model, voice))
        if totals is None:
            return None
        wpm = totals[0] / totals[1] * 60.0
        return wpm if PLAUSIBLE_WPM[0] <= wpm <= PLAUSIBLE_WPM[1] else None

    def learn(self, provider: str, model: str, voice: str, words: int, seconds: float) -> float:
        """Fold a measurement into the remembered rate; the new rate."""
        about = {"provider": provider, "model": model, "voice": voice}
        return 60.0 * self._fold(rate_key(provider, model, voice), words, seconds, about)

    def measure(self, speaker: Voice, voice: str, usage: Usage) -> float:
        """The voice's rate: remembered, or measured now on the calibration passage."""
        wpm = self.remembered(speaker.provider, speaker.model, voice)
        if wpm is not None:
            return wpm
        speech = speaker.synthesize(CALIBRATION_TEXT, voice, usage)
        seconds = speech.duration_seconds
        if seconds <= 0 or not (
            PLAUSIBLE_WPM[0] <= CALIBRATION_WORDS / seconds * 60 <= PLAUSIBLE_WPM[1]
        ):
            log.warning(
                "calibrating %s/%s voice %s gave %.2f s for %d words; planning at %d wpm",
                speaker.provider, speaker.model, voice, seconds, CALIBRATION_WORDS,
                WORDS_PER_MINUTE,
            )  # fmt: skip
            return float(WORDS_PER_MINUTE)
        return self.learn(speaker.provider, speaker.model, voice, CALIBRATION_WORDS, seconds)


class WritingHabits(_Memory):
    """Words a writer (provider, model) writes per word it is asked for, remembered in media
    storage. Models run long or short by a steady few percent; asking for the budget divided
    by that habit lands the script on length before any of it is spoken, instead of paying
    to speak it and then rewriting parts."""

    names = ("written", "asked")

    def remembered(self, provider: str, model: str) -> float:
        """The habit (1.0 for a writer never seen), within `PLAUSIBLE_HABIT`."""
        totals = self._totals(habit_key(provider, model))
        habit = totals[0] / totals[1] if totals else 1.0
        return min(max(habit, PLAUSIBLE_HABIT[0]), PLAUSIBLE_HABIT[1])

    def learn(self, provider: str, model: str, written: int, asked: int) -> float:
        about = {"provider": provider, "model": model}
        return self._fold(habit_key(provider, model), written, asked, about)


def pace_for(
    speaker: Voice,
    voices: Iterable[str],
    store: MediaStore,
    usage: Usage,
    *,
    seconds_between_turns: float,
    seconds_between_sections: float,
    measure: bool = True,
) -> Pace:
    """The pace of an episode spoken by `voices` through `speaker`. With `measure` False,
    nothing is spoken: voices never measured count at the default rate.

    Speakers share the airtime roughly evenly over an episode, so the episode's rate is the
    mean of its voices' rates (in seconds per word, which is what adds up).
    """
    rates = SpeakingRates(store)
    if measure:
        measured = [rates.measure(speaker, voice, usage) for voice in sorted(set(voices))]
    else:
        remembered = (rates.remembered(speaker.provider, speaker.model, v) for v in set(voices))
        measured = [wpm or float(WORDS_PER_MINUTE) for wpm in remembered]
    seconds_per_word = fmean(60.0 / wpm for wpm in measured) if measured else 60 / WORDS_PER_MINUTE
    return Pace(
        words_per_minute=60.0 / seconds_per_word,
        seconds_between_turns=seconds_between_turns,
        seconds_between_sections=seconds_between_sections,
    )
