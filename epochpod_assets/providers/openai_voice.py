"""The production voice: OpenAI's speech endpoint (`tts-1`, `tts-1-hd`, `gpt-4o-mini-tts`).

It asks for raw PCM (24 kHz, s16le, mono) so the episode is encoded to MP3 once, at the end,
instead of decoding and re-encoding every segment. The endpoint takes at most 4,096 characters,
so longer text is split at sentence ends (at spaces if one sentence is too long) and the PCM
joined. Retries and error messages follow the writer's rules (see openai_writer).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence

import openai

from epochpod_assets.providers.base import ProviderError, Speech, Usage
from epochpod_assets.providers.openai_writer import (
    DEFAULT_MAX_RETRIES,
    OpenAIProvider,
    call_openai,
)
from epochpod_assets.providers.pricing import Prices, is_openai_endpoint
from epochpod_assets.providers.ratelimit import RateLimiter
from epochpod_assets.providers.voices import VOICES

DEFAULT_MODEL = "tts-1"
DEFAULT_TIMEOUT = 120.0
SAMPLE_RATE = 24_000  # what OpenAI's "pcm" format is
MAX_INPUT_CHARS = 4_096
# tts-1 and tts-1-hd know only the first nine voices; gpt-4o-mini-tts knows all of them.
CLASSIC_VOICES = VOICES[:9]

# A sentence ends at . ! ? or … (plus closing quotes or brackets) followed by whitespace; a
# line break ends one too. The whitespace stays with the sentence so the pieces join back
# into the original text exactly, and every character is billed once.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'\u201d\u2019)\]]*\s+|\n\s*")
_WORD_END = re.compile(r"\s+")


class OpenAIVoice(OpenAIProvider):
    """Speaks text with an OpenAI-compatible speech API and reports the characters it paid for.

    Requests name OpenAI's voices (they are the cast's roles: host `onyx`, guest `echo`, ...).
    Another server (Kokoro-FastAPI, openedai-speech, LocalAI) has its own names: `voices` lists
    them, and `voice_map` says which speaks for which request voice; a request voice with no
    pair takes, of the server voices no pair claims, the one at its own position in OpenAI's
    list (wrapping around): the same from episode to episode, and distinct from the mapped.
    """

    default_model = DEFAULT_MODEL

    def __init__(
        self,
        api_key: str,
        model: str | None = None,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        prices: Prices | None = None,
        limiter: RateLimiter | None = None,
        *,
        voices: Sequence[str] = (),
        voice_map: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(api_key, model, base_url, timeout, max_retries, prices, limiter)
        self.voices = tuple(voices)
        self.voice_map = dict(voice_map or {})

    def synthesize(
        self, text: str, voice: str, usage: Usage, instructions: str | None = None
    ) -> Speech:
        speaks = self.server_voice(voice)
        # Only gpt-4o-mini-tts can be steered; the tts-1 models reject `instructions`.
        steer = instructions if self.model.startswith("gpt-4o-mini-tts") else None
        chunks = [chunk for chunk in split_for_speech(text) if chunk.strip()]
        pcm = b"".join(self._speak(chunk, speaks, steer, usage) for chunk in chunks)
        return Speech(pcm=pcm, sample_rate=SAMPLE_RATE)

    def voice_identity(self, voice: str) -> str:
        """What the segment cache keys on: the request's voice, and the server's voice when
        that is another name (so a changed voice map is never answered from the cache)."""
        speaks = self.server_voice(voice)
        return voice if speaks == voice else f"{voice}={speaks}"

    def server_voice(self, voice: str) -> str:
        """The server's name for the request's `voice`; ProviderError if it has none."""
        if voice in self.voice_map:
            speaks = self.voice_map[voice]
        elif self.voices and voice not in self.voices and voice in VOICES:
            # The server voices no pair claims, so a mapped role keeps its voice to itself.
            free = [v for v in self.voices if v not in self.voice_map.values()] or self.voices
            speaks = free[VOICES.index(voice) % len(free)]
        else:
            speaks = voice
        if self.voices:
            known: Sequence[str] | None = self.voices
        elif self.model in ("tts-1", "tts-1-hd"):
            known = CLASSIC_VOICES
        elif self.model.startswith("gpt-4o-mini-tts") or is_openai_endpoint(self.base_url):
            known = VOICES
        else:
            known = None  # another server's names are its own business: it answers 400 if bad
        if known is not None and speaks not in known:
            raise ProviderError(
                f"{self.model} has no voice {speaks!r}; choose one of {', '.join(known)}"
            )
        return speaks

    def _speak(self, text: str, voice: str, instructions: str | None, usage: Usage) -> bytes:
        response = call_openai(
            lambda: self._client.audio.speech.create(
                model=self.model,
                voice=voice,
                input=text,
                instructions=instructions or openai.omit,
                response_format="pcm",
            ),
            doing=f"speaking {len(text)} characters",
            api_key=self._api_key,
        )
        usage.add_tts(len(text), self.prices.tts_usd(self.model, len(text)))
        pcm = response.content
        # A half sample would shift every later sample of the join by one byte: noise.
        return pcm[: len(pcm) - len(pcm) % 2]


def split_for_speech(text: str, limit: int = MAX_INPUT_CHARS) -> list[str]:
    """Pieces of at most `limit` characters that join back into `text` exactly.

    Cuts fall after sentence ends where possible, else after spaces, else (one word longer
    than `limit`) anywhere.
    """
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    for sentence in _cut_after(text, _SENTENCE_END):
        if len(sentence) <= limit:
            pieces.append(sentence)
            continue
        for word in _cut_after(sentence, _WORD_END):
            pieces += [word[start : start + limit] for start in range(0, len(word), limit)]
    return _pack(pieces, limit)


def _cut_after(text: str, boundary: re.Pattern[str]) -> list[str]:
    ends = [match.end() for match in boundary.finditer(text)]
    bounds = [0, *ends, len(text)]
    return [text[start:end] for start, end in itertools.pairwise(bounds) if end > start]


def _pack(pieces: list[str], limit: int) -> list[str]:
    """Greedily join consecutive pieces into as few chunks of at most `limit` as possible."""
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + len(piece) > limit:
            chunks.append(current)
            current = ""
        current += piece
    if current:
        chunks.append(current)
    return chunks
