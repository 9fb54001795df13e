"""Loudness mastering in numpy: an exact BS.1770 loudness meter and a true-peak limiter.

ffmpeg's `alimiter` limits sample peaks and gives back a loudness nobody can predict, so the
old chain had to measure the track through it again and again and still missed the target on
short, peaky eSpeak tracks. Here the analysis is done once, in one streaming pass over the
PCM, at a resolution of ~2 ms "blocks":

- the K-weighted energy of every block (ITU-R BS.1770's filter, full rate, every sample);
- the peak of every block, 4x oversampled (true peak) wherever it could come near the ceiling.

From those two arrays the loudness of the *limited* track is a cheap function of the gain, so
the gain that lands on the target is solved exactly (to 0.02 LU) without touching the audio
again. The limiter's gain curve is a hold-and-ramp envelope built so that every block ends at
or below the ceiling: a minimum filter (look-ahead for the attack, hold for the release),
then two box filters no wider than that window, which can only average gains that are already
low enough.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
BlockValues = npt.NDArray[np.float32]  # one value per block
Samples = npt.NDArray[np.int16]

# Samples per analysis chunk: big enough for numpy to be efficient, small enough that the
# float64 temporaries (~4 copies) stay a few tens of MB whatever the track's length.
CHUNK_SUBBLOCKS = 40  # x 100 ms
_ABSOLUTE_GATE_LUFS = -70.0
_SUBNORMAL_GUARD = 1e-10  # -200 dBFS
_RELATIVE_GATE_LU = -10.0
# Inter-sample peaks of band-limited speech stay well under this much above the sample peak;
# blocks whose sample peak is further than this below the ceiling cannot reach it, so their
# (costly) oversampled peak is never computed.
_MAX_INTERSAMPLE_DB = 3.0
_TAPS_PER_PHASE = 12
_OVERSAMPLE_BATCH_SAMPLES = 1 << 18  # BS.1770 Annex 2 uses a 48-tap, 4-phase interpolator; so do we
# A limiter that takes more loudness than this away audibly crushes speech: unreachable.
MAX_LIMITING_LU = 8.0
_ATTACK_SECONDS = 0.005
_HOLD_SECONDS = 0.050


class MasteringError(RuntimeError):
    """The loudness target cannot be reached under the true-peak ceiling."""


@dataclass(frozen=True)
class Blocks:
    """Per-block statistics of a whole track, and the block geometry."""

    sample_rate: int
    block: int  # samples per block
    per_subblock: int  # blocks per 100 ms gating sub-block
    length: int  # samples in the track
    energy: BlockValues  # K-weighted sum of squares per block (full-scale = 1.0)
    sample_peak: BlockValues  # max |x| per block (full-scale = 1.0)


def k_weighting(sample_rate: int) -> Floats:
    """The BS.1770 pre-filter (high shelf, then RLB high-pass) as second-order sections.

    The 48 kHz coefficients of the standard, re-derived for any rate from their analog
    prototypes as libebur128 (and so ffmpeg's ebur128 filter) does.
    """
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sample_rate)
    vh = 10 ** (gain_db / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = [
        (vh + vb * k / q + k * k) / a0,
        2 * (k * k - vh) / a0,
        (vh - vb * k / q + k * k) / a0,
        1.0,
        2 * (k * k - 1) / a0,
        (1 - k / q + k * k) / a0,
    ]
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / sample_rate)
    a0 = 1 + k / q + k * k
    highpass = [1.0, -2.0, 1.0, 1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    return np.array([shelf, highpass])


def block_length(sample_rate: int) -> int:
    """~2 ms: the divisor of a 100 ms sub-block nearest to sample_rate / 500. Fine enough
    that the limiter takes little loudness with it (4 ms blocks cost heavily limited eSpeak
    tracks ~0.5 LU); coarse enough that the per-block float32 arrays of a 60-minute track
    stay a few percent of its PCM."""
    subblock = sample_rate // 10
    if subblock * 10 != sample_rate:
        raise ValueError(f"sample rate {sample_rate} is not a whole number of 100 ms blocks")
    divisors = [d for d in range(1, subblock + 1) if subblock % d == 0]
    return min(divisors, key=lambda d: abs(d - sample_rate / 500))


def analyse(samples: Samples, sample_rate: int) -> Blocks:
    """K-weighted energy and sample peak of every block, in one streaming pass.

    The pass is split at silences into spans analysed on all cores: after 100 ms of digital
    silence the filter's memory of what came before is below -200 dB, so starting a span
    there afresh gives the same blocks.
    """
    block = block_length(sample_rate)
    blocks = -(-len(samples) // block)
    energy = np.empty(blocks, dtype=np.float32)
    peak = np.empty(blocks, dtype=np.float32)
    bounds = _silent_splits(samples, block, sample_rate, os.cpu_count() or 1)

    def analyse_span(start: int, end: int) -> None:
        _analyse_span(samples[start:end], start // block, sample_rate, block, energy, peak)

    with ThreadPoolExecutor(max_workers=len(bounds) - 1) as pool:
        list(pool.map(analyse_span, bounds[:-1], bounds[1:]))
    return Blocks(sample_rate, block, sample_rate // 10 // block, len(samples), energy, peak)


def _analyse_span(
    samples: Samples,
    first_block: int,
    sample_rate: int,
    block: int,
    energy: BlockValues,
    peak: BlockValues,
) -> None:
    """Fills energy and peak for the blocks of `samples`, which start at `first_block`."""
    chunk = CHUNK_SUBBLOCKS * sample_rate // 10  # whole blocks
    sos = k_weighting(sample_rate)
    state = np.zeros((sos.shape[0], 2))
    for start in range(0, len(samples), chunk):
        piece = samples[start : start + chunk].astype(np.float64) / 32768.0
        # The offset keeps the filter out of subnormal numbers in the silences between lines
        # (they made this pass 30x slower); the high-pass removes it, so it adds no energy.
        weighted, state = _sosfilt()(sos, piece + _SUBNORMAL_GUARD, zi=state)
        if len(piece) % block:  # the track's last block: pad with silence
            pad = block - len(piece) % block
            piece = np.concatenate([piece, np.zeros(pad)])
            weighted = np.concatenate([weighted, np.zeros(pad)])
        first = first_block + start // block
        count = len(piece) // block
        np.square(weighted, out=weighted)
        energy[first : first + count] = weighted.reshape(count, block).sum(axis=1)
        peak[first : first + count] = np.abs(piece).reshape(count, block).max(axis=1)


def _silent_splits(samples: Samples, block: int, sample_rate: int, parts: int) -> list[int]:
    """[0, ..., len(samples)]: up to `parts` spans, each inner boundary a block boundary
    after at least 100 ms of digital silence (a track without such silences stays whole)."""
    quiet = sample_rate // 10
    bounds = [0]
    for part in range(1, parts):
        # Search forward from the even split point, a second at a time, for a silence.
        position = max(bounds[-1] + quiet, part * len(samples) // parts)
        limit = min(len(samples), position + len(samples) // parts)
        found = None
        while found is None and position < limit:
            window = samples[position : position + sample_rate + quiet]
            loud = np.flatnonzero(window)
            edges = np.concatenate([[-1], loud, [len(window)]])
            gaps = np.flatnonzero(np.diff(edges) > quiet + block)
            if len(gaps):
                found = position + edges[gaps[0]] + 1 + quiet
            position += sample_rate
        if found is not None and found < len(samples):
            bounds.append(int(-(-found // block) * block))
    return [*bounds, len(samples)]


def integrated_loudness(subblock_energy: Floats, sample_rate: int) -> float:
    """BS.1770-4 gated integrated loudness from 100 ms sub-block energies (sums of squares).

    Gating blocks are 400 ms with 75% overlap: four consecutive sub-blocks each.
    """
    if len(subblock_energy) < 4:
        # Shorter than one gating block: measure what there is rather than nothing.
        power = subblock_energy.sum() / max(len(subblock_energy), 1) / (sample_rate / 10)
        return -0.691 + 10 * math.log10(power) if power > 0 else -math.inf
    cumulative = np.concatenate([[0.0], np.cumsum(subblock_energy)])
    power = (cumulative[4:] - cumulative[:-4]) / (0.4 * sample_rate)
    with np.errstate(divide="ignore"):
        loudness = -0.691 + 10 * np.log10(power)
    gated = power[loudness > _ABSOLUTE_GATE_LUFS]
    if len(gated) == 0:
        return -math.inf
    relative_gate = -0.691 + 10 * math.log10(gated.mean()) + _RELATIVE_GATE_LU
    kept = power[(loudness > _ABSOLUTE_GATE_LUFS) & (loudness > relative_gate)]
    return float(-0.691 + 10 * math.log10(kept.mean()))


class Limiter:
    """Solves and applies gain + true-peak limiting for one analysed track."""

    def __init__(self, samples: Samples, blocks: Blocks) -> None:
        self.samples = samples
        self.blocks = blocks
        self.true_peak = blocks.sample_peak.copy()  # raised to the true peak where computed
        self._oversampled = np.zeros(len(blocks.sample_peak), dtype=bool)
        rate = blocks.sample_rate
        self._ramp = max(1, round(_ATTACK_SECONDS * rate / blocks.block / 2))
        self._hold = max(2 * self._ramp + 1, round(_HOLD_SECONDS * rate / blocks.block))
        self._phases = _interpolator(4)

    def raw_loudness(self) -> float:
        return self.loudness(0.0, math.inf)

    def loudness(self, gain_db: float, ceiling_dbfs: float) -> float:
        """Integrated loudness of the track after `gain_db` and the limiter."""
        energy = self.envelope(gain_db, ceiling_dbfs)
        np.square(energy, out=energy)
        energy *= self.blocks.energy
        return integrated_loudness(self._subblocks(energy), self.blocks.sample_rate)

    def solve(self, target_lufs: float, ceiling_dbfs: float) -> float:
        """The gain (dB) that, through the limiter, lands the track on `target_lufs`.

        Loudness through a limiter rises monotonically but ever more slowly with gain, so the
        root is bracketed and found by secant steps that never leave the bracket. Raises
        MasteringError when the limiter would take more than MAX_LIMITING_LU away.
        """
        raw = self.raw_loudness()
        if raw == -math.inf:
            raise ValueError("the track is silent: there is nothing to normalize")
        low, high = target_lufs - raw, target_lufs - raw
        low_miss = target_lufs - self.loudness(low, ceiling_dbfs)
        if abs(low_miss) <= 0.02:
            return low
        # The limiter only ever takes loudness away, so `low` undershoots; find an overshoot.
        step, high_miss = max(low_miss, 1.0), low_miss
        while high_miss > 0:
            high += step
            step *= 2
            high_miss = target_lufs - self.loudness(high, ceiling_dbfs)
            # Without the limiter the track would measure raw + high.
            if high_miss > 0 and raw + high - (target_lufs - high_miss) > MAX_LIMITING_LU:
                raise MasteringError(
                    f"the track's peaks leave no room for {target_lufs:.1f} LUFS under "
                    f"{ceiling_dbfs:.1f} dBFS without more than {MAX_LIMITING_LU:g} LU of "
                    f"limiting"
                )
        for _ in range(40):
            guess = high - high_miss * (high - low) / (high_miss - low_miss)
            # Keep secant steps off the bracket's edges so the bracket always shrinks.
            guess = min(max(guess, low + 0.05 * (high - low)), high - 0.05 * (high - low))
            miss = target_lufs - self.loudness(guess, ceiling_dbfs)
            if abs(miss) <= 0.02 or high - low < 0.005:
                return guess
            if miss > 0:
                low, low_miss = guess, miss
            else:
                high, high_miss = guess, miss
        return guess

    def envelope(self, gain_db: float, ceiling_dbfs: float) -> BlockValues:
        """Per-block total gain (linear): `gain_db` minus the limiter's reduction."""
        gain = 10 ** (gain_db / 20)
        ceiling = 10 ** (ceiling_dbfs / 20)
        self._oversample(gain, ceiling)
        with np.errstate(divide="ignore"):
            wanted = np.float32(ceiling / gain) / self.true_peak
        np.minimum(wanted, np.float32(1.0), out=wanted)
        if wanted.min() >= 1.0:
            return np.full(len(wanted), gain, dtype=np.float32)
        # Window [i - hold, i + 2*ramp + 1]: every block whose smoothed gain could reach block
        # i (two boxes of half-width `ramp`, plus one for the per-sample interpolation) already
        # carries i's reduction, so no block ends above the ceiling.
        reach = 2 * self._ramp + 1
        size = self._hold + reach + 1
        # scipy is imported here, not at the top: every run worker imports this module, and
        # only the audio stage needs scipy (it costs the start of every run ~0.5 s).
        # scipy ships no type hints; its functions here take and return float64 arrays.
        from scipy.ndimage import (  # type: ignore[import-untyped]
            minimum_filter1d,
            uniform_filter1d,
        )

        held: BlockValues = minimum_filter1d(
            wanted, size, mode="nearest", origin=self._hold - size // 2
        )
        for _ in range(2):
            uniform_filter1d(held, 2 * self._ramp + 1, mode="nearest", output=held)
        held *= np.float32(gain)
        return held

    def chunks(self, gain_db: float, ceiling_dbfs: float) -> Iterator[bytes]:
        """The mastered PCM, chunk by chunk, ready to be piped to the encoder.

        The gain ramps linearly from each block's value to the next one's (no zipper steps);
        a sample therefore gets a gain between two neighbouring blocks', both of which the
        envelope already holds at or below what the sample needs.
        """
        block = self.blocks.block
        envelope = self.envelope(gain_db, ceiling_dbfs)
        # One more value so the last block has a successor to ramp to.
        envelope = np.append(envelope, envelope[-1])
        ramp = (np.arange(block, dtype=np.float32) / np.float32(block))[None, :]
        chunk = CHUNK_SUBBLOCKS * self.blocks.per_subblock * block  # whole blocks
        for start in range(0, len(self.samples), chunk):
            piece = self.samples[start : start + chunk]
            first = start // block
            count = -(-len(piece) // block)
            here = envelope[first : first + count, None]
            after = envelope[first + 1 : first + count + 1, None]
            gains = (here + (after - here) * ramp).reshape(-1)[: len(piece)]
            out = piece.astype(np.float32)
            out *= gains
            np.rint(out, out=out)
            np.clip(out, -32768, 32767, out=out)
            yield out.astype("<i2").tobytes()

    def _subblocks(self, energy: BlockValues) -> Floats:
        whole = len(energy) // self.blocks.per_subblock * self.blocks.per_subblock
        if whole == 0:
            return np.array([energy.sum(dtype=np.float64)])
        blocks = energy[:whole].reshape(-1, self.blocks.per_subblock)
        sums: Floats = blocks.sum(axis=1, dtype=np.float64)
        return sums

    def _oversample(self, gain: float, ceiling: float) -> None:
        """Computes the 4x oversampled peak of every block that could reach the ceiling."""
        threshold = ceiling / gain / 10 ** (_MAX_INTERSAMPLE_DB / 20)
        todo = np.flatnonzero((self.blocks.sample_peak >= threshold) & ~self._oversampled)
        if len(todo) == 0:
            return
        # Interpolating at n + f reads x[n - 5 .. n + 6], so a block's window starts 5
        # samples early and ends 6 late.
        block, before = self.blocks.block, _TAPS_PER_PHASE // 2 - 1
        width = block + _TAPS_PER_PHASE - 1
        # Batches of ~256k samples keep the temporaries ~10 MB whatever the track's length;
        # they write disjoint blocks, so they run on all cores.
        per_batch = max(1, _OVERSAMPLE_BATCH_SAMPLES // block)

        def oversample(batch: npt.NDArray[np.intp]) -> None:
            index = batch[:, None] * block - before + np.arange(width)[None, :]
            inside = (index >= 0) & (index < self.blocks.length)
            windows = np.where(
                inside, self.samples[np.clip(index, 0, self.blocks.length - 1)], 0
            ).astype(np.float32) / np.float32(32768.0)
            interpolated = interpolated_peaks(windows, block, self._phases)
            self.true_peak[batch] = np.maximum(self.blocks.sample_peak[batch], interpolated)

        with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
            list(pool.map(oversample, np.array_split(todo, -(-len(todo) // per_batch))))
        self._oversampled[todo] = True


def interpolated_peaks(
    windows: npt.NDArray[np.float32], block: int, phases: Sequence[npt.NDArray[np.float32]]
) -> npt.NDArray[np.float32]:
    """The largest |value| between the samples of each row's block, by the `phases`
    interpolators. Row r holds its block plus 5 samples before and 6 after."""
    peak = np.zeros(len(windows), dtype=np.float32)
    for phase in phases:
        # Tap by tap over the whole batch: no (blocks x samples x taps) temporary.
        values = np.zeros((len(windows), block), dtype=np.float32)
        for tap, weight in enumerate(phase):
            values += weight * windows[:, tap : tap + block]
        peak = np.maximum(peak, np.abs(values).max(axis=1))
    return peak


class TruePeakMeter:
    """The true peak of a stream of float samples (full scale 1.0), fed chunk by chunk.

    8x oversampled, as ffmpeg's ebur128 oversamples 24 kHz speech (to 192 kHz). Only blocks
    whose sample peak comes within `_MAX_INTERSAMPLE_DB` of the running peak are interpolated:
    a quieter block cannot hold the peak, and the running peak only grows.
    """

    _BEFORE, _AFTER = _TAPS_PER_PHASE // 2 - 1, _TAPS_PER_PHASE // 2

    def __init__(self, block: int = 64) -> None:
        self.block = block
        self.peak = 0.0
        self._phases = _interpolator(8)
        self._history = np.zeros(self._BEFORE, dtype=np.float32)  # just before `_pending`
        self._pending = np.zeros(0, dtype=np.float32)

    def feed(self, samples: npt.NDArray[np.float32]) -> None:
        self._pending = np.concatenate([self._pending, samples])
        self._scan()

    def finish(self) -> float:
        """The true peak in dBTP, once the stream has ended (silence after its end)."""
        self.feed(np.zeros(self._AFTER + self.block, dtype=np.float32))
        return 20 * math.log10(self.peak) if self.peak > 0 else -math.inf

    def _scan(self) -> None:
        block, data = self.block, self._pending
        count = (len(data) - self._AFTER) // block  # blocks whose look-ahead has arrived
        if count <= 0:
            return
        end = count * block
        peaks = np.abs(data[:end]).reshape(count, block).max(axis=1)
        self.peak = max(self.peak, float(peaks.max()))
        todo = np.flatnonzero(peaks >= self.peak / 10 ** (_MAX_INTERSAMPLE_DB / 20))
        # `source` starts _BEFORE samples before data, so block b's window starts at b * block.
        source = np.concatenate([self._history, data[: end + self._AFTER]])
        width = block + _TAPS_PER_PHASE - 1
        if len(todo):
            windows = source[todo[:, None] * block + np.arange(width)[None, :]]
            interpolated = interpolated_peaks(windows, block, self._phases)
            self.peak = max(self.peak, float(interpolated.max()))
        self._history = data[end - self._BEFORE : end]
        self._pending = data[end:]


def band_limit(samples: Samples, sample_rate: int, bandwidth_hz: float) -> Samples:
    """`samples` low-passed at `bandwidth_hz` (8th-order Butterworth), chunk by chunk so a long
    track costs no float64 copy of itself. Causal: the phase it bends is far above the
    voice's fundamentals, and no listener hears it."""
    from scipy.signal import butter  # type: ignore[import-untyped]

    sos = butter(8, bandwidth_hz, fs=sample_rate, output="sos")
    sosfilt = _sosfilt()
    state = np.zeros((len(sos), 2))
    out = np.empty_like(samples)
    chunk = CHUNK_SUBBLOCKS * sample_rate // 10
    for start in range(0, len(samples), chunk):
        piece, state = sosfilt(sos, samples[start : start + chunk], zi=state)
        out[start : start + chunk] = np.clip(np.rint(piece), -32768, 32767)
    return out


def _interpolator(factor: int) -> list[npt.NDArray[np.float32]]:
    """Kaiser-windowed sinc taps that interpolate x at n + k/factor for k = 1 .. factor-1.

    Tap j of a window starting at n - 5 weighs x[n - 5 + j]."""
    phases = []
    offsets = np.arange(_TAPS_PER_PHASE) - (_TAPS_PER_PHASE // 2 - 1)
    window = np.kaiser(_TAPS_PER_PHASE * 4 + 1, 6.0)
    for fraction in np.arange(1, factor) / factor:
        positions = offsets - fraction
        # Sample the continuous Kaiser window at the same fractional positions.
        taps = np.sinc(positions) * np.interp(
            positions, np.linspace(-_TAPS_PER_PHASE / 2, _TAPS_PER_PHASE / 2, len(window)), window
        )
        phases.append((taps / taps.sum()).astype(np.float32))
    return phases


def _sosfilt() -> Any:
    # Imported on first use: see `minimum_filter1d` above.
    from scipy.signal import sosfilt

    return sosfilt
