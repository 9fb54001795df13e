"""Captions people can read and tracks that match their words: cue limits and timing, chapter
frames stored and listed in time order, track numbers."""

from __future__ import annotations

import io
import itertools

import pytest
from mutagen.id3 import ID3

from epochpod_assets.audio.assemble import (
    ChapterMark,
    Clip,
    Cue,
    TrackTags,
    chapters_in_order,
    render_track,
)
from epochpod_assets.audio.captions import (
    MAX_CUE_SECONDS,
    MAX_LINE_CHARS,
    captions,
    limit_problems,
    webvtt,
    wrap,
)
from epochpod_assets.audio.espeak import EspeakVoice
from epochpod_assets.audio.trackcheck import (
    ffmpeg_chapters,
    mp3_problems,
    numbering_problems,
    stored_frames,
    track_number,
)
from epochpod_assets.providers.base import Usage

# One adventure node's narration, spoken over 61.9 s: the single cue the issue found.
NARRATION = (
    "You stand on the quay at Alexandria in 48 BC, as the ships of Caesar's fleet come in "
    "under a grey sky. The harbour smells of pitch and salt; soldiers shout in Latin, and the "
    "crowd around you presses closer to see the Roman general step ashore. Somewhere behind "
    "you, the great library holds its breath — its scrolls stacked to the rafters, its "
    "scholars unaware of the fire to come. A boy tugs at your sleeve. He says the queen, "
    "Cleopatra VII, wants a message carried to the palace before nightfall. If you choose to "
    "carry the message, go to track 2. If you choose to stay and watch the ships, go to "
    "track 3."
)


def test_a_long_segment_becomes_readable_cues_that_tile_its_time() -> None:
    segment = Cue("Narrator", NARRATION, 2.0, 63.9)
    cues = captions([segment])

    assert len(cues) > 8
    assert all(len(cue.lines) <= 2 for cue in cues)
    assert all(len(line) <= MAX_LINE_CHARS for cue in cues for line in cue.lines)
    assert all(cue.end - cue.start <= MAX_CUE_SECONDS for cue in cues)
    assert cues[0].start == 2.0 and cues[-1].end == 63.9
    assert all(a.end == b.start for a, b in itertools.pairwise(cues))
    assert " ".join(cue.text for cue in cues) == " ".join(NARRATION.split())
    assert {cue.speaker for cue in cues} == {"Narrator"}
    # Cues end at sentence ends or clause boundaries wherever the limits allow.
    ends = [cue.text[-1] for cue in cues[:-1]]
    assert sum(end in ".,;—" for end in ends) >= len(ends) - 2


def test_cue_times_follow_the_spoken_length_not_the_written_one() -> None:
    # "1066" is one written word but three spoken ones: its cue gets the time they take.
    short = "In 1066 a king died."  # spoken: "In ten sixty-six a king died."
    long = "Then for a very long while nothing much happened anywhere in the kingdom at all."
    cues = captions([Cue("Host", f"{short} {long}", 0, 6.0)])
    assert [c.text for c in cues] == [short, long]
    written_share = len(short) / (len(short) + 1 + len(long))
    assert cues[0].end - cues[0].start > 6.0 * written_share * 1.2


def test_slow_speech_is_cut_to_seven_seconds_even_inside_a_sentence() -> None:
    cues = captions([Cue("Host", "Well, I never thought I would see the day.", 0.0, 16.0)])
    assert len(cues) >= 3
    assert all(cue.end - cue.start <= MAX_CUE_SECONDS for cue in cues)
    assert " ".join(c.text for c in cues) == "Well, I never thought I would see the day."


def test_wrap_balances_two_lines_and_refuses_three() -> None:
    assert wrap("Short line.") == ("Short line.",)
    assert wrap("Because the country could not go on half slave and half free.") == (
        "Because the country could not",
        "go on half slave and half free.",
    )
    assert wrap("word " * 30) is None


def test_webvtt_keeps_written_text_and_speaker_spans() -> None:
    vtt = webvtt([Cue("Dr. Who & Co", "Louis XIV & the 1660s: a <b>golden</b> age.", 0, 4)])
    assert (
        "<v Dr. Who &amp; Co>Louis XIV &amp; the 1660s:\na &lt;b&gt;golden&lt;/b&gt; age.</v>"
        in vtt
    )
    assert limit_problems(vtt) == []


def test_limit_problems_finds_each_kind_of_breach() -> None:
    bad = (
        "WEBVTT\n\n1\n00:00:00.000 --> 00:00:08.000\n<v A>short</v>\n\n"
        "2\n00:00:08.000 --> 00:00:09.000\n<v A>one\ntwo\nthree</v>\n\n"
        f"3\n00:00:09.000 --> 00:00:10.000\n<v A>{'x' * 43}</v>\n"
    )
    problems = limit_problems(bad)
    assert [p.split(" ")[1] for p in problems] == ["1", "2", "3"]


@pytest.fixture(scope="module")
def chaptered_mp3() -> bytes:
    voice = EspeakVoice()
    texts = ["Welcome to the show.", "Now the middle part.", "And that is all."]
    clips = [Clip("Host", t, voice.synthesize(t, "alloy", Usage()), 0.3) for t in texts]
    # Titles whose sizes run against their order: mutagen alone would store them
    # "Closing", "Introduction to everything", "Middle part one" (by frame size).
    marks = [
        ChapterMark("Introduction to everything", 0),
        ChapterMark("Middle part one", 1),
        ChapterMark("Closing", 2),
    ]
    tags = TrackTags("Node", "Epoch Pod", "Adventures", "2024-01-01", "d", track="4/7")
    return render_track(clips, marks, tags).mp3


def test_chapters_are_stored_and_listed_in_time_order(chaptered_mp3: bytes) -> None:
    titles = ["Introduction to everything", "Middle part one", "Closing"]
    chap = [f for f in stored_frames(chaptered_mp3) if f.frame_id == "CHAP"]
    assert [f.title for f in chap] == titles
    assert [f.start_ms for f in chap] == sorted(f.start_ms or 0 for f in chap)
    listed = ffmpeg_chapters(chaptered_mp3)
    assert [title for _, title in listed] == titles
    assert listed[0][0] == 0.0 and listed[1][0] < listed[2][0]
    assert mp3_problems(chaptered_mp3) == []


def test_plain_mutagen_would_store_them_out_of_order(chaptered_mp3: bytes) -> None:
    # The defect the reordering fixes, shown on the same tag saved by mutagen alone.
    tags = ID3(io.BytesIO(chaptered_mp3))
    plain = io.BytesIO()
    tags.save(plain)
    titles = [f.title for f in stored_frames(plain.getvalue()) if f.frame_id == "CHAP"]
    assert titles != ["Introduction to everything", "Middle part one", "Closing"]
    assert sorted(titles, key=len) == titles  # smallest frame first


def test_chapters_in_order_keeps_other_frames_in_place(chaptered_mp3: bytes) -> None:
    tags = ID3(io.BytesIO(chaptered_mp3))
    plain = io.BytesIO()
    tags.save(plain)
    data = plain.getvalue()
    size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
    frames = data[10 : 10 + size]
    fixed = chapters_in_order(frames)
    assert len(fixed) == len(frames)
    before = [f.frame_id for f in stored_frames(data)]
    after = [f.frame_id for f in stored_frames(data[:10] + fixed + data[10 + size :])]
    assert before == after


def test_numbered_tracks_carry_trck(chaptered_mp3: bytes) -> None:
    assert track_number(chaptered_mp3) == "4/7"


def test_numbering_problems() -> None:
    assert numbering_problems({"n1.mp3": "1/3", "n2.mp3": "2/3", "n3.mp3": "3/3"}) == []
    assert numbering_problems({"n1.mp3": "2/3", "n2.mp3": "1/3", "n3.mp3": "3/3"}) == [
        "n1.mp3 is tagged track 2/3",
        "n2.mp3 is tagged track 1/3",
    ]
    assert numbering_problems({"n1.mp3": "1/3", "n2.mp3": "2/3"}) == [
        "track numbers ['1/3', '2/3'] are not 1/2..2"
    ]
