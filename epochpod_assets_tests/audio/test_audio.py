"""The audio package against the real eSpeak NG library and the real ffmpeg binary."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from mutagen.id3 import ID3
from mutagen.mp3 import MP3

from epochpod_assets.audio import assemble
from epochpod_assets.audio.assemble import (
    ChapterMark,
    Clip,
    Cue,
    LoudnessError,
    RenderedTrack,
    TrackTags,
    render_track,
)
from epochpod_assets.audio.beds import sting
from epochpod_assets.audio.captions import limit_problems, read_webvtt, webvtt
from epochpod_assets.audio.espeak import STYLES, EspeakVoice, clean_text
from epochpod_assets.audio.ffmpeg import Loudness, measure_loudness, run_ffmpeg
from epochpod_assets.audio.mastering import Limiter, TruePeakMeter, analyse, band_limit
from epochpod_assets.providers.base import Speech, Usage
from epochpod_assets.providers.voices import VOICES

LINE = (
    "In the spring of eighteen fifty eight, Abraham Lincoln stood before a crowded hall in "
    "Springfield and warned that a house divided against itself cannot stand. He was not yet "
    "president, and many of his own allies thought the speech was a mistake."
)


@pytest.fixture(scope="module")
def voice() -> EspeakVoice:
    return EspeakVoice()


def samples(speech: Speech) -> npt.NDArray[np.float64]:
    return np.frombuffer(speech.pcm, dtype="<i2").astype(np.float64)


def pitch_hz(speech: Speech) -> float:
    """Median fundamental frequency of the loud 40 ms frames, by autocorrelation."""
    x, rate = samples(speech), speech.sample_rate
    frame = int(0.04 * rate)
    shortest, longest = rate // 400, rate // 60
    estimates = []
    for start in range(0, len(x) - frame, frame // 2):
        window = x[start : start + frame] - x[start : start + frame].mean()
        if np.sqrt(np.mean(window**2)) < 1000:
            continue
        correlation = np.correlate(window, window, "full")[frame - 1 :]
        lag = shortest + int(np.argmax(correlation[shortest:longest]))
        if correlation[lag] > 0.3 * correlation[0]:
            estimates.append(rate / lag)
    return float(np.median(estimates))


def test_espeak_speaks_audibly_at_about_150_words_per_minute(voice: EspeakVoice) -> None:
    speech = voice.synthesize(LINE, "alloy", Usage())

    rms = np.sqrt(np.mean(samples(speech) ** 2))
    assert rms > 1000, f"speech is near silent (RMS {rms:.0f})"
    expected = len(LINE.split()) / 150 * 60
    assert expected * 0.75 < speech.duration_seconds < expected * 1.25
    assert voice.model.startswith("espeak-ng 1.")


def test_every_voice_name_has_its_own_espeak_style() -> None:
    assert set(STYLES) == set(VOICES)
    assert len(set(STYLES.values())) == len(VOICES)


def test_a_male_and_a_female_voice_differ_in_pitch(voice: EspeakVoice) -> None:
    deep = pitch_hz(voice.synthesize(LINE, "onyx", Usage()))
    bright = pitch_hz(voice.synthesize(LINE, "nova", Usage()))

    assert bright > 1.8 * deep, (deep, bright)


def test_voices_of_the_same_gender_still_differ(voice: EspeakVoice) -> None:
    pitches = {name: pitch_hz(voice.synthesize(LINE, name, Usage())) for name in ("ash", "echo")}

    assert abs(pitches["ash"] - pitches["echo"]) > 10, pitches


def test_unknown_voice_is_rejected_by_name(voice: EspeakVoice) -> None:
    with pytest.raises(ValueError, match="'galadriel'"):
        voice.synthesize("Hello.", "galadriel", Usage())


def test_usage_counts_every_call_and_character(voice: EspeakVoice) -> None:
    usage = Usage()
    voice.synthesize("Hello there.", "echo", usage)
    voice.synthesize("General Kenobi.", "fable", usage)

    assert (usage.tts_calls, usage.tts_characters, usage.usd) == (2, 27, 0.0)


def test_concurrent_calls_each_get_their_own_speech(voice: EspeakVoice) -> None:
    jobs = [(f"Line number {n}. " + LINE[: 40 + 30 * n], VOICES[n]) for n in range(8)]
    alone = [voice.synthesize(text, name, Usage()).duration_seconds for text, name in jobs]

    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda job: voice.synthesize(*job, Usage()), jobs))

    # eSpeak's timing wobbles by a few ms between runs, so compare durations: a mixed-up
    # buffer would be off by whole lines (each job is ~2 s longer than the previous one).
    for speech, seconds in zip(together, alone, strict=True):
        assert speech.duration_seconds == pytest.approx(seconds, abs=0.1)


def test_clean_text_drops_markup_and_control_characters() -> None:
    text = '<speak>Well <break time="1s"/> [laughs] *really*, no\x00w\u200b\tthen {pause}</speak>'

    assert clean_text(text) == "Well really, no w then"
    assert clean_text("Rome \u2014 then Carthage") == "Rome, then Carthage"


def test_text_with_nothing_to_say_gives_empty_speech(voice: EspeakVoice) -> None:
    assert voice.synthesize(" [pause] ", "sage", Usage()).pcm == b""


# --- render_track -------------------------------------------------------------------------

TAGS = TrackTags(
    title="Lincoln, in his own words",
    artist="Epoch Pod",
    album="Interviews",
    date="2024-05-01",
    description="A conversation about the House Divided speech.",
)


def tone_speech(seconds: float, rate: int = 24000) -> Speech:
    """A syllable-like 180 Hz buzz at OpenAI's 24 kHz, so clips arrive at mixed rates."""
    t = np.arange(int(seconds * rate)) / rate
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    wave = 6000 * envelope * np.sign(np.sin(2 * np.pi * 180 * t))
    return Speech(pcm=wave.astype("<i2").tobytes(), sample_rate=rate)


@pytest.fixture(scope="module")
def clips(voice: EspeakVoice) -> list[Clip]:
    lines = [
        ("Host", "echo", "Mister Lincoln, why did you give that speech?"),
        ("Lincoln", "onyx", "Because the country could not go on half slave and half free."),
        ("Host", "echo", "Your friends called it a mistake."),
        ("Lincoln", "onyx", "They did. I thought it was the truth, and I said so."),
    ]
    spoken = [
        Clip(who, text, voice.synthesize(text, name, Usage()), pause_after=0.5)
        for who, name, text in lines
    ]
    spoken[1] = Clip("Lincoln", spoken[1].text, spoken[1].speech, pause_after=1.5)
    return [*spoken, Clip("Music", "(sting)", tone_speech(1.2), pause_after=0.3)]


CHAPTERS = [ChapterMark("Welcome", 0), ChapterMark("The speech", 2), ChapterMark("Outro", 4)]


@pytest.fixture(scope="module")
def track(clips: list[Clip]) -> RenderedTrack:
    return render_track(clips, CHAPTERS, TAGS)


def expected_starts(clips: list[Clip]) -> list[float]:
    starts, position = [], 0.0
    for clip in clips:
        starts.append(position)
        position += clip.speech.duration_seconds + clip.pause_after
    return starts


def decoded(mp3: bytes) -> npt.NDArray[np.float64]:
    pcm = run_ffmpeg(["-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", "24000", "-"], mp3)
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def test_track_lasts_as_long_as_its_clips_and_pauses(
    track: RenderedTrack, clips: list[Clip]
) -> None:
    expected = sum(clip.speech.duration_seconds + clip.pause_after for clip in clips)

    assert track.duration_seconds == pytest.approx(expected, abs=0.01)
    assert MP3(io.BytesIO(track.mp3)).info.length == pytest.approx(expected, abs=0.1)
    assert len(decoded(track.mp3)) / 24000 == pytest.approx(expected, abs=0.1)


def test_track_meets_the_loudness_target(track: RenderedTrack) -> None:
    measured = measure_loudness(track.mp3)

    assert measured.integrated_lufs == pytest.approx(-16.0, abs=1.0)
    assert measured.true_peak_dbtp <= -1.0
    # The render measures the MP3's frames as they stream out of the encoder; a decode of the
    # file trims the encoder delay (gapless), which shifts the 400 ms gating grid slightly.
    assert track.loudness.integrated_lufs == pytest.approx(measured.integrated_lufs, abs=0.15)
    assert track.loudness.true_peak_dbtp == pytest.approx(measured.true_peak_dbtp, abs=0.15)


def test_cues_follow_the_real_audio(track: RenderedTrack, clips: list[Clip]) -> None:
    starts = expected_starts(clips)
    assert [cue.start for cue in track.cues] == pytest.approx(starts, abs=0.001)
    assert [cue.end - cue.start for cue in track.cues] == pytest.approx(
        [clip.speech.duration_seconds for clip in clips], abs=0.001
    )
    # The 1.5 s pause after the second clip is silence in the MP3; the line before is not.
    audio = decoded(track.mp3)
    pause = track.cues[1].end + 0.5, track.cues[2].start - 0.5
    speech = track.cues[1].start + 0.5, track.cues[1].end - 0.5

    def rms(span: tuple[float, float]) -> float:
        return float(np.sqrt(np.mean(audio[int(span[0] * 24000) : int(span[1] * 24000)] ** 2)))

    assert rms(pause) < 30 < 1000 < rms(speech)


def vtt_seconds(stamp: str) -> float:
    hours, minutes, seconds = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def test_webvtt_carries_speakers_and_real_times(track: RenderedTrack) -> None:
    vtt = webvtt(track.cues)

    assert vtt.startswith("WEBVTT\n\n")
    assert limit_problems(vtt) == []
    # Each line's cues tile its real time in the track: the first starts as the line does,
    # the last ends as it does, and none crosses into the pause that follows.
    cues = read_webvtt(vtt)
    for line in track.cues:
        inside = [c for c in cues if line.start - 0.001 <= c.start < line.end]
        assert inside[0].start == pytest.approx(line.start, abs=0.001)
        assert inside[-1].end == pytest.approx(line.end, abs=0.001)
        assert " ".join(" ".join(c.lines) for c in inside) == " ".join(line.text.split())
    # A 62-character line is two lines of one cue, broken where the lines come out even.
    assert "<v Lincoln>Because the country could not\ngo on half slave and half free.</v>" in vtt


def test_webvtt_escapes_markup_in_lines() -> None:
    vtt = webvtt([Cue("A&B", "x < y -->\n\nz", 0.0, 1.5)])

    assert "<v A&amp;B>x &lt; y --&gt; z</v>" in vtt
    assert "00:00:00.000 --> 00:00:01.500" in vtt


def test_id3_tags_and_chapters_read_back(track: RenderedTrack, clips: list[Clip]) -> None:
    tags = ID3(io.BytesIO(track.mp3))

    assert str(tags["TIT2"]) == TAGS.title
    assert str(tags["TPE1"]) == TAGS.artist
    assert str(tags["TALB"]) == TAGS.album
    assert str(tags["TDRC"]) == TAGS.date
    assert str(tags.getall("COMM")[0]) == TAGS.description
    toc = tags.getall("CTOC")[0]
    assert toc.child_element_ids == ["chp0", "chp1", "chp2"]
    chapters = [tags[f"CHAP:{element_id}"] for element_id in toc.child_element_ids]
    starts = expected_starts(clips)
    assert [str(chapter.sub_frames["TIT2"]) for chapter in chapters] == [
        "Welcome",
        "The speech",
        "Outro",
    ]
    assert [chapter.start_time for chapter in chapters] == [
        pytest.approx(starts[mark.first_clip] * 1000, abs=1) for mark in CHAPTERS
    ]
    assert chapters[-1].end_time == pytest.approx(track.duration_seconds * 1000, abs=1)
    assert [c.start for c in track.chapters] == pytest.approx(
        [starts[m.first_clip] for m in CHAPTERS], abs=0.001
    )


def test_render_rejects_an_empty_track() -> None:
    with pytest.raises(ValueError, match="at least one clip"):
        render_track([], [], TAGS)


def test_render_rejects_chapters_out_of_order(clips: list[Clip]) -> None:
    with pytest.raises(ValueError, match="increasing"):
        render_track(clips, [ChapterMark("B", 2), ChapterMark("A", 1)], TAGS)


def test_render_without_chapters_writes_no_table_of_contents(clips: list[Clip]) -> None:
    track = render_track(clips[:1], [], TAGS)

    assert track.chapters == []
    assert ID3(io.BytesIO(track.mp3)).getall("CTOC") == []


def test_numpy_meter_agrees_with_ffmpeg_ebur128(clips: list[Clip]) -> None:
    pcm = b"".join(clip.speech.pcm for clip in clips[:4] if clip.speech.sample_rate == 22050)
    samples = np.frombuffer(pcm, dtype="<i2")
    limiter = Limiter(samples, analyse(samples, 22050))

    reference = measure_loudness(pcm, pcm_sample_rate=22050)
    assert limiter.raw_loudness() == pytest.approx(reference.integrated_lufs, abs=0.1)


def test_peaky_quiet_speech_is_mastered_on_target_rather_than_failing(
    voice: EspeakVoice,
) -> None:
    # A deep eSpeak voice at a fifth of its level: ~21 dB of crest factor and a gain of
    # ~20 dB to find, the kind of track that used to end in LoudnessError.
    speech = voice.synthesize(LINE, "onyx", Usage())
    quiet = (np.frombuffer(speech.pcm, dtype="<i2") // 5).astype("<i2").tobytes()
    clip = Clip("Lincoln", LINE, Speech(quiet, speech.sample_rate), pause_after=0.0)

    track = render_track([clip] * 3, [], TAGS)

    measured = measure_loudness(track.mp3)
    assert measured.integrated_lufs == pytest.approx(-16.0, abs=1.0)
    assert measured.true_peak_dbtp <= -1.0


def test_band_limit_keeps_the_voice_band_and_cuts_above_it() -> None:
    rate = 24000
    t = np.arange(rate) / rate
    for hz, lowest_db, highest_db in ((1000, -0.2, 0.2), (11000, -200.0, -30.0)):
        tone = np.rint(10000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)
        out = band_limit(tone, rate, 9000)[rate // 2 :]  # past the filter's settling
        gain_db = 20 * np.log10(np.abs(out).max() / 10000)
        assert lowest_db <= gain_db <= highest_db, f"{hz} Hz: {gain_db:.1f} dB"


def test_speech_that_was_mp3_before_is_mastered_under_a_tight_ceiling(
    voice: EspeakVoice,
) -> None:
    # Speech that has been through MP3 coding once (a producer's file, a speech server that
    # answers in MP3) carries coding noise the next encode piles more peak onto: under a
    # -2 dBTP ceiling, correcting the full-band master alone often gets stuck over it.
    host = "Welcome to Epoch Pod, where history speaks for itself. My guest today is Ada Lovelace."
    noise = "Remember how the nineteenth century looked: new machines, old certainties, and "
    lines = [
        ("onyx", host),
        ("echo", "Thank you. It is a pleasure to be asked."),
        (
            "onyx",
            "How did the world of the nineteenth century shape the way you thought about engines?",
        ),
        ("echo", "My friends were curious, my critics were loud, and both of them kept me honest."),
        ("onyx", "Our listeners will find that surprising."),
        ("echo", noise + "a great deal of noise."),
    ]
    clips = [Clip("x", text, voice.synthesize(text, name, Usage()), 0.4) for name, text in lines]
    once = run_ffmpeg(
        ["-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", "24000", "pipe:1"],
        render_track(clips, [], TAGS).mp3,
    )

    track = render_track(
        [Clip("x", "all", Speech(once, 24000), 0.0)], [], TAGS, true_peak_dbtp=-2.0
    )

    measured = measure_loudness(track.mp3)
    assert measured.integrated_lufs == pytest.approx(-16.0, abs=1.0)
    assert measured.true_peak_dbtp <= -2.0


def test_a_master_the_codec_keeps_over_the_ceiling_is_band_limited_and_mastered_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    mastered: list[npt.NDArray[np.int16]] = []
    measured = Loudness(integrated_lufs=-16.2, true_peak_dbtp=-1.4, lra=2.0)

    def master_samples(samples: npt.NDArray[np.int16], *_: object) -> Loudness:
        mastered.append(samples)
        if len(mastered) == 1:
            raise LoudnessError("encoded track measures -16.9 LUFS, -0.5 dBTP")
        return measured

    monkeypatch.setattr(assemble, "_master_samples", master_samples)
    rate = 24000
    t = np.arange(rate) / rate
    speech = 8000 * np.sin(2 * np.pi * 300 * t) + 3000 * np.sin(2 * np.pi * 10500 * t)
    pcm = bytearray(np.rint(speech).astype("<i2").tobytes())

    assert assemble._master(pcm, tmp_path / "x.mp3", rate, "128k", -16.0, -1.0) == measured

    full, limited = mastered
    assert np.array_equal(full, np.frombuffer(pcm, dtype="<i2"))
    spectrum = np.abs(np.fft.rfft(limited[rate // 2 :]))
    above, below = spectrum[10500 // 2], spectrum[300 // 2]  # bins are 2 Hz apart here
    # Relative to what went in: the 10.5 kHz buzz at least 40 dB down against the voice.
    assert above / 3000 < below / 8000 / 100


def test_intro_and_outro_beds_frame_the_speech(clips: list[Clip]) -> None:
    bed = sting(24000, seconds=2.0)
    plain = render_track(clips[:2], CHAPTERS[:1], TAGS)

    framed = render_track(clips[:2], CHAPTERS[:1], TAGS, intro=bed, outro=bed)

    shift = framed.cues[0].start
    assert shift == pytest.approx(2.0 + 0.6, abs=0.01)  # the bed, then its gap
    assert [c.start - shift for c in framed.cues] == pytest.approx([c.start for c in plain.cues])
    # The gap before the outro replaces the last line's own pause.
    expected = plain.duration_seconds - clips[1].pause_after + 2 * 2.6
    assert framed.duration_seconds == pytest.approx(expected, abs=0.01)
    assert framed.chapters[0].start == 0.0  # the first chapter includes the intro


def test_bitrate_is_configurable_and_checked(clips: list[Clip]) -> None:
    track = render_track(clips[:1], [], TAGS, bitrate="64k")
    assert MP3(io.BytesIO(track.mp3)).info.bitrate == 64000
    with pytest.raises(ValueError, match="not valid at 24000 Hz"):
        render_track(clips[:1], [], TAGS, bitrate="192k")  # MPEG-2 (24 kHz) stops at 160k


def test_the_streaming_true_peak_meter_finds_peaks_between_samples() -> None:
    # A tone at a quarter of the sample rate, 45 degrees off the sample grid: every sample
    # lands at 0.707 of the crest, so the sample peak reads 3 dB under the true peak.
    rate, amplitude = 24_000, 0.5
    n = np.arange(rate * 2)
    tone = (amplitude * np.sin(2 * np.pi * n / 4 + np.pi / 4)).astype(np.float32)
    tone[: rate // 2] *= 0.25  # a quieter start, so the running threshold has to move
    meter = TruePeakMeter()
    for start in range(0, len(tone), 9_973):  # chunks that split blocks and samples' windows
        meter.feed(tone[start : start + 9_973])
    true_peak = meter.finish()
    assert 20 * np.log10(np.abs(tone).max()) == pytest.approx(
        20 * np.log10(amplitude) - 3.01, abs=0.05
    )
    assert true_peak == pytest.approx(20 * np.log10(amplitude), abs=0.1)
    # ffmpeg's ebur128 agrees on the same signal.
    pcm = np.rint(tone * 32767).astype("<i2").tobytes()
    reference = measure_loudness(pcm, pcm_sample_rate=rate)
    assert true_peak == pytest.approx(reference.true_peak_dbtp, abs=0.15)
