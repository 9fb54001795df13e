"""Intro and outro beds: a short generated musical sting, so no licensed music is needed.

A rising major arpeggio of soft bell-like tones (a few harmonics, fast attack, exponential
decay) that rings into a sustained chord. Deterministic: the same rate gives the same bytes,
so beds never change a re-rendered episode.
"""

from __future__ import annotations

import numpy as np

from epochpod_assets.providers.base import Speech

# C major across two octaves (Hz): a bright, neutral signature.
_NOTES = (261.63, 329.63, 392.00, 523.25)
_NOTE_GAP_SECONDS = 0.18
_DECAY_SECONDS = 0.9
# Below speech level before mastering: the bed frames the voices, it does not compete.
_PEAK = 0.3


def sting(sample_rate: int = 24_000, seconds: float = 2.5) -> Speech:
    """A `seconds`-long arpeggio sting as mono s16le PCM."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    out = np.zeros_like(t)
    for index, frequency in enumerate(_NOTES):
        local = t - index * _NOTE_GAP_SECONDS
        on = local >= 0
        envelope = np.where(on, np.exp(-np.maximum(local, 0) / _DECAY_SECONDS), 0.0)
        envelope *= np.minimum(np.maximum(local, 0) / 0.01, 1.0)  # 10 ms attack: no click
        tone = sum(
            np.sin(2 * np.pi * frequency * harmonic * local) / harmonic**2 for harmonic in (1, 2, 3)
        )
        out += envelope * tone
    fade = np.minimum(1.0, (t[-1] - t) / 0.3)  # last 300 ms fade to silence
    out *= fade * _PEAK / np.abs(out).max()
    return Speech(pcm=np.rint(out * 32767).astype("<i2").tobytes(), sample_rate=sample_rate)
