"""The offline voice: eSpeak NG, driven through ctypes from the espeakng-loader wheel.

Robotic but real speech with no API key and no system package. Every OpenAI voice name maps
to its own eSpeak accent, variant and pitch, so the speakers of a debate stay tellable apart.
"""

from __future__ import annotations

import ctypes
import re
import threading
import unicodedata
from dataclasses import dataclass

import espeakng_loader

from epochpod_assets.providers.base import ProviderError, Speech, Usage
from epochpod_assets.providers.voices import VOICES


@dataclass(frozen=True)
class EspeakStyle:
    """How one OpenAI voice name sounds in eSpeak."""

    voice: str  # eSpeak language voice + variant, as `espeak-ng -v` takes it
    pitch: int  # 0-100, eSpeak's default 50; scales the variant's own base pitch
    range: int  # intonation range 0-100, eSpeak's default 50; low sounds calm, high lively
    rate: int  # eSpeak's rate parameter, calibrated so measured speech is ~155 words/min


# Gender follows OpenAI's voices; accent, variant and pitch keep every pair distinct.
# Rates are lower than the words/min we want because eSpeak's clause pauses slow it down.
STYLES: dict[str, EspeakStyle] = {
    "alloy": EspeakStyle("en-us+f5", pitch=35, range=50, rate=142),
    "ash": EspeakStyle("en-us+m1", pitch=50, range=55, rate=139),
    "coral": EspeakStyle("en-us+f2", pitch=50, range=60, rate=141),
    "echo": EspeakStyle("en-us+m3", pitch=65, range=45, rate=136),
    "fable": EspeakStyle("en-gb-x-rp+m7", pitch=50, range=60, rate=136),
    "onyx": EspeakStyle("en-us+m8", pitch=20, range=35, rate=140),
    "nova": EspeakStyle("en-us+f4", pitch=85, range=65, rate=142),
    "sage": EspeakStyle("en+f1", pitch=45, range=35, rate=139),
    "shimmer": EspeakStyle("en-gb-x-rp+f3", pitch=62, range=55, rate=137),
    "ballad": EspeakStyle("en-gb-scotland+m4", pitch=45, range=60, rate=140),
    "verse": EspeakStyle("en-029+m5", pitch=70, range=50, rate=137),
    "marin": EspeakStyle("en-gb-x-gbclan+f4", pitch=35, range=45, rate=141),
    "cedar": EspeakStyle("en-us-nyc+m6", pitch=25, range=50, rate=137),
}
assert set(STYLES) == set(VOICES), "every OpenAI voice name needs an eSpeak style"

# speak_lib.h constants.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # report errors instead of calling exit() inside the library
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_RANGE = 1, 2, 3, 4
_PHONEMES = 0x100  # espeakPHONEMES: read [[...]] as eSpeak phonemes (the lexicon's IPA)
_CALLBACK_MS = 500  # audio per callback: fewer Python round-trips than the 60 ms default
# eSpeak's default volume (100) puts peaks right at full scale; 75 leaves headroom so
# nothing clips before the track is loudness-normalized.
_VOLUME = 75

_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class _Engine:
    """libespeak-ng is one global, non-reentrant state per process: one engine, one lock."""

    def __init__(self) -> None:
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Info.argtypes = [ctypes.c_void_p]
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,  # text
            ctypes.c_size_t,  # size
            ctypes.c_uint,  # position
            ctypes.c_int,  # position type
            ctypes.c_uint,  # end position
            ctypes.c_uint,  # flags
            ctypes.c_void_p,  # unique identifier out
            ctypes.c_void_p,  # user data
        ]
        data_path = espeakng_loader.get_data_path().encode()
        sample_rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, _CALLBACK_MS, data_path, _INITIALIZE_DONT_EXIT
        )
        if sample_rate <= 0:
            raise ProviderError(f"eSpeak NG failed to initialize with data at {data_path!r}")
        self.sample_rate: int = sample_rate
        self.version: str = lib.espeak_Info(None).decode()
        self.lock = threading.Lock()
        self._lib = lib
        self._samples = bytearray()
        # Kept on self: ctypes frees the C trampoline when the Python object dies.
        self._callback = _SynthCallback(self._collect)
        lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav: ctypes._Pointer[ctypes.c_short], count: int, _events: int) -> int:
        if count > 0:
            self._samples += ctypes.string_at(wav, count * 2)
        return 0  # 0 = keep synthesizing

    def speak(self, text: str, style: EspeakStyle) -> bytes:
        """Speaks clean text; returns mono s16le PCM at `self.sample_rate`."""
        encoded = text.encode() + b"\0"
        flags = _CHARS_UTF8 | (_PHONEMES if _PHONEME_BLOCK.search(text) else 0)
        with self.lock:
            self._apply(style)
            self._samples = bytearray()
            status = self._lib.espeak_Synth(
                encoded, len(encoded), 0, _POS_CHARACTER, 0, flags, None, None
            )
            samples, self._samples = self._samples, bytearray()
        if status != 0:
            raise ProviderError(f"eSpeak NG could not speak a line (error {status})")
        return bytes(samples)

    def _apply(self, style: EspeakStyle) -> None:
        if self._lib.espeak_SetVoiceByName(style.voice.encode()) != 0:
            raise ProviderError(f"eSpeak NG has no voice {style.voice!r}")
        # Set every time: a voice change resets some parameters and keeps others.
        for parameter, value in (
            (_PARAM_RATE, style.rate),
            (_PARAM_PITCH, style.pitch),
            (_PARAM_RANGE, style.range),
            (_PARAM_VOLUME, _VOLUME),
        ):
            self._lib.espeak_SetParameter(parameter, value, 0)


_engine: _Engine | None = None
_engine_lock = threading.Lock()


def _get_engine() -> _Engine:
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = _Engine()
        return _engine


class EspeakVoice:
    """The Voice provider backed by eSpeak NG. Thread-safe; calls are serialized.

    Serializing costs little: eSpeak speaks ~800x faster than real time, so a 60-minute
    episode synthesizes in a few seconds, less than a worker process takes to start.
    `instructions` (OpenAI's speaking-style hints) are ignored: eSpeak cannot act.
    """

    provider = "espeak-ng"

    def __init__(self) -> None:
        engine = _get_engine()
        self.model = f"espeak-ng {engine.version}"
        self.sample_rate = engine.sample_rate

    def synthesize(
        self, text: str, voice: str, usage: Usage, instructions: str | None = None
    ) -> Speech:
        style = STYLES.get(voice)
        if style is None:
            raise ValueError(f"unknown voice {voice!r}; expected one of {', '.join(VOICES)}")
        engine = _get_engine()
        cleaned = clean_text(text)
        pcm = engine.speak(cleaned, style) if cleaned else b""
        usage.add_tts(len(text), 0.0)
        return Speech(pcm=pcm, sample_rate=engine.sample_rate)


_TAG = re.compile(r"<[^<>]*>")  # SSML/HTML-ish tags, which eSpeak would spell out
_STAGE_DIRECTION = re.compile(r"\[[^\[\]]*\]|\{[^{}]*\}")  # [laughs], {pause}
_MARKUP = re.compile(r"[*_#`~^|\\]+")  # markdown emphasis and stray symbols, read as words
_DASHES = re.compile(r"\s*[\u2013\u2014\u2015]+\s*")  # en/em dashes: a spoken pause
_WHITESPACE = re.compile(r"\s+")
_SPACE_BEFORE_PUNCTUATION = re.compile(r" +(?=[,.;:!?])")  # left where markup was removed


# eSpeak phoneme input the pronunciation lexicon wrote (printable ASCII, no brackets).
_PHONEME_BLOCK = re.compile(r"\[\[[!-Z^-~ ]+\]\]")


def clean_text(text: str) -> str:
    """Makes model-written text safe and natural for eSpeak.

    Removes tags, bracketed stage directions and markdown; turns dashes into commas;
    drops control and format characters (NUL would end the C string early). Phoneme blocks
    `[[...]]` (from the lexicon's IPA entries) pass through untouched.
    """
    parts = _PHONEME_BLOCK.split(text)
    if len(parts) > 1:
        blocks = _PHONEME_BLOCK.findall(text)
        cleaned = [_clean(part, strip=False) for part in parts]
        joined = cleaned[0]
        for block, part in zip(blocks, cleaned[1:], strict=True):
            joined = f"{joined} {block} {part}"
        joined = _SPACE_BEFORE_PUNCTUATION.sub("", _WHITESPACE.sub(" ", joined))
        return joined.strip(" ,")
    return _clean(text)


def _clean(text: str, strip: bool = True) -> str:
    text = unicodedata.normalize("NFKC", text)  # curly quotes stay, ligatures/widths fold
    text = _TAG.sub(" ", text)
    text = _STAGE_DIRECTION.sub(" ", text)
    text = _MARKUP.sub(" ", text)
    text = _DASHES.sub(", ", text)
    text = "".join(_printable(char) for char in text)
    text = _WHITESPACE.sub(" ", text)
    text = _SPACE_BEFORE_PUNCTUATION.sub("", text)
    return text.strip(" ,") if strip else text


def _printable(char: str) -> str:
    category = unicodedata.category(char)
    if category == "Cc":
        return " "  # tabs, newlines and other controls separate words
    if category[0] == "C":
        return ""  # zero-width, soft hyphen, private use, unassigned
    return char
