"""Turns synthesized clips into one broadcast-ready MP3 with chapters and captions.

1. Resample every clip to one rate, straight into one preallocated PCM buffer (the zeros
   left between clips are the pauses): a long episode costs one buffer, no concatenation.
2. Find the gain that reaches the loudness target through the peak limiter (ffmpeg
   ebur128: one pass on the raw track, one through gain + limiter).
3. Apply gain + limiter and encode to MP3 once.
4. Measure the MP3 itself, true peak included, to prove the targets were met.
5. Write ID3v2 tags and chapters with mutagen.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

import mutagen.id3
import numpy as np
import numpy.typing as npt

from epochpod_assets.audio.ffmpeg import Loudness, measure_loudness, run_ffmpeg
from epochpod_assets.providers.base import Speech

# The limiter works on sample peaks; inter-sample peaks add ~0.4 dB and MP3 coding ~0.7 dB
# more on eSpeak's buzzy speech (measured on a 60-minute track), so it aims this far below
# the true-peak ceiling.
_LIMITER_MARGIN_DB = 2.0
# Measurements through the limiter spent finding the gain, and when to stop early.
_GAIN_MEASUREMENTS = 1
# d(loudness)/d(gain) once the limiter works hard; the first correction step assumes it
# (measured 0.5-0.7 on eSpeak; a wrong guess costs ~0.1 LU, within the 1 LU tolerance).
_LIMITED_SLOPE = 0.6
_GAIN_PRECISION_LU = 0.15
# libmp3lame's output is 0.44 dB quieter than its input at every bitrate and frequency
# (measured with tones and speech), so the PCM is mastered that much hotter.
_MP3_GAIN_DB = -0.44
# How far the finished MP3 may miss the loudness target before we call it a failure.
_LOUDNESS_TOLERANCE_LU = 1.0
_UTF8 = 3  # ID3 text encoding
# mutagen's frame constructors carry no type hints; reaching them through Any keeps
# mypy --strict useful for the rest of this module.
_id3: Any = mutagen.id3


@dataclass(frozen=True)
class Clip:
    """One line of speech and the silence that follows it."""

    speaker: str
    text: str
    speech: Speech
    pause_after: float  # seconds


@dataclass(frozen=True)
class ChapterMark:
    """A chapter that starts at clip index `first_clip` and runs to the next mark."""

    title: str
    first_clip: int


@dataclass(frozen=True)
class TrackTags:
    title: str
    artist: str
    album: str
    date: str  # YYYY-MM-DD
    description: str


@dataclass(frozen=True)
class Cue:
    """When a line is heard in the finished track, in seconds."""

    speaker: str
    text: str
    start: float
    end: float


@dataclass(frozen=True)
class Chapter:
    title: str
    start: float
    end: float


@dataclass(frozen=True)
class RenderedTrack:
    mp3: bytes
    duration_seconds: float
    cues: list[Cue]
    chapters: list[Chapter]
    loudness: Loudness  # measured on the finished MP3


class LoudnessError(RuntimeError):
    """The encoded track missed the loudness target; the message gives the measurement."""


def render_track(
    clips: Sequence[Clip],
    chapters: Sequence[ChapterMark],
    tags: TrackTags,
    *,
    bitrate: str = "128k",
    sample_rate: int = 24000,
    target_lufs: float = -16.0,
    true_peak_dbtp: float = -1.0,
) -> RenderedTrack:
    """Joins clips with their pauses into a tagged, chaptered, loudness-normalized MP3."""
    if not clips:
        raise ValueError("a track needs at least one clip")
    _check_chapter_marks(chapters, len(clips))
    pcm, cues = _join(clips, sample_rate)
    duration = len(pcm) / 2 / sample_rate
    mp3, loudness = _master(pcm, sample_rate, bitrate, target_lufs, true_peak_dbtp)
    del pcm  # the track's biggest allocation; free it before tagging
    spans = _chapter_spans(chapters, cues, duration)
    return RenderedTrack(
        mp3=_with_id3(mp3, tags, spans, duration),
        duration_seconds=duration,
        cues=cues,
        chapters=spans,
        loudness=loudness,
    )


def webvtt(cues: Sequence[Cue]) -> str:
    """WebVTT captions: one cue per line, the speaker in a <v> voice span."""
    blocks = ["WEBVTT"]
    for number, cue in enumerate(cues, start=1):
        speaker = _vtt_escape(cue.speaker)
        blocks.append(
            f"{number}\n{_vtt_time(cue.start)} --> {_vtt_time(cue.end)}\n"
            f"<v {speaker}>{_vtt_escape(cue.text)}</v>"
        )
    return "\n\n".join(blocks) + "\n"


def _check_chapter_marks(chapters: Sequence[ChapterMark], clip_count: int) -> None:
    previous = -1
    for mark in chapters:
        if not previous < mark.first_clip < clip_count:
            raise ValueError(
                f"chapter {mark.title!r} starts at clip {mark.first_clip}; chapters must start "
                f"at increasing clip indexes below {clip_count}"
            )
        previous = mark.first_clip


def _join(clips: Sequence[Clip], sample_rate: int) -> tuple[bytearray, list[Cue]]:
    """Writes every clip, resampled, into one zero-filled buffer; zeros are the pauses."""
    # Lengths are known before any audio is touched, so the buffer is allocated once and
    # never grows: memory stays ~1x the track's PCM however many clips there are.
    lengths = [_resampled_length(clip.speech, sample_rate) for clip in clips]
    pauses = [round(max(clip.pause_after, 0.0) * sample_rate) for clip in clips]
    ends = list(accumulate(length + pause for length, pause in zip(lengths, pauses, strict=True)))
    starts = [0, *ends[:-1]]
    pcm = bytearray(2 * ends[-1])
    samples = np.frombuffer(pcm, dtype="<i2")

    def place(clip: Clip, start: int, length: int) -> None:
        samples[start : start + length] = _resample(clip.speech, sample_rate, length)

    # numpy's FFT releases the GIL, so clips resample in parallel into disjoint slices.
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        list(pool.map(place, clips, starts, lengths))
    cues = [
        Cue(clip.speaker, clip.text, start / sample_rate, (start + length) / sample_rate)
        for clip, start, length in zip(clips, starts, lengths, strict=True)
    ]
    return pcm, cues


def _resampled_length(speech: Speech, sample_rate: int) -> int:
    return round(len(speech.pcm) // 2 * sample_rate / speech.sample_rate)


def _resample(speech: Speech, sample_rate: int, length: int) -> npt.NDArray[np.int16]:
    """Band-limited resampling of one clip to `sample_rate`, exactly `length` samples long.

    Done in the frequency domain: cutting or zero-extending the spectrum is an ideal
    low-pass, so there is no aliasing going down and no imaging going up (a 1 kHz tone
    comes out within -79 dB). The clip is zero-padded to a length whose FFT is fast and
    whose resampled length is a whole number; the padding is silence and is cut off again.
    """
    source = np.frombuffer(speech.pcm, dtype="<i2")
    if speech.sample_rate == sample_rate or len(source) == 0:
        return source[:length]
    step = speech.sample_rate // math.gcd(speech.sample_rate, sample_rate)
    padded = _fast_fft_length(-(-len(source) // step)) * step
    padded_out = padded * sample_rate // speech.sample_rate
    spectrum = np.fft.rfft(source.astype(np.float32), padded)
    resampled = np.fft.irfft(spectrum, padded_out)[:length] * (padded_out / padded)
    return np.clip(np.rint(resampled), -32768, 32767).astype(np.int16)


def _fast_fft_length(minimum: int) -> int:
    """The smallest 2^a * 3^b * 5^c >= minimum: lengths numpy's FFT handles fastest."""
    candidate = minimum
    while True:
        rest = candidate
        for prime in (2, 3, 5):
            while rest % prime == 0:
                rest //= prime
        if rest == 1:
            return candidate
        candidate += 1


def _master(
    pcm: bytearray, sample_rate: int, bitrate: str, target_lufs: float, true_peak_dbtp: float
) -> tuple[bytes, Loudness]:
    """Normalizes and encodes the track, then proves the MP3 meets the targets.

    The limiter sees the PCM's sample peaks, not the decoded MP3's true peaks, so it aims
    _LIMITER_MARGIN_DB lower. A track that still overshoots is mastered once more with the
    margin widened by the overshoot: rare, and cheaper than failing a paid-for episode.
    """
    margin = _LIMITER_MARGIN_DB
    for _ in range(2):
        limit_dbfs = true_peak_dbtp - margin
        gain = _find_gain(pcm, sample_rate, target_lufs - _MP3_GAIN_DB, limit_dbfs)
        mp3 = _encode(pcm, sample_rate, bitrate, _mastering_chain(gain, limit_dbfs))
        loudness = measure_loudness(mp3)
        overshoot = loudness.true_peak_dbtp - true_peak_dbtp
        if overshoot <= 0:
            break
        margin += overshoot + 0.3
    _check_loudness(loudness, target_lufs, true_peak_dbtp)
    return mp3, loudness


def _encode(pcm: bytearray, sample_rate: int, bitrate: str, filters: str) -> bytes:
    # ffmpeg writes the Xing/LAME header (exact length, encoder delay for gapless playback)
    # only to a seekable output, so the MP3 goes through a temporary file, not a pipe.
    with tempfile.TemporaryDirectory(prefix="epochpod-") as folder:
        path = Path(folder) / "track.mp3"
        run_ffmpeg(
            [
                *_pcm_input(sample_rate),
                *("-af", filters, "-c:a", "libmp3lame", "-b:a", bitrate),
                # No ID3 from ffmpeg: mutagen writes the only tag.
                *("-id3v2_version", "0", "-map_metadata", "-1", str(path)),
            ],
            pcm,
        )
        return path.read_bytes()


def _find_gain(pcm: bytearray, sample_rate: int, target_lufs: float, limit_dbfs: float) -> float:
    """The gain that, followed by the peak limiter, lands the track on `target_lufs`.

    Whatever gain the limiter has to act on, it partly takes back: eSpeak's glottal pulses
    make its speech so peaky that ~40% of the gain above the limit is lost. So the gain is
    found by measuring through the real limiter: a first guess from the raw loudness, then
    secant steps. Integrated loudness only: the true-peak scan is ~3x slower.
    """
    raw = measure_loudness(pcm, pcm_sample_rate=sample_rate, true_peak=False)
    if raw.integrated_lufs == float("-inf"):
        raise ValueError("the track is silent: there is nothing to normalize")
    gain = target_lufs - raw.integrated_lufs
    if raw.true_peak_dbtp + gain <= limit_dbfs:
        return gain  # the limiter will not act, so the loudness is exactly raw + gain
    previous: tuple[float, float] | None = None
    for _ in range(_GAIN_MEASUREMENTS):
        chain = _mastering_chain(gain, limit_dbfs)
        level = measure_loudness(
            pcm, pcm_sample_rate=sample_rate, true_peak=False, filters=chain
        ).integrated_lufs
        miss = target_lufs - level
        if abs(miss) <= _GAIN_PRECISION_LU:
            break
        # d(loudness)/d(gain): 1 while the limiter idles, lower the harder it works.
        slope = _LIMITED_SLOPE if previous is None else (level - previous[1]) / (gain - previous[0])
        previous = (gain, level)
        gain += miss / min(max(slope, 0.25), 1.0)
    return gain


def _mastering_chain(gain_db: float, limit_dbfs: float) -> str:
    # level=false: alimiter would otherwise re-amplify to full scale after limiting;
    # latency=true: compensate its look-ahead so cue and chapter times stay exact.
    return (
        f"volume={gain_db:.2f}dB,"
        f"alimiter=limit={10 ** (limit_dbfs / 20):.4f}:level=false:latency=true"
    )


def _pcm_input(sample_rate: int) -> list[str]:
    return ["-f", "s16le", "-ar", str(sample_rate), "-ac", "1", "-i", "pipe:0"]


def _check_loudness(loudness: Loudness, target_lufs: float, true_peak_dbtp: float) -> None:
    off_target = abs(loudness.integrated_lufs - target_lufs) > _LOUDNESS_TOLERANCE_LU
    if off_target or loudness.true_peak_dbtp > true_peak_dbtp:
        raise LoudnessError(
            f"encoded track measures {loudness.integrated_lufs} LUFS, "
            f"{loudness.true_peak_dbtp} dBTP; wanted {target_lufs} ±{_LOUDNESS_TOLERANCE_LU} "
            f"LUFS and at most {true_peak_dbtp} dBTP"
        )


def _chapter_spans(
    chapters: Sequence[ChapterMark], cues: Sequence[Cue], duration: float
) -> list[Chapter]:
    if not chapters:
        return []
    starts = [cues[mark.first_clip].start for mark in chapters]
    ends = [*starts[1:], duration]
    return [
        Chapter(mark.title, start, end)
        for mark, start, end in zip(chapters, starts, ends, strict=True)
    ]


def _with_id3(mp3: bytes, tags: TrackTags, chapters: Sequence[Chapter], duration: float) -> bytes:
    id3 = _id3.ID3()
    id3.add(_id3.TIT2(encoding=_UTF8, text=[tags.title]))
    id3.add(_id3.TPE1(encoding=_UTF8, text=[tags.artist]))
    id3.add(_id3.TALB(encoding=_UTF8, text=[tags.album]))
    id3.add(_id3.TDRC(encoding=_UTF8, text=[tags.date]))
    id3.add(_id3.COMM(encoding=_UTF8, lang="eng", desc="", text=[tags.description]))
    id3.add(_id3.TLEN(encoding=_UTF8, text=[str(round(duration * 1000))]))
    if chapters:
        _add_chapters(id3, chapters)
    out = io.BytesIO(mp3)
    id3.save(out)
    return out.getvalue()


def _add_chapters(id3: Any, chapters: Sequence[Chapter]) -> None:
    ids = [f"chp{index}" for index in range(len(chapters))]
    for element_id, chapter in zip(ids, chapters, strict=True):
        id3.add(
            _id3.CHAP(
                element_id=element_id,
                start_time=round(chapter.start * 1000),
                end_time=round(chapter.end * 1000),
                sub_frames=[_id3.TIT2(encoding=_UTF8, text=[chapter.title])],
            )
        )
    id3.add(
        _id3.CTOC(
            element_id="toc",
            flags=_id3.CTOCFlags.TOP_LEVEL | _id3.CTOCFlags.ORDERED,
            child_element_ids=ids,
            sub_frames=[_id3.TIT2(encoding=_UTF8, text=["Chapters"])],
        )
    )


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    return f"{hours:02d}:{minutes:02d}:{millis // 1000:02d}.{millis % 1000:03d}"


def _vtt_escape(text: str) -> str:
    # A blank line would end the cue; escaping ">" also defuses a "-->" in the text.
    flat = " ".join(text.split())
    return flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
