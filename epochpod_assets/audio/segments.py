"""Synthesized speech, cached by content so nothing is paid for twice.

The key is a hash of everything that changes the sound (provider, model, voice, instructions,
text): re-rendering an unchanged script synthesizes nothing, and re-voicing one speaker
re-synthesizes only that speaker's lines. The text is the one the voice is actually sent (after
the speech normalizer and the pronunciation lexicon), so changing how a name is said re-voices
only the lines that contain it.
"""

from __future__ import annotations

import hashlib
import io
import threading
import wave

from epochpod_assets.providers.base import Speech, Usage, Voice
from epochpod_assets.speech.lexicon import Lexicon, for_request
from epochpod_assets.speech.normalize import spoken
from epochpod_assets.storage import MediaStore

# EspeakVoice.provider; not imported from audio.espeak, which loads the eSpeak library.
ESPEAK_PROVIDER = "espeak-ng"


def segment_key(provider: str, model: str, voice: str, instructions: str | None, text: str) -> str:
    fields = "\x1f".join((provider, model, voice, instructions or "", text))
    digest = hashlib.sha256(fields.encode()).hexdigest()
    return f"cache/tts/{digest[:2]}/{digest}.wav"


def to_wav(speech: Speech) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(speech.sample_rate)
        out.writeframes(speech.pcm)
    return buffer.getvalue()


def from_wav(data: bytes) -> Speech:
    with wave.open(io.BytesIO(data), "rb") as source:
        if source.getnchannels() != 1 or source.getsampwidth() != 2:
            raise ValueError("cached segment is not mono 16-bit audio")
        return Speech(pcm=source.readframes(source.getnframes()), sample_rate=source.getframerate())


class SegmentCache:
    """Speaks text through a voice provider, reusing any segment already in media storage."""

    def __init__(
        self, voice: Voice, store: MediaStore, usage: Usage, lexicon: Lexicon | None = None
    ) -> None:
        self.voice = voice
        self.store = store
        self.usage = usage
        # The request's own lexicon when there is one; else the built-in and deployment ones.
        self.lexicon = lexicon if lexicon is not None else for_request()
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    def said(self, text: str) -> str:
        """What the voice is sent for written `text`: eSpeak takes IPA entries as phonemes."""
        return spoken(text, self.lexicon, phonemes=self.voice.provider == ESPEAK_PROVIDER)

    def speak(self, text: str, voice: str, instructions: str | None = None) -> Speech:
        """Speaks written `text` (normalized and respelled here) in `voice`."""
        text = self.said(text)
        # The voice as the server knows it: a speech server's own voice map (OpenAIVoice)
        # changes the sound of a request voice, so it changes the key too.
        identity = getattr(self.voice, "voice_identity", None)
        sound = identity(voice) if identity is not None else voice
        key = segment_key(self.voice.provider, self.voice.model, sound, instructions, text)
        if self.store.exists(key):
            try:
                speech = from_wav(self.store.get(key))
            except (KeyError, ValueError, EOFError, wave.Error):
                pass  # a damaged or vanished entry is simply synthesized again
            else:
                self._count(hit=True)
                return speech
        speech = self.voice.synthesize(text, voice, self.usage, instructions)
        self.store.put(key, to_wav(speech), "audio/wav")
        self._count(hit=False)
        return speech

    def _count(self, *, hit: bool) -> None:
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1
