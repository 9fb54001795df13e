"""The voice names a request may use: OpenAI's speech voices. Offline voices map onto them."""

from __future__ import annotations

# Every voice OpenAI's speech endpoint accepts; tts-1 and tts-1-hd take the first nine.
VOICES: tuple[str, ...] = (
    "alloy",
    "ash",
    "coral",
    "echo",
    "fable",
    "onyx",
    "nova",
    "sage",
    "shimmer",
    "ballad",
    "verse",
    "marin",
    "cedar",
)

# How help texts list them.
VOICE_HELP = f"one of {', '.join(VOICES)}"
