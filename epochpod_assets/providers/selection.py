"""Which provider does a role get: OpenAI or offline. One rule for the resources that build the
providers and for the budget that prices stages whose provider it does not hold."""

from __future__ import annotations

from typing import Literal

from epochpod_assets import settings


def uses_openai(choice: str, has_key: bool) -> bool:
    """The selection rule: OpenAI when asked for, or on "auto" when a key is set."""
    return choice == "openai" or (choice == "auto" and has_key)


def planned_provider(role: Literal["writer", "voice"]) -> tuple[str, str]:
    """(provider, model) that `resources_from_env` picks for `role`, without building it.

    The budget uses it to price stages whose provider the current asset does not hold.
    """
    config = settings.load()
    has_key = config.endpoint("llm" if role == "writer" else "tts")[1] is not None
    if role == "writer":
        choice, model = config.writer, config.llm_model
    else:
        choice, model = config.voice, config.tts_model
    return ("openai" if uses_openai(choice, has_key) else "offline", model)
