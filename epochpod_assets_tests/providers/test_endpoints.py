"""Writing and speech on separate OpenAI-compatible servers (a local chat server, a Kokoro-like
speech server with its own voice names), priced at $0 and labelled so."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest

from epochpod_assets import enqueue, settings
from epochpod_assets.defs.resources import pricing_notes
from epochpod_assets.intake import open_catalog
from epochpod_assets.providers.base import ProviderError
from epochpod_assets.providers.openai_voice import OpenAIVoice
from epochpod_assets.providers.pricing import TokenPrice, load_prices
from epochpod_assets_tests.scenarios.test_openai_pipeline import (
    REQUESTS,
    catalog_ledger,
    materialize,
)
from epochpod_assets_tests.support.fake_openai import FakeOpenAI
from epochpod_assets_tests.support.template_model import template_responder

KOKORO_VOICES = ("af_bella", "am_adam", "bf_emma", "bm_george")


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def test_a_local_chat_server_writes_and_a_local_speech_server_speaks(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        FakeOpenAI(api_key="ollama", responder=template_responder) as chat,
        FakeOpenAI(api_key="kokoro", voices=KOKORO_VOICES) as speech,
    ):
        for name, value in {
            "EPOCHPOD_LLM_BASE_URL": chat.base_url,
            "EPOCHPOD_LLM_API_KEY": "ollama",
            "EPOCHPOD_LLM_MODEL": "llama3.1:8b",
            "EPOCHPOD_TTS_BASE_URL": speech.base_url,
            "EPOCHPOD_TTS_API_KEY": "kokoro",
            "EPOCHPOD_TTS_MODEL": "kokoro",
            "EPOCHPOD_TTS_VOICES": ",".join(KOKORO_VOICES),
            "EPOCHPOD_TTS_VOICE_MAP": "onyx=bm_george",  # the host; the guest (echo) wraps
            "EPOCHPOD_OPENAI_TIMEOUT": "5",
        }.items():
            monkeypatch.setenv(name, value)
        db = open_catalog()
        episode_id = enqueue(REQUESTS["interview"], db)

        result = materialize(instance, episode_id)

        assert result.success
        assert chat.stats().calls.keys() == {"chat"} and speech.stats().calls.keys() == {"speech"}
        voices = {r.body["voice"] for r in speech.requests}
        # echo is OpenAI's 4th voice: the 4th of the Kokoro voices no pair claims, wrapping.
        assert voices == {"bm_george", "af_bella"}
        assert {r.body["model"] for r in speech.requests} == {"kokoro"}
    ledger = catalog_ledger(db, [episode_id])
    assert ledger.llm_calls > 0 and ledger.tts_characters > 0
    assert ledger.usd == 0  # a machine you run: no OpenAI list price
    metadata = {
        e.asset_key.path[-1]: e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert metadata["episode_script"]["writer_pricing"].value.startswith("$0: local endpoint")
    assert metadata["episode_audio"]["voice_pricing"].value.startswith("$0: local endpoint")
    assert [note.split(":")[0] for note in pricing_notes()] == [
        "writer llama3.1",
        "voice kokoro",
    ]
    assert all("$0: local endpoint 127.0.0.1" in note for note in pricing_notes())


def test_prices_on_a_server_that_is_not_openai() -> None:
    prices = load_prices(None).for_endpoint("http://gpu-box:8000/v1")
    # A model OpenAI sells keeps its list price wherever it is served (a gateway passes the
    # bill on); anything else is free unless the operator prices it.
    assert prices.llm_usd("gpt-4o-mini", 1_000_000, 0) == 0.15
    assert prices.llm_usd("qwen2.5-7b-instruct", 1_000_000, 1_000_000) == 0
    assert prices.tts_usd("kokoro", 1_000_000) == 0
    assert prices.note("llm", "qwen2.5-7b-instruct").startswith("$0: local endpoint gpu-box")
    priced = load_prices('{"llm": {"qwen2.5-7b-instruct": {"input": 0.1, "output": 0.2}}}')
    local = priced.for_endpoint("http://gpu-box:8000/v1")
    assert local.llm == priced.llm and local.fallback_llm == TokenPrice(0, 0)
    assert local.llm_usd("qwen2.5-7b-instruct", 1_000_000, 0) == pytest.approx(0.1)
    assert local.note("llm", "qwen2.5-7b-instruct").startswith("EPOCHPOD_PRICES price")
    # OpenAI's own API keeps the dearest-rate fallback for a model the table does not know.
    assert load_prices(None).for_endpoint(None).tts_usd("new-tts", 1_000_000) == 30.0


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("EPOCHPOD_TTS_VOICE_MAP", "onyx:am_adam", "is not request voice=server voice"),
        ("EPOCHPOD_TTS_VOICE_MAP", "narrator=am_adam", "is not request voice=server voice"),
        ("EPOCHPOD_TTS_VOICES", "af bella", "is not a voice name"),
        ("EPOCHPOD_LLM_BASE_URL", "localhost:11434", "is not a URL of that kind"),
    ],
)
def test_a_bad_endpoint_setting_names_its_variable(
    name: str, value: str, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(settings.SettingsError) as error:
        settings.reload()
    assert error.value.problems[0].startswith(f"{name}=") and says in error.value.problems[0]


def test_each_endpoint_defaults_to_openais(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://example.com/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-shared")
    monkeypatch.setenv("EPOCHPOD_TTS_BASE_URL", "http://127.0.0.1:8880/v1")
    config = settings.reload()
    llm_url, llm_key = config.endpoint("llm")
    tts_url, tts_key = config.endpoint("tts")
    assert llm_url == "https://example.com/v1" and tts_url == "http://127.0.0.1:8880/v1"
    assert llm_key is not None and tts_key is not None
    assert llm_key.get_secret_value() == tts_key.get_secret_value() == "sk-shared"


def test_a_mapped_voice_is_its_own_entry_in_the_segment_cache() -> None:
    """Re-mapping a request voice to another server voice must re-synthesize, not replay."""
    plain = OpenAIVoice(api_key="k", model="tts-1")
    mapped = OpenAIVoice(
        api_key="k",
        model="kokoro",
        base_url="http://127.0.0.1:8880/v1",
        voices=KOKORO_VOICES,
        voice_map={"onyx": "bm_george"},
    )
    assert plain.voice_identity("onyx") == "onyx"  # OpenAI users keep their cached segments
    assert mapped.voice_identity("onyx") == "onyx=bm_george"
    assert mapped.voice_identity("echo") == "echo=af_bella"
    with pytest.raises(ProviderError, match="no voice 'cedar'"):
        OpenAIVoice(api_key="k", model="tts-1").server_voice("cedar")
    plain.close()
    mapped.close()
