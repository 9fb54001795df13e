"""Integrity on the OpenAI path (the real client against FakeOpenAI on loopback): a model that
writes an anachronism has the line rewritten before any speech is bought, and one that keeps
writing it fails the episode with the finding as its reason, with no audio paid for; research
keeps only the facts whose quoted passage is really in the source."""

from __future__ import annotations

import json
import threading
from typing import Any

import dagster as dg
import pytest

from epochpod_assets import enqueue
from epochpod_assets.defs.assets.episodes import episode_outline, episode_script
from epochpod_assets.defs.assets.research import episode_research
from epochpod_assets.defs.checks import script_claims_are_supported, script_respects_time_guard
from epochpod_assets.defs.resources import resources_from_env
from epochpod_assets.formats.interview import format as interview_format
from epochpod_assets.history.grounding import spoken_lines
from epochpod_assets.intake import open_catalog
from epochpod_assets.storage import episode_key
from epochpod_assets_tests.support.fake_openai import FakeOpenAI
from epochpod_assets_tests.support.template_model import fields_of, prompt_of, template_responder

KEY = "sk-test-integrity"
ANACHRONISM = "In 1945 I watched the atomic bomb end the war."
SOURCE = interview_format.InterviewFormat().demo_request()["sources"][0]["location"]


def interview(minutes: float) -> dict[str, Any]:
    return {
        "format": "interview",
        "guest_name": "Albert Einstein",
        "topic": "the theory of relativity",
        "as_of": "1921",
        "sources": [{"location": SOURCE}],
        "target_minutes": minutes,
    }


class AnachronisticModel:
    """The template model, except that the first script (or the first body part) it writes
    has the guest say something from 1945; with `stubborn`, its rewrites keep saying it."""

    def __init__(self, server: list[FakeOpenAI], stubborn: bool = False) -> None:
        self.server = server
        self.stubborn = stubborn
        self.injected = False
        self.speech_calls_at_rewrite: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> str:
        fields = fields_of(prompt_of(body))
        task = fields.get("Task", "")
        if task == "history.rewrite":
            speech = sum(1 for r in self.server[0].requests if r.endpoint == "speech")
            self.speech_calls_at_rewrite.append(speech)
            if self.stubborn:
                failing = json.loads(fields["Rewrite JSON"])
                # The same lines back, in the rewrite's wire shape (one property per line).
                return json.dumps(
                    {f"line_{x['number']}": {"text": x["text"], "facts": []} for x in failing}
                )
        return template_responder(body, alter=self.alter)

    def alter(self, task: str, answer: Any) -> Any:
        """The guest's first line in the first script (or first body part) gets the
        anachronism."""
        if task not in ("interview.script", "interview.section"):
            return answer
        lines = list(spoken_lines(answer))
        guest = [x for x in lines if x.speaker == "Albert Einstein" and len(x.text.split()) > 12]
        if not guest:
            return answer
        with self._lock:
            if self.injected:
                return answer
            self.injected = True
        guest[0].text = f"{ANACHRONISM} {guest[0].text}"
        return answer


def run(
    monkeypatch: pytest.MonkeyPatch, request: dict[str, Any], model: AnachronisticModel
) -> tuple[dg.ExecuteInProcessResult, str, FakeOpenAI]:
    holder: list[FakeOpenAI] = []
    model.server = holder
    with FakeOpenAI(api_key=KEY, responder=model) as server:
        holder.append(server)
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("EPOCHPOD_RATE_LIMITS", '{"tts-1": {"rpm": 6000}}')
        db = open_catalog()
        episode_id = enqueue(request, db)
        with dg.instance_for_test() as instance:
            instance.add_dynamic_partitions("episodes", [episode_id])
            result = dg.materialize(
                [
                    episode_research,
                    episode_outline,
                    episode_script,
                    script_respects_time_guard,
                    script_claims_are_supported,
                ],
                partition_key=episode_id,
                instance=instance,
                resources=resources_from_env(),
                raise_on_error=False,
            )
    return result, episode_id, server


def test_a_part_with_an_anachronism_is_rewritten_before_its_speech_is_bought(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Ten minutes: written part by part, each part spoken as soon as it passes its checks.
    model = AnachronisticModel([])
    result, episode_id, server = run(monkeypatch, interview(10), model)

    assert result.success
    assert model.injected and len(model.speech_calls_at_rewrite) == 1
    spoken = [r.body["input"] for r in server.requests if r.endpoint == "speech"]
    assert spoken, "the parts were spoken at the script stage"
    assert not any("atomic bomb" in text or "1945" in text for text in spoken)
    metadata = result.asset_materializations_for_node("episode_script")[0].metadata
    assert metadata["integrity_rewrites"].value == 1
    assert metadata["anachronisms"].value == 0
    rewritten = str(metadata["findings_rewritten"].value)
    assert "atomic bomb" in rewritten and "| lexicon |" in rewritten  # labelled by its check
    assert "1945" in rewritten and "| date |" in rewritten
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["script_respects_time_guard"].passed
    assert checks["script_claims_are_supported"].passed
    guard = checks["script_respects_time_guard"].metadata
    assert "atomic bomb" in str(guard["rewritten_before_speech"].value)
    script = json.loads(_media(episode_id, "script.json"))
    text = json.dumps(script)
    assert "atomic bomb" not in text
    cited = {fact for s in script["sections"] for x in s["lines"] for fact in x["facts"]}
    assert cited, "the guest's lines cite the fact sheet"


def test_a_model_that_keeps_the_anachronism_fails_the_episode_before_any_audio(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EPOCHPOD_INTEGRITY_MAX_REWRITES", "1")
    model = AnachronisticModel([], stubborn=True)
    result, episode_id, server = run(monkeypatch, interview(1), model)

    assert not result.success
    assert model.speech_calls_at_rewrite == [0]
    assert server.stats().speech_billed == 0
    row = open_catalog().get(episode_id)
    assert row is not None and row["generation_status"] == "FAILED"
    error = row["generation_error"]
    assert error.startswith("script failed: interview script failed the integrity checks: ")
    assert "anachronism 'atomic bomb'" in error and "anachronism '1945'" in error


def test_research_keeps_only_facts_whose_quote_is_in_the_source(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = (
        "In June 1902 Einstein took a post as a technical expert at the Swiss federal patent "
        "office in Bern."
    )

    def responder(body: dict[str, Any]) -> str:
        if fields_of(prompt_of(body)).get("Task") != "history.research":
            return template_responder(body)
        facts = [
            {"text": "Einstein joined the patent office.", "date": "1902", "quote": real,
             "location": "paragraph 4"},
            {"text": "Einstein met Lenin.", "date": "1916", "location": "paragraph 5",
             "quote": "In 1916 Einstein met Lenin in a Zurich cafe."},
        ]  # fmt: skip
        return json.dumps({"facts": facts})

    with FakeOpenAI(api_key=KEY, responder=responder) as server:
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        db = open_catalog()
        episode_id = enqueue(interview(1), db)
        with dg.instance_for_test() as instance:
            instance.add_dynamic_partitions("episodes", [episode_id])
            result = dg.materialize(
                [episode_research],
                partition_key=episode_id,
                instance=instance,
                resources=resources_from_env(),
            )
        research_calls = [r for r in server.requests if "history.research" in str(r.body)]
    research = json.loads(_media(episode_id, "research.json"))
    facts = research["sheet"]["facts"]
    assert [f["text"] for f in facts] == ["Einstein joined the patent office."]
    assert facts[0]["sourced"] and facts[0]["quote"] == real
    assert facts[0]["location"] == "paragraph 4" and facts[0]["source_id"] == 1
    metadata = result.asset_materializations_for_node("episode_research")[0].metadata
    assert metadata["quotes_not_in_source_dropped"].value == 1
    assert metadata["sourced_share"].value == 1.0
    assert metadata["llm_calls"].value == len(research_calls) >= 1
    row = db.get(episode_id)
    assert row is not None and row["fact_sheet"]["facts"][0]["id"] == 1
    # The file by its name only: the enqueuing machine's path is nobody's business.
    assert row["sources"] == ["[1] Albert Einstein up to 1921. demo_source.md"]


def _media(episode_id: str, name: str) -> bytes:
    from epochpod_assets.defs.resources import MediaResource

    return MediaResource().get().get(episode_key(episode_id, name))
