"""The ffmpeg binary from the imageio-ffmpeg wheel, and the things we ask of it.

No system ffmpeg is needed: imageio-ffmpeg ships a static build with libmp3lame, ebur128
and alimiter. pydub, if anyone uses it, is pointed at the same binary.
"""

from __future__ import annotations

import contextlib
import functools
import math
import re
import subprocess
import tempfile
import threading
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import imageio_ffmpeg
import numpy as np

from epochpod_assets.audio.mastering import TruePeakMeter

# Raw PCM handed to ffmpeg: bytes, or the bytearray a track is assembled in (never copied).
PcmBuffer = bytes | bytearray


class FfmpegError(RuntimeError):
    """ffmpeg exited non-zero; the message carries the end of its log."""


@dataclass(frozen=True)
class Loudness:
    """EBU R128 measurements of a whole programme."""

    integrated_lufs: float
    true_peak_dbtp: float
    lra: float  # loudness range, LU


@functools.cache
def ffmpeg_exe() -> str:
    """Path of the bundled ffmpeg; also makes pydub use it instead of searching PATH."""
    exe: str = imageio_ffmpeg.get_ffmpeg_exe()
    with warnings.catch_warnings():
        # pydub warns at import when PATH has no ffmpeg; we are about to hand it ours.
        warnings.simplefilter("ignore", RuntimeWarning)
        from pydub import AudioSegment

    AudioSegment.converter = exe
    return exe


def run_ffmpeg(args: Sequence[str], input: PcmBuffer | None = None) -> bytes:
    """Runs ffmpeg with `args` (no binary, no -hide_banner), feeding `input` on stdin.

    Returns what ffmpeg wrote to stdout; raises FfmpegError with its stderr tail on failure.
    """
    return _run(args, input).stdout


def measure_loudness(
    audio: PcmBuffer,
    *,
    pcm_sample_rate: int | None = None,
    true_peak: bool = True,
    filters: str | None = None,
) -> Loudness:
    """Measures integrated loudness, true peak and LRA with ffmpeg's ebur128 filter.

    `audio` is any file ffmpeg can probe (MP3, WAV...), or mono s16le PCM when
    `pcm_sample_rate` is given. `true_peak=False` skips the oversampled peak scan (the
    slowest part) and reports the sample peak, a lower bound, in `true_peak_dbtp`.
    `filters` (an ffmpeg filter chain) processes the audio before it is measured.
    """
    source = _pcm_input_args(pcm_sample_rate) if pcm_sample_rate else ["-i", "pipe:0"]
    scanner = f"ebur128=peak={'true' if true_peak else 'sample'}:framelog=quiet"
    chain = f"{filters},{scanner}" if filters else scanner
    # ebur128 prints its summary at info level on stderr, so this call needs the log.
    log = _run([*source, "-af", chain, "-f", "null", "-"], audio, loglevel="info").stderr
    return _parse_ebur128_summary(log.decode("utf-8", "replace"))


def encode_mp3(
    chunks: Iterable[PcmBuffer], path: Path, *, sample_rate: int, bitrate: str
) -> Loudness:
    """Encodes mono s16le PCM, fed chunk by chunk, to an MP3 file at `path`, and measures the
    MP3 itself (loudness and true peak, as a player will decode it) while it is encoded.

    The encoder's tee muxer writes the file (seekable, so it gets its Xing/LAME header with
    the exact length and encoder delay) and streams the same frames to a second ffmpeg that
    decodes them, measures loudness and loudness range (ebur128) and hands the decoded samples
    on to this process for the true peak (mastering.TruePeakMeter): proof of the finished file
    at no extra pass. ebur128's own true-peak scan would oversample every sample 8x and, on
    two cores, slow the encoder by a fifth; ours interpolates only the blocks near the peak.
    """
    exe = ffmpeg_exe()
    quiet = [exe, "-hide_banner", "-nostats", "-loglevel", "error"]
    # `[` `]` `|` `:` are tee's syntax; our paths are temporary folders we name, but escape
    # the two characters a path could plausibly contain anyway.
    target = str(path).replace("\\", "\\\\").replace("|", "\\|")
    encoder_args = [
        *quiet,
        *_pcm_input_args(sample_rate),
        *("-c:a", "libmp3lame", "-b:a", bitrate, "-map", "0:a", "-map_metadata", "-1"),
        # No ID3 from ffmpeg: mutagen writes the only tag.
        *("-f", "tee", f"[f=mp3:id3v2_version=0]{target}|[f=mp3:id3v2_version=0]pipe:1"),
    ]
    meter_args = [
        exe, "-hide_banner", "-nostats", "-loglevel", "info",
        *("-f", "mp3", "-i", "pipe:0", "-af", "ebur128=framelog=quiet"),
        *("-f", "f32le", "-ac", "1", "pipe:1"),
    ]  # fmt: skip
    peak = TruePeakMeter()
    # Logs go to files, not pipes: nobody reads them until the end, and a full pipe would
    # stall ffmpeg.
    with (
        tempfile.TemporaryFile() as encoder_log,
        tempfile.TemporaryFile() as meter_log,
    ):
        encoder = subprocess.Popen(
            encoder_args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=encoder_log
        )
        assert encoder.stdin is not None and encoder.stdout is not None
        meter = subprocess.Popen(
            meter_args, stdin=encoder.stdout, stdout=subprocess.PIPE, stderr=meter_log
        )
        encoder.stdout.close()  # the meter holds it now; the encoder sees EPIPE if it dies
        assert meter.stdout is not None
        errors: list[Exception] = []
        reader = threading.Thread(
            target=_feed_peak_meter, args=(meter.stdout, peak, errors), daemon=True
        )
        reader.start()
        try:
            # A broken pipe means the encoder died; its exit code and log say why.
            with contextlib.suppress(BrokenPipeError):
                for chunk in chunks:
                    encoder.stdin.write(chunk)
            with contextlib.suppress(BrokenPipeError):
                encoder.stdin.close()
            encoded, measured = encoder.wait(), meter.wait()
            reader.join()
            if errors:
                raise errors[0]
        except BaseException:
            for process in (encoder, meter):
                process.kill()
                process.wait()
            raise
        if encoded != 0:
            raise FfmpegError(f"MP3 encoder failed (exit {encoded}): {_tail(encoder_log)}")
        if measured != 0:
            raise FfmpegError(f"MP3 meter failed (exit {measured}): {_tail(meter_log)}")
        meter_log.seek(0)
        log = meter_log.read().decode("utf-8", "replace")
        values = _summary_values(log, ("integrated_lufs", "lra"))
        return Loudness(**values, true_peak_dbtp=_round_up(peak.finish()))


def _round_up(dbtp: float) -> float:
    """To 0.1 dB as ebur128 reports, but upwards: our meter and ebur128's agree within
    0.05 dB, and a peak accepted at the ceiling by one must not read over it on the other."""
    return math.ceil(dbtp * 10) / 10 if math.isfinite(dbtp) else dbtp


def _feed_peak_meter(decoded: IO[bytes], peak: TruePeakMeter, errors: list[Exception]) -> None:
    """Reads float32 samples until the meter's stdout ends, feeding them to `peak`. A failure
    is kept in `errors` and the pipe still drained: a reader that stopped would stall the
    meter, and through it the encoder."""
    carry = b""
    try:
        while block := decoded.read(1 << 20):
            data = carry + block
            whole = len(data) // 4 * 4  # a read may end inside a sample
            peak.feed(np.frombuffer(data[:whole], dtype="<f4"))
            carry = data[whole:]
    except Exception as error:
        errors.append(error)
        while decoded.read(1 << 20):
            pass
    finally:
        decoded.close()


def find_silences(
    audio: PcmBuffer, *, min_seconds: float, noise_db: float = -50.0
) -> list[tuple[float, float]]:
    """(start, seconds) of every stretch of `audio` (any file ffmpeg can probe) quieter than
    `noise_db` for at least `min_seconds`, by ffmpeg's silencedetect."""
    log = _run(
        [
            *("-i", "pipe:0", "-af", f"silencedetect=noise={noise_db}dB:d={min_seconds}"),
            *("-f", "null", "-"),
        ],
        audio,
        loglevel="info",
    ).stderr.decode("utf-8", "replace")
    # ffmpeg closes a silence still running at the end of the input with its own end line.
    starts = [float(v) for v in re.findall(r"silence_start: (-?[\d.]+)", log)]
    lengths = [float(v) for v in re.findall(r"silence_duration: ([\d.]+)", log)]
    return list(zip(starts, lengths, strict=False))


def _tail(log: IO[bytes]) -> str:
    log.seek(0)
    return " | ".join(log.read().decode("utf-8", "replace").strip().splitlines()[-8:])


def _pcm_input_args(sample_rate: int) -> list[str]:
    return ["-f", "s16le", "-ar", str(sample_rate), "-ac", "1", "-i", "pipe:0"]


def _run(
    args: Sequence[str], input: PcmBuffer | None, *, loglevel: str = "error"
) -> subprocess.CompletedProcess[bytes]:
    command = [ffmpeg_exe(), "-hide_banner", "-nostats", "-loglevel", loglevel, *args]
    # Without input, stdin is closed so ffmpeg can never block waiting for a keypress.
    stdin = None if input is not None else subprocess.DEVNULL
    result = subprocess.run(command, input=input, stdin=stdin, capture_output=True, check=False)
    if result.returncode != 0:
        tail = result.stderr.decode("utf-8", "replace").strip().splitlines()[-8:]
        raise FfmpegError(
            f"ffmpeg {' '.join(args)} failed (exit {result.returncode}): " + " | ".join(tail)
        )
    return result


_SUMMARY_VALUES = {
    "integrated_lufs": re.compile(r"I:\s+(-?[\d.]+|-inf) LUFS"),
    "lra": re.compile(r"LRA:\s+(-?[\d.]+) LU"),
    "true_peak_dbtp": re.compile(r"Peak:\s+(-?[\d.]+|-inf) dBFS"),
}


def _parse_ebur128_summary(log: str) -> Loudness:
    return Loudness(**_summary_values(log, tuple(_SUMMARY_VALUES)))


def _summary_values(log: str, names: Sequence[str]) -> dict[str, float]:
    """The named values of ebur128's final summary in `log`."""
    # Per-frame lines look similar; only the block after the last "Summary:" is final.
    _, found, summary = log.rpartition("Summary:")
    if not found:
        raise FfmpegError("ffmpeg ebur128 printed no summary: " + log[-500:])
    values: dict[str, float] = {}
    for name in names:
        match = _SUMMARY_VALUES[name].search(summary)
        if match is None:
            raise FfmpegError(f"ffmpeg ebur128 summary has no {name}: {summary.strip()}")
        values[name] = float(match.group(1))  # float("-inf") for silence
    return values
