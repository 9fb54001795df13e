"""Turns synthesized clips into one broadcast-ready MP3 with chapters and captions.

1. Resample every clip to one rate, straight into one preallocated PCM buffer (the zeros
   left between clips are the pauses): a long episode costs one buffer, no concatenation.
2. Measure it once (mastering.py: BS.1770 loudness and true peak per ~2 ms block) and solve
   the gain that, through a true-peak limiter, lands on the loudness target.
3. Stream gain + limiter into the encoder chunk by chunk and encode to MP3 once, measuring
   the MP3 itself as it is written; a miss is corrected from the measurement and encoded again.
4. Write ID3v2 tags and chapters with mutagen.
"""

from __future__ import annotations

import logging
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

from epochpod_assets.audio.ffmpeg import Loudness, encode_mp3
from epochpod_assets.audio.mastering import Limiter, MasteringError, analyse, band_limit
from epochpod_assets.providers.base import Speech

logger = logging.getLogger(__name__)

# The limiter caps the PCM's true peak; MP3 coding then adds up to ~0.7 dB on eSpeak's
# buzzy speech (measured on a 60-minute track), so the ceiling starts this far below the target.
_MP3_PEAK_MARGIN_DB = 1.0
# libmp3lame's output is 0.44 dB quieter than its input at every bitrate and frequency
# (measured with tones and speech), so the PCM is mastered that much hotter.
_MP3_GAIN_DB = -0.44
# How close to the loudness target an encoded track must land before we stop correcting it,
# and how far it may miss at worst (the published tolerance).
_AIM_LU = 0.5
_LOUDNESS_TOLERANCE_LU = 1.0
# A true-peak overshoot lowers the ceiling by the overshoot plus this times the attempt.
_PEAK_STEP_DB = 0.2
# How far below the target a track may be aimed when its peaks leave no room for more.
_FALLBACK_LU = 0.6
# Encodes per track at most; 60-minute tracks measured so far needed one, the heaviest
# short eSpeak tracks up to four.
_MASTERING_ATTEMPTS = 6
# The band a track is cut to when full-band mastering cannot meet the peak target (_master).
_FALLBACK_BANDWIDTH_HZ = 9000
# Loudness kept in hand when trimming, so rounding cannot push the track off tolerance.
_TRIM_SPARE_LU = 0.1
# Silence between a bed and the speech.
_BED_GAP_SECONDS = 0.6
_MPEG1_KBPS = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_MPEG2_KBPS = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
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
    track: str | None = None  # TRCK, "n/total": an adventure's node files are numbered


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
    # Measured on the MP3's frames as the encoder wrote them (within 0.1 LU of a decode of
    # the tagged file, which also trims the encoder delay).
    loudness: Loudness


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
    intro: Speech | None = None,
    outro: Speech | None = None,
) -> RenderedTrack:
    """Joins clips with their pauses into a tagged, chaptered, loudness-normalized MP3.

    `intro` and `outro` are optional beds (music, a sting) played before the first line and
    after the last, each separated from the speech by a short gap; they get no caption.
    """
    if not clips:
        raise ValueError("a track needs at least one clip")
    check_bitrate(bitrate, sample_rate)
    _check_chapter_marks(chapters, len(clips))
    pcm, cues = _join(clips, sample_rate, intro, outro)
    duration = len(pcm) / 2 / sample_rate
    spans = _chapter_spans(chapters, cues, duration)
    # The MP3 goes through a file: ffmpeg writes the Xing/LAME header (exact length, encoder
    # delay for gapless playback) only to a seekable output, and mutagen tags it in place.
    with tempfile.TemporaryDirectory(prefix="epochpod-") as folder:
        path = Path(folder) / "track.mp3"
        loudness = _master(pcm, path, sample_rate, bitrate, target_lufs, true_peak_dbtp)
        del pcm  # the track's biggest allocation: gone before the MP3 is read into memory
        _write_id3(path, tags, spans, duration)
        mp3 = path.read_bytes()
    return RenderedTrack(
        mp3=mp3,
        duration_seconds=duration,
        cues=cues,
        chapters=spans,
        loudness=loudness,
    )


def _check_chapter_marks(chapters: Sequence[ChapterMark], clip_count: int) -> None:
    previous = -1
    for mark in chapters:
        if not previous < mark.first_clip < clip_count:
            raise ValueError(
                f"chapter {mark.title!r} starts at clip {mark.first_clip}; chapters must start "
                f"at increasing clip indexes below {clip_count}"
            )
        previous = mark.first_clip


def check_bitrate(bitrate: str, sample_rate: int = 24000) -> None:
    """Raises ValueError unless `bitrate` ("128k") is an MP3 bitrate at `sample_rate`; for
    checking configuration early, before any audio is paid for."""
    kbps = bitrate.lower().removesuffix("k")
    # MP3 allows a fixed set of bitrates, and which depends on the sample rate (MPEG-1 at
    # 32 kHz and above, MPEG-2 below): ffmpeg would otherwise pick another one silently.
    allowed = _MPEG1_KBPS if sample_rate >= 32000 else _MPEG2_KBPS
    if not kbps.isdigit() or int(kbps) not in allowed:
        raise ValueError(
            f"MP3 bitrate {bitrate!r} is not valid at {sample_rate} Hz; choose one of "
            + ", ".join(f"{k}k" for k in allowed)
        )


def _join(
    clips: Sequence[Clip],
    sample_rate: int,
    intro: Speech | None = None,
    outro: Speech | None = None,
) -> tuple[bytearray, list[Cue]]:
    """Writes every clip, resampled, into one zero-filled buffer; zeros are the pauses."""
    beds_first = [Clip("", "", intro, _BED_GAP_SECONDS)] if intro else []
    if outro:
        # The gap before the outro is the last line's pause.
        last = clips[-1]
        clips = [*clips[:-1], Clip(last.speaker, last.text, last.speech, _BED_GAP_SECONDS)]
    pieces = [*beds_first, *clips, *([Clip("", "", outro, 0.0)] if outro else [])]
    pcm, starts, lengths = _place(pieces, sample_rate)
    skip = len(beds_first)
    cues = [
        Cue(clip.speaker, clip.text, start / sample_rate, (start + length) / sample_rate)
        for clip, start, length in zip(
            clips, starts[skip:], lengths[skip : skip + len(clips)], strict=False
        )
    ]
    return pcm, cues


def _place(clips: Sequence[Clip], sample_rate: int) -> tuple[bytearray, list[int], list[int]]:
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
    return pcm, starts, lengths


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
    # scipy's FFT keeps float32 as float32 (numpy's computes in float64): twice as fast, and
    # far more precise than the 16-bit samples it produces.
    # Imported here: every run worker imports this module, only the audio stage resamples.
    import scipy.fft  # type: ignore[import-untyped]

    spectrum = scipy.fft.rfft(source.astype(np.float32), padded)
    resampled: npt.NDArray[np.float32] = scipy.fft.irfft(spectrum, padded_out)[:length]
    resampled *= np.float32(padded_out / padded)
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
    pcm: bytearray,
    path: Path,
    sample_rate: int,
    bitrate: str,
    target_lufs: float,
    true_peak_dbtp: float,
) -> Loudness:
    """Normalizes, limits and encodes the track to `path`; returns the MP3's measurement.

    The gain and limiter are solved on the PCM (mastering.py), then the MP3 is measured as
    it is encoded; a miss is corrected from the measurement and the track encoded again
    (`_master_samples`). MP3 coding of buzzy synthetic speech (eSpeak's pulse-train voicing)
    adds peak the limiter never saw, much of it coding noise on the harmonics above ~9 kHz,
    and corrections can get stuck just over the ceiling. Such a track is band-limited to
    `_FALLBACK_BANDWIDTH_HZ` (speech keeps its intelligibility; those harmonics and their
    coding noise go) and mastered again. Measured on re-encoded interview tracks under
    -2 and -2.5 dBTP ceilings: every one that got stuck full-band landed in spec this way.
    """
    samples = np.frombuffer(pcm, dtype="<i2")
    try:
        return _master_samples(samples, path, sample_rate, bitrate, target_lufs, true_peak_dbtp)
    except LoudnessError as error:
        if sample_rate <= 2 * _FALLBACK_BANDWIDTH_HZ:
            raise
        logger.info("%s; mastering again band-limited to %d Hz", error, _FALLBACK_BANDWIDTH_HZ)
    band_limited = band_limit(samples, sample_rate, _FALLBACK_BANDWIDTH_HZ)
    return _master_samples(band_limited, path, sample_rate, bitrate, target_lufs, true_peak_dbtp)


def _master_samples(
    samples: npt.NDArray[np.int16],
    path: Path,
    sample_rate: int,
    bitrate: str,
    target_lufs: float,
    true_peak_dbtp: float,
) -> Loudness:
    """One mastering of `samples`, corrected from the MP3's measurement until it is in spec.

    MP3 coding moves loudness and true peak, and not predictably: on a heavily limited,
    buzzy eSpeak track it adds 0.5 to 1.5 dB of peak, varying from one encode to the next.
    So a miss is corrected from the measurement and the track encoded again: the ceiling
    drops by what the codec added (plus a safety step that grows with each attempt), the
    loudness aim moves by what the codec took away; when the limiter cannot reach the aim
    under the lower ceiling, the aim settles inside the tolerance, and failing that the
    whole track is trimmed down within it. A track that cannot meet both targets at once
    (or a silent one) raises.
    """
    limiter = Limiter(samples, analyse(samples, sample_rate))
    aim_lufs = target_lufs - _MP3_GAIN_DB
    ceiling = true_peak_dbtp - _MP3_PEAK_MARGIN_DB
    gain, close_enough = _solve(limiter, aim_lufs, ceiling)
    previous = None
    for attempt in range(1, _MASTERING_ATTEMPTS + 1):
        loudness = encode_mp3(
            limiter.chunks(gain, ceiling), path, sample_rate=sample_rate, bitrate=bitrate
        )
        miss = target_lufs - loudness.integrated_lufs
        if abs(miss) <= close_enough and loudness.true_peak_dbtp <= true_peak_dbtp:
            break
        # A correction that changed nothing will change nothing the next time either.
        if attempt == _MASTERING_ATTEMPTS or loudness == previous:
            _check_loudness(loudness, target_lufs, true_peak_dbtp)
            break  # within tolerance, just not as close as aimed
        previous = loudness
        codec_peak_db = max(0.0, loudness.true_peak_dbtp - ceiling)
        codec_loudness_db = loudness.integrated_lufs - limiter.loudness(gain, ceiling)
        lower = min(ceiling, true_peak_dbtp - codec_peak_db - _PEAK_STEP_DB * attempt)
        aim_lufs = target_lufs - codec_loudness_db
        try:
            gain, close_enough = _solve(limiter, aim_lufs, lower)
            ceiling = lower
        except LoudnessError:
            # The limiter cannot hold the loudness under a lower ceiling: turn the whole
            # mastered track down instead (same limiting, scaled) as far as the loudness
            # tolerance allows. Coding noise is not quite proportional, so even a partial
            # trim often lands under the ceiling; the next measurement decides.
            trim = min(ceiling - lower, _LOUDNESS_TOLERANCE_LU - _TRIM_SPARE_LU - miss)
            if trim <= 0:
                raise LoudnessError(
                    f"cannot meet {target_lufs} ±{_LOUDNESS_TOLERANCE_LU} LUFS and "
                    f"{true_peak_dbtp} dBTP at once: the MP3 measures "
                    f"{loudness.integrated_lufs} LUFS, {loudness.true_peak_dbtp} dBTP and "
                    f"the limiter has no room left"
                ) from None
            gain, ceiling = gain - trim, ceiling - trim
            close_enough = _LOUDNESS_TOLERANCE_LU
    return loudness


def _solve(limiter: Limiter, aim_lufs: float, ceiling: float) -> tuple[float, float]:
    """(gain, how close the MP3 must land): on the aim if the limiter can get there without
    crushing the speech, else as close as the published tolerance allows."""
    try:
        return limiter.solve(aim_lufs, ceiling), _AIM_LU
    except MasteringError:
        pass
    try:
        return limiter.solve(aim_lufs - _FALLBACK_LU, ceiling), _LOUDNESS_TOLERANCE_LU
    except MasteringError as error:
        raise LoudnessError(str(error)) from error


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
    starts[0] = 0.0  # the first chapter includes any intro bed
    ends = [*starts[1:], duration]
    return [
        Chapter(mark.title, start, end)
        for mark, start, end in zip(chapters, starts, ends, strict=True)
    ]


def _write_id3(path: Path, tags: TrackTags, chapters: Sequence[Chapter], duration: float) -> None:
    id3: Any = _ChapterOrderID3()
    id3.add(_id3.TIT2(encoding=_UTF8, text=[tags.title]))
    id3.add(_id3.TPE1(encoding=_UTF8, text=[tags.artist]))
    id3.add(_id3.TALB(encoding=_UTF8, text=[tags.album]))
    id3.add(_id3.TDRC(encoding=_UTF8, text=[tags.date]))
    id3.add(_id3.COMM(encoding=_UTF8, lang="eng", desc="", text=[tags.description]))
    id3.add(_id3.TLEN(encoding=_UTF8, text=[str(round(duration * 1000))]))
    if tags.track:
        id3.add(_id3.TRCK(encoding=_UTF8, text=[tags.track]))
    if chapters:
        _add_chapters(id3, chapters)
    id3.save(path)


class _ChapterOrderID3(_id3.ID3):  # type: ignore[misc]
    """mutagen stores frames sorted by size, so CHAP frames land in an order unrelated to
    time, and players and ffprobe list chapters in the order they are stored ("Closing"
    before "Introduction"). This writes the same frames with the CHAP frames in the slots
    they were given, sorted by start time."""

    def _write(self, config: Any) -> bytearray:
        frames = bytes(super()._write(config))
        return bytearray(chapters_in_order(frames, syncsafe=config.v2_version == 4))


def chapters_in_order(frames: bytes, *, syncsafe: bool = True) -> bytes:
    """ID3v2 frame data with its CHAP frames reordered by start time (other frames stay)."""
    blocks: list[bytes] = []
    position = 0
    while position + 10 <= len(frames) and frames[position : position + 4] != b"\0\0\0\0":
        raw = frames[position + 4 : position + 8]
        size = (
            (raw[0] << 21) | (raw[1] << 14) | (raw[2] << 7) | raw[3]
            if syncsafe
            else int.from_bytes(raw, "big")
        )
        blocks.append(frames[position : position + 10 + size])
        position += 10 + size
    slots = [i for i, block in enumerate(blocks) if block.startswith(b"CHAP")]
    ordered = sorted((blocks[i] for i in slots), key=_chapter_start)
    for slot, block in zip(slots, ordered, strict=True):
        blocks[slot] = block
    return b"".join(blocks) + frames[position:]


def _chapter_start(block: bytes) -> int:
    body = block[10:]
    after_id = body.index(b"\0") + 1  # the element id is a NUL-terminated string
    return int.from_bytes(body[after_id : after_id + 4], "big")


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
