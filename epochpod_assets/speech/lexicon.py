"""How to say names a voice gets wrong: word -> respelling, and IPA for eSpeak where known.

Three layers, later ones winning: the built-in entries (`data/lexicon.json`, names the formats
use often), the deployment's file (`EPOCHPOD_LEXICON`: JSON, or a W3C PLS lexicon as
ElevenLabs and others take) and the request's own `pronunciations`. Entries apply to what the
voice is sent, never to captions or transcripts.

eSpeak NG reads phonemes written `[[...]]` in its own ASCII alphabet (Kirshenbaum-like) when
synthesis is called with its `espeakPHONEMES` flag; it has no IPA input and its SSML `<phoneme>`
is unreliable. IPA is therefore converted with lexconvert (which knows both alphabets); OpenAI's
voices take no phonemes at all and always get the respelling.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
import unicodedata
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from xml.etree import ElementTree

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)

from epochpod_assets import settings

MAX_WORD_CHARS = 60
MAX_RESPELLING_CHARS = 120
MAX_REQUEST_ENTRIES = 100
LEXICON_ENV = "EPOCHPOD_LEXICON"
_PLS_NS = "{http://www.w3.org/2005/01/pronunciation-lexicon}"
# What survives into a `[[...]]` block: eSpeak's phoneme alphabet is printable ASCII without
# brackets (a bracket would end the block and let the rest be read as phonemes or text).
_ESPEAK_PHONEMES = re.compile(r"[!-Z^-~]+(?: [!-Z^-~]+)*")


def _word(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise ValueError("a word to pronounce must not be blank")
    if any(unicodedata.category(ch)[0] == "C" for ch in value):
        raise ValueError(f"{value!r} contains a control character")
    if not re.search(r"\w", value):
        raise ValueError(f"{value!r} has no letters to match")
    return value


def _respelling(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise ValueError("a respelling must not be blank")
    if any(unicodedata.category(ch)[0] == "C" for ch in value) or re.search(r"[<>\[\]{}]", value):
        raise ValueError(f"{value!r} may hold only letters, spaces, hyphens and apostrophes")
    return value


def _ipa(value: str) -> str:
    value = value.strip().strip("/[]").strip()
    if not value:
        raise ValueError("ipa must not be blank")
    if espeak_phonemes(value) is None:
        raise ValueError(f"ipa {value!r} has no sounds eSpeak knows")
    return value


Word = Annotated[str, Field(max_length=MAX_WORD_CHARS), AfterValidator(_word)]
Respelling = Annotated[str, Field(max_length=MAX_RESPELLING_CHARS), AfterValidator(_respelling)]
Ipa = Annotated[str, Field(max_length=MAX_RESPELLING_CHARS), AfterValidator(_ipa)]


class Pronunciation(BaseModel):
    """How to say one word or name: `say` is a respelling every voice reads; `ipa`, if given,
    is what eSpeak is sent instead."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    say: Respelling
    ipa: Ipa | None = Field(default=None, exclude_if=lambda v: v is None)


def _entry(value: Any) -> Any:
    # "Sisseroh" is short for {"say": "Sisseroh"}: one type, so errors name the field itself.
    return {"say": value} if isinstance(value, str) else value


Entry = Annotated[Pronunciation, BeforeValidator(_entry)]


# The request field: `{"Vercingetorix": "Ver-sin-jet-or-ix"}`, or with IPA for eSpeak
# `{"Cicero": {"say": "Sisseroh", "ipa": "..."}}`.
Pronunciations = Annotated[dict[Word, Entry], Field(max_length=MAX_REQUEST_ENTRIES)]
_entries_adapter: TypeAdapter[dict[str, Pronunciation]] = TypeAdapter(dict[Word, Entry])


@functools.lru_cache(maxsize=1024)
def espeak_phonemes(ipa: str) -> str | None:
    """IPA in eSpeak's phoneme alphabet, or None if nothing of it converts."""
    import lexconvert  # imported on first use: it is large and only eSpeak needs it

    # lexconvert prints notes on stderr (implicit vowels and the like): keep logs clean.
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        try:
            converted = lexconvert.convert(ipa, "unicode-ipa", "espeak")
        except Exception:  # any failure inside lexconvert means "cannot convert"
            return None
    words = [_ESPEAK_PHONEMES.fullmatch(w) for w in str(converted).split()]
    if not words or any(w is None for w in words):
        return None
    return " ".join(w.group(0) for w in words if w is not None)


class LexiconError(ValueError):
    """A lexicon file that cannot be read; the message names the file and the problem."""


class Lexicon:
    """Word -> pronunciation, matched case-insensitively on whole words, longest first."""

    def __init__(self, entries: Mapping[str, Any] | None = None) -> None:
        """`entries`: word -> respelling, `{"say": ..., "ipa": ...}` or a Pronunciation;
        raises pydantic's ValidationError for a bad one."""
        valid = _entries_adapter.validate_python(dict(entries or {}))
        self.entries: dict[str, Pronunciation] = {}
        self._words: dict[str, str] = {}
        for word, said in valid.items():
            self.entries[word.casefold()] = said
            self._words[word.casefold()] = word
        self._pattern = self._compile()

    def _compile(self) -> re.Pattern[str] | None:
        if not self.entries:
            return None
        words = sorted(self._words.values(), key=len, reverse=True)
        alternatives = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in words)
        return re.compile(rf"(?<![\w'\u2019-])(?:{alternatives})(?![\w-])", re.IGNORECASE)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and word.casefold() in self.entries

    def __getitem__(self, word: str) -> Pronunciation:
        return self.entries[word.casefold()]

    def merged(self, *others: Lexicon | Mapping[str, Any] | None) -> Lexicon:
        """A new lexicon: these entries, overridden by each of `others` in turn."""
        combined: dict[str, Any] = {self._words[key]: entry for key, entry in self.entries.items()}
        for other in others:
            if other is None:
                continue
            layer = other if isinstance(other, Lexicon) else Lexicon(other)
            for key, entry in layer.entries.items():
                for existing in [w for w in combined if w.casefold() == key]:
                    del combined[existing]
                combined[layer._words[key]] = entry
        return Lexicon(combined)

    def apply(self, text: str, *, phonemes: bool = False) -> str:
        """`text` with every known word replaced by its respelling (or, with `phonemes`, by
        eSpeak phoneme input `[[...]]` where the entry gives IPA)."""
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: self._say(m.group(0), phonemes), text)

    def _say(self, written: str, phonemes: bool) -> str:
        entry = self.entries[" ".join(written.split()).casefold()]
        if phonemes and entry.ipa:
            converted = espeak_phonemes(entry.ipa)
            if converted:
                return f"[[{converted}]]"
        if written[:1].islower() and entry.say[:1].isupper():
            return entry.say[:1].lower() + entry.say[1:]  # "the ides of March": "the eyedz"
        return entry.say


@functools.cache
def built_in() -> Lexicon:
    """The entries shipped with the package (names the formats use often)."""
    text = resources.files("epochpod_assets.speech").joinpath("data/lexicon.json").read_text()
    return Lexicon(json.loads(text)["entries"])


def load_file(path: str | os.PathLike[str]) -> Lexicon:
    """A lexicon from a JSON file (`{"word": "respelling" | {"say": ..., "ipa": ...}}`, or the
    same under an "entries" key) or a PLS file (`.pls`/`.xml`: `<lexeme>` with `<grapheme>`,
    `<alias>` and an IPA `<phoneme>`)."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as e:
        raise LexiconError(f"{LEXICON_ENV}: cannot read {file}: {e.strerror}") from None
    try:
        if file.suffix.lower() in (".pls", ".xml"):
            entries: Mapping[str, Any] = _read_pls(raw)
        else:
            data = json.loads(raw)
            entries = data.get("entries", data) if isinstance(data, dict) else data
        return Lexicon(entries)
    except (ValueError, ElementTree.ParseError) as e:
        detail = (
            "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors()[:5])
            if isinstance(e, ValidationError)
            else str(e)
        )
        raise LexiconError(f"{LEXICON_ENV}: {file} is not a valid lexicon ({detail})") from None


def _read_pls(raw: bytes) -> dict[str, dict[str, str]]:
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise ValueError("DTDs and entities are not allowed in a lexicon")
    root = ElementTree.fromstring(raw)
    entries: dict[str, dict[str, str]] = {}
    for lexeme in root.iter(f"{_PLS_NS}lexeme"):
        graphemes = [g.text or "" for g in lexeme.iter(f"{_PLS_NS}grapheme")]
        alias = next((a.text for a in lexeme.iter(f"{_PLS_NS}alias") if a.text), None)
        phoneme = next(
            (
                p.text
                for p in lexeme.iter(f"{_PLS_NS}phoneme")
                if p.text and p.get("alphabet", root.get("alphabet", "ipa")) == "ipa"
            ),
            None,
        )
        if alias is None and phoneme is None:
            continue
        for grapheme in graphemes:
            entry = {"say": alias or grapheme}
            if phoneme:
                entry["ipa"] = phoneme
            entries[grapheme] = entry
    return entries


def user_lexicon(path: str | None = None) -> Lexicon | None:
    """The deployment's lexicon file, if `path` (default: $EPOCHPOD_LEXICON) names one."""
    path = path if path is not None else settings.load().lexicon
    return load_file(path) if path else None


def for_episode(request: Any) -> Lexicon:
    """The lexicon an episode is voiced with: `for_request` of its `pronunciations`."""
    return for_request(getattr(request, "pronunciations", None))


def for_request(pronunciations: Mapping[str, Any] | None = None) -> Lexicon:
    """Built-in entries, then the deployment's file, then the request's own entries."""
    return built_in().merged(_cached_user_lexicon(settings.load().lexicon or ""), pronunciations)


@functools.lru_cache(maxsize=4)
def _cached_user_lexicon(path: str) -> Lexicon | None:
    return load_file(path) if path else None
