"""The normalizer and lexicon on the voice path: what each voice is sent, what the segment
cache keys on, and what the duration estimate counts. Captions keep the written text."""

# ruff: noqa: RUF001 - IPA in these strings is the point

from __future__ import annotations

import json
from pathlib import Path

import pytest

from epochpod_assets.audio.espeak import EspeakVoice, clean_text
from epochpod_assets.audio.segments import SegmentCache
from epochpod_assets.cli import main
from epochpod_assets.formats.base import WORDS_PER_MINUTE, count_words
from epochpod_assets.providers.base import Speech, Usage
from epochpod_assets.providers.openai_voice import OpenAIVoice
from epochpod_assets.providers.pricing import load_prices
from epochpod_assets.requests import RequestError, parse_request
from epochpod_assets.speech.lexicon import Lexicon, Pronunciation, for_episode
from epochpod_assets.speech.normalize import spoken_words
from epochpod_assets.storage import LocalMediaStore
from epochpod_assets_tests.support.fake_openai import FakeOpenAI


class RecordingVoice:
    """Says nothing; remembers what it was sent."""

    def __init__(self, provider: str = "openai") -> None:
        self.provider = provider
        self.model = "recorder"
        self.sent: list[str] = []

    def synthesize(
        self, text: str, voice: str, usage: Usage, instructions: str | None = None
    ) -> Speech:
        self.sent.append(text)
        return Speech(pcm=b"\0\0" * 100, sample_rate=8000)


LINES = [
    "Louis XIV built Versailles in the 1660s.",
    "Cicero died in 43 BC.",
    "The weather was fine.",
]


def test_every_voice_is_sent_the_normalized_respelled_text(tmp_path: Path) -> None:
    voice = RecordingVoice()
    lexicon = Lexicon({"Versailles": "Vair-sigh", "Cicero": "Sisseroh"})
    cache = SegmentCache(voice, LocalMediaStore(tmp_path), Usage(), lexicon)
    for line in LINES:
        cache.speak(line, "alloy")
    assert voice.sent == [
        "Louis the Fourteenth built Vair-sigh in the sixteen sixties.",
        "Sisseroh died in forty-three B C.",
        "The weather was fine.",
    ]


def test_openai_is_sent_the_respelling_and_bills_what_it_was_sent(tmp_path: Path) -> None:
    lexicon = Lexicon({"Cicero": Pronunciation(say="Sisseroh", ipa="ˈsɪsəroʊ")})
    with FakeOpenAI(api_key="sk-test") as server:
        voice = OpenAIVoice(
            api_key="sk-test", base_url=server.base_url, timeout=5.0, prices=load_prices(None)
        )
        usage = Usage()
        cache = SegmentCache(voice, LocalMediaStore(tmp_path), usage, lexicon)
        cache.speak("Cicero died in 43 BC, aged 63.", "alloy")
        cache.speak("Cicero died in 43 BC, aged 63.", "alloy")  # from the cache
        inputs = [r.body["input"] for r in server.requests if r.endpoint == "speech"]
        assert server.stats().speech_billed == 1
    said = "Sisseroh died in forty-three B C, aged sixty-three."
    assert inputs == [said]
    assert usage.tts_characters == len(said)


def test_changing_one_pronunciation_revoices_only_the_lines_that_use_it(tmp_path: Path) -> None:
    store = LocalMediaStore(tmp_path)
    voice = RecordingVoice()
    before = Lexicon({"Cicero": "Sisseroh", "Versailles": "Vair-sigh"})
    cache = SegmentCache(voice, store, Usage(), before)
    for line in LINES:
        cache.speak(line, "alloy")
    assert cache.misses == 3

    after = before.merged({"Cicero": "Kikero"})
    again = SegmentCache(voice, store, Usage(), after)
    for line in LINES:
        again.speak(line, "alloy")
    assert (again.hits, again.misses) == (2, 1)
    assert voice.sent[-1] == "Kikero died in forty-three B C."


def test_espeak_gets_ipa_as_phonemes_and_speaks_them(tmp_path: Path) -> None:
    espeak = EspeakVoice()
    lexicon = Lexicon({"Cicero": Pronunciation(say="Sisseroh", ipa="ˈkɪkəroʊ")})
    cache = SegmentCache(espeak, LocalMediaStore(tmp_path), Usage(), lexicon)
    said = cache.said("Cicero spoke [[loudly]].")
    assert said.startswith("[[") and "Sisseroh" not in said
    # A script's own double brackets are not phonemes: they are cleaned away as text.
    assert "[[loudly]]" not in said and "loudly" not in clean_text(said)
    assert clean_text(said).startswith(said[: said.index("]]") + 2])
    phonemes = cache.speak("Cicero spoke.", "alloy")
    respelled = espeak.synthesize("Sisseroh spoke.", "alloy", Usage())
    spelled_out = espeak.synthesize(said.replace("[[", "").replace("]]", ""), "alloy", Usage())
    assert phonemes.duration_seconds > 0.5
    # Read as phonemes, the name takes about as long as the word; read as letters, longer.
    assert phonemes.pcm != respelled.pcm
    assert phonemes.duration_seconds < spelled_out.duration_seconds


def test_requests_take_pronunciations_and_name_bad_ones() -> None:
    request = parse_request(
        {
            "format": "interview",
            "guest_name": "Cicero",
            "topic": "the republic",
            "pronunciations": {"Cicero": {"say": "Kikero", "ipa": "ˈkɪkəroʊ"}, "Tiro": "Tie-roh"},
        }
    )
    lexicon = for_episode(request)
    assert lexicon["Cicero"].say == "Kikero" and lexicon["Tiro"].say == "Tie-roh"
    assert lexicon["Thucydides"].say  # the built-in entries are there too
    plain = parse_request({"format": "interview", "guest_name": "Cicero", "topic": "law"})
    assert "pronunciations" not in plain.model_dump()  # stored as before when unused
    with pytest.raises(RequestError, match=r"pronunciations\.Tiro"):
        parse_request(
            {
                "format": "interview",
                "guest_name": "Cicero",
                "topic": "law",
                "pronunciations": {"Tiro": "<break/>"},
            }
        )


SYMBOLS = (
    "In 1066, 7,000 men crossed; by 1086, 45% of the land had new lords. "
    "In 44 BC and AD 79, c. 1500 and the 1920s, Louis XIV paid $2.50 for No. 9 on 14 July 1789."
)


def test_the_duration_estimate_counts_what_the_voice_says(tmp_path: Path) -> None:
    """A line full of numbers and symbols: estimated from written words it is far too short
    for the speech it makes (the duration check failed after all the audio was made);
    estimated from spoken words it is within the check's tolerance."""
    cache = SegmentCache(EspeakVoice(), LocalMediaStore(tmp_path), Usage(), Lexicon())
    seconds = cache.speak(SYMBOLS, "alloy").duration_seconds
    written = count_words(SYMBOLS) / WORDS_PER_MINUTE * 60
    said = spoken_words(SYMBOLS) / WORDS_PER_MINUTE * 60
    assert abs(seconds - written) > 0.2 * written
    assert abs(seconds - said) <= 0.2 * said


def test_enqueue_say_adds_pronunciations(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "enqueue", "interview", "--guest", "Cicero", "--topic", "the republic",
            "--say", "Cicero=Sisseroh=ˈsɪsəroʊ", "--say", "Tiro=Tie-roh", "--json",
        ]
    )  # fmt: skip
    assert code == 0
    request = json.loads(capsys.readouterr().out)["request"]
    assert request["pronunciations"] == {
        "Cicero": {"say": "Sisseroh", "ipa": "ˈsɪsəroʊ"},
        "Tiro": {"say": "Tie-roh"},
    }
    assert main(["enqueue", "interview", "--guest", "C", "--topic", "t", "--say", "Tiro"]) == 2
    assert "--say: expected WORD=RESPELLING" in capsys.readouterr().err
