"""Benchmark (a): assembling a 60-minute, 400-turn episode.

Prints, measured side by side in one run:
- render_track's wall time relative to a plain ffmpeg MP3 encode of the same PCM (the floor:
  no assembly could encode faster than ffmpeg alone); target <= 1.3x;
- render_track's peak memory above the process's baseline, relative to the PCM's size,
  measured in a fresh subprocess (peak RSS, VmHWM, so numpy buffers and everything else
  count);
  target <= 1.5x.

The clips are real eSpeak NG speech (20 distinct lines by 2 voices, reused round-robin so
synthesis does not dominate the run), at eSpeak's own rate, so the joiner resamples them.

    .venv/bin/python benchmarks/assembly.py [--minutes 60] [--turns 400] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from epochpod_assets.audio import assemble
from epochpod_assets.audio.assemble import ChapterMark, Clip, TrackTags, render_track
from epochpod_assets.audio.espeak import EspeakVoice
from epochpod_assets.audio.ffmpeg import ffmpeg_exe
from epochpod_assets.providers.base import Speech, Usage

SAMPLE_RATE = 24_000
SENTENCES = [
    "The Roman Republic did not fall in a day; it was worn down by ambition and debt.",
    "Tell me, then, what did the senators believe they were defending?",
    "Caesar crossed the Rubicon with a single legion, yet the choice was made years before.",
    "Grain, land and the pay of veterans: every quarrel came back to those three things.",
    "Cicero thought words could hold the centre; the legions disagreed.",
]


def clips(minutes: float, turns: int) -> list[Clip]:
    """`turns` clips whose speech and pauses add up to about `minutes`."""
    voice = EspeakVoice()
    distinct = []
    for index in range(20):
        text = " ".join(SENTENCES[(index + k) % len(SENTENCES)] for k in range(3))
        distinct.append(voice.synthesize(text, ("onyx", "nova")[index % 2], Usage()))
    wanted = minutes * 60 / turns - 0.35  # seconds of speech per turn
    out = []
    for turn in range(turns):
        speech = distinct[turn % len(distinct)]
        # Repeat or cut the line to the length a turn of this episode has.
        need = round(wanted * speech.sample_rate) * 2
        pcm = (speech.pcm * (need // len(speech.pcm) + 1))[:need]
        out.append(Clip("Speaker", "line", Speech(pcm, speech.sample_rate), 0.35))
    return out


def tags() -> TrackTags:
    return TrackTags("Benchmark", "Epoch Pod", "Epoch Pod", "2025-01-01", "assembly benchmark")


def chapters(turns: int) -> list[ChapterMark]:
    return [ChapterMark(f"Part {n + 1}", n * turns // 8) for n in range(8)]


def plain_encode(pcm: bytes | bytearray, bitrate: str) -> float:
    """Seconds ffmpeg alone takes to encode this PCM to an MP3 file."""
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        subprocess.run(
            [
                ffmpeg_exe(),
                *("-hide_banner", "-loglevel", "error"),
                *("-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "pipe:0"),
                *("-c:a", "libmp3lame", "-b:a", bitrate, str(Path(folder) / "plain.mp3")),
            ],
            input=pcm,
            check=True,
        )
        return time.perf_counter() - started


def memory_probe(minutes: float, turns: int) -> None:
    """Run in a subprocess: render once, print peak RSS growth and the PCM size as JSON."""
    track_clips = clips(minutes, turns)
    # Sized without building it: a join here would raise the high-water mark before we start.
    pcm_bytes = 2 * sum(
        assemble._resampled_length(clip.speech, SAMPLE_RATE) + round(clip.pause_after * SAMPLE_RATE)
        for clip in track_clips
    )
    before = _rss_bytes()
    render_track(track_clips, chapters(turns), tags(), sample_rate=SAMPLE_RATE)
    peak = _peak_rss_bytes()
    print(json.dumps({"pcm_bytes": pcm_bytes, "baseline": before, "peak": peak}))


def _peak_rss_bytes() -> int:
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across fork + exec, so a
    # probe started by a parent holding the 60-minute PCM would report the parent's peak.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--turns", type=int, default=400)
    # This box's speed drifts by up to 1.5x from one minute to the next, so the pairs are
    # repeated and the median ratio is the figure; best and worst show the spread.
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bitrate", default="128k")
    parser.add_argument("--memory-probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        memory_probe(args.minutes, args.turns)
        return

    track_clips = clips(args.minutes, args.turns)
    pcm, _ = assemble._join(track_clips, SAMPLE_RATE)
    pcm_mb = len(pcm) / 1e6
    print(f"episode: {args.turns} turns, {len(pcm) / 2 / SAMPLE_RATE / 60:.1f} min, "
          f"PCM {pcm_mb:.1f} MB at {SAMPLE_RATE} Hz, MP3 {args.bitrate}")  # fmt: skip
    ratios = []
    for repeat in range(args.repeats):
        # Alternate the order so neither side always runs on a warmer machine.
        if repeat % 2 == 0:
            plain = plain_encode(pcm, args.bitrate)
            started = time.perf_counter()
            track = render_track(track_clips, chapters(args.turns), tags(), bitrate=args.bitrate)
            render = time.perf_counter() - started
        else:
            started = time.perf_counter()
            track = render_track(track_clips, chapters(args.turns), tags(), bitrate=args.bitrate)
            render = time.perf_counter() - started
            plain = plain_encode(pcm, args.bitrate)
        ratios.append(render / plain)
        print(
            f"run {repeat + 1}: plain ffmpeg encode {plain:.2f} s | render_track {render:.2f} s "
            f"(join + master + encode + tags) | ratio {render / plain:.2f}x | MP3 measures "
            f"{track.loudness.integrated_lufs} LUFS, {track.loudness.true_peak_dbtp} dBTP"
        )
    del pcm
    probe = subprocess.run(
        [sys.executable, __file__, "--memory-probe", "--minutes", str(args.minutes),
         "--turns", str(args.turns)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    memory = json.loads(probe.stdout.strip().splitlines()[-1])
    growth = memory["peak"] - memory["baseline"]
    print(
        f"time: render_track / plain encode = {statistics.median(ratios):.2f}x median "
        f"({min(ratios):.2f}x best, {max(ratios):.2f}x worst; target <= 1.3x)"
    )
    print(
        f"memory: peak RSS growth during render_track {growth / 1e6:.1f} MB = "
        f"{growth / memory['pcm_bytes']:.2f}x the PCM ({memory['pcm_bytes'] / 1e6:.1f} MB) "
        f"(target <= 1.5x)"
    )


if __name__ == "__main__":
    main()
