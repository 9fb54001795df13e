"""Sources: read a file or URL, extract its text, store it content-addressed, describe it.

A request lists sources as `SourceRef`s (a path or an http(s) URL, with an optional title,
author and year). `ingest` turns one into a `Source` of the fact sheet: it reads the bytes
(files under a size cap, URLs through `fetch.fetch_url`), extracts plain text with pypdf or
trafilatura, and stores the text in media storage under a key made from its SHA-256, so the
same text is stored once and nothing a user typed ever becomes part of a key.

The stored text keeps the structure that citations point at: paragraphs are separated by a
blank line, and a PDF's pages by a form feed, so a fact can say "page 2" or "paragraph 4".
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

from epochpod_assets.history.factsheet import Source, SourceKind
from epochpod_assets.history.fetch import FetchError, FetchPolicy, fetch_url
from epochpod_assets.storage import MediaStore

PAGE_BREAK = "\f"

_SUFFIX_KINDS: dict[str, SourceKind] = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".pdf": "pdf",
    ".html": "html",
    ".htm": "html",
}
_MEDIA_KINDS: dict[str, SourceKind] = {
    "text/plain": "txt",
    "text/markdown": "md",
    "text/x-markdown": "md",
    "application/pdf": "pdf",
    "text/html": "html",
    "application/xhtml+xml": "html",
}


class SourceError(ValueError):
    """A source could not be read; the message names the file or URL and says why."""


class SourceRef(BaseModel):
    """A source as a request gives it: a file path or an http(s) URL, and what it is."""

    location: str = Field(min_length=1, max_length=2048)
    title: str | None = Field(default=None, max_length=300)
    author: str | None = Field(default=None, max_length=300)
    year: int | None = Field(default=None, ge=-9999, le=9999)

    @field_validator("location")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("a source needs a file path or an http(s) URL")
        if "://" in value and not is_url(value):
            raise ValueError(f"{value!r}: only http and https URLs are fetched")
        return value


def is_url(location: str) -> bool:
    return urlsplit(location).scheme.lower() in ("http", "https")


def source_key(sha256: str) -> str:
    """Where a source's text lives in media storage: derived from its hash only."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return f"sources/{sha256[:2]}/{sha256}.txt"


@dataclass(frozen=True)
class Extracted:
    text: str
    title: str | None


def kind_of_path(path: Path) -> SourceKind:
    kind = _SUFFIX_KINDS.get(path.suffix.lower())
    if kind is None:
        raise SourceError(
            f"{path}: unsupported file type {path.suffix or '(none)'!r}; "
            "sources are .txt, .md, .pdf or .html"
        )
    return kind


def read_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of a source file, refused past `max_bytes` without reading the rest."""
    try:
        if not path.is_file():
            raise SourceError(f"{path}: no such file")
        size = path.stat().st_size
        if size > max_bytes:
            raise SourceError(f"{path}: {size} bytes is over the {max_bytes}-byte source cap")
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:
        raise SourceError(f"{path}: cannot read it ({error.strerror or error})") from None
    if len(data) > max_bytes:
        raise SourceError(f"{path}: over the {max_bytes}-byte source cap")
    return data


def _decode(data: bytes, name: str, charset: str | None = None) -> str:
    if b"\x00" in data[:4096]:
        raise SourceError(f"{name}: looks like a binary file, not text")
    for encoding in [charset, "utf-8-sig"]:
        if not encoding:
            continue
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    # Old web pages and Windows text files: cp1252 decodes every byte that matters here.
    return data.decode("cp1252", errors="replace")


def _paragraphs(text: str) -> str:
    """Normalize line ends and runs of blank lines: paragraphs separated by one blank line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks = [
        " ".join(line.strip() for line in block.splitlines() if line.strip())
        for block in re.split(r"\n\s*\n", text)
    ]
    return "\n\n".join(block for block in blocks if block)


def _markdown_title(text: str) -> str | None:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip() or None
    return None


def extract_text(data: bytes, kind: SourceKind, name: str, charset: str | None = None) -> Extracted:
    """Plain text (paragraphs, and pages for PDFs) and a title if the document has one."""
    if kind == "pdf":
        return _pdf_text(data, name)
    if kind == "html":
        return _html_text(data, name, charset)
    text = _decode(data, name, charset)
    title = _markdown_title(text) if kind == "md" else None
    if kind == "md":
        # Headings and emphasis marks are layout, not words a fact should quote.
        text = re.sub(r"^#{1,6}\s*", "", text, flags=re.MULTILINE)
        text = re.sub(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1", r"\2", text)
    return Extracted(text=_paragraphs(text), title=title)


def _pdf_text(data: bytes, name: str) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise SourceError(f"{name}: the PDF is encrypted")
        pages = [_paragraphs(page.extract_text() or "") for page in reader.pages]
        title = None
        if reader.metadata is not None and reader.metadata.title:
            title = str(reader.metadata.title).strip() or None
    except SourceError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as error:
        raise SourceError(f"{name}: not a readable PDF ({error})") from None
    return Extracted(text=PAGE_BREAK.join(pages), title=title)


def _html_text(data: bytes, name: str, charset: str | None) -> Extracted:
    import trafilatura

    html = _decode(data, name, charset)
    text = trafilatura.extract(html, include_comments=False, include_tables=True, fast=True)
    metadata = trafilatura.extract_metadata(html)
    title = metadata.title if metadata is not None and metadata.title else None
    # trafilatura puts one paragraph per line; the fact sheet counts blank-line paragraphs.
    text = "\n\n".join(line for line in (text or "").splitlines() if line.strip())
    return Extracted(text=_paragraphs(text), title=title)


def ingest(
    store: MediaStore,
    ref: SourceRef,
    source_id: int,
    policy: FetchPolicy | None = None,
    base_dir: Path | None = None,
) -> tuple[Source, str]:
    """Read, extract and store one source; return its fact-sheet entry and its text.

    Raises SourceError naming the file or URL (missing, too big, unsupported type, nothing
    readable in it, or a refused fetch). Without a policy, the settings' one applies."""
    policy = policy or FetchPolicy.from_settings()
    location = ref.location
    if is_url(location):
        try:
            fetched = fetch_url(location, policy)
        except FetchError as error:
            raise SourceError(str(error)) from None
        kind = _MEDIA_KINDS.get(fetched.content_type)
        if kind is None:
            suffix = Path(urlsplit(fetched.url).path).suffix.lower()
            kind = _SUFFIX_KINDS.get(suffix)
        if kind is None:
            raise SourceError(
                f"{location}: unsupported content type {fetched.content_type or '(none)'!r}; "
                "sources are text, Markdown, PDF or HTML"
            )
        extracted = extract_text(fetched.data, kind, location, fetched.charset)
        default_title = urlsplit(fetched.url).hostname or location
    else:
        path = Path(location).expanduser()
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        kind = kind_of_path(path)
        extracted = extract_text(read_file(path, policy.max_bytes), kind, str(path))
        default_title = path.stem.replace("_", " ").replace("-", " ")
    text = extracted.text
    if not text.replace(PAGE_BREAK, "").strip():
        raise SourceError(
            f"{location}: no text could be extracted (a scanned PDF or an empty file?)"
        )
    sha256 = hashlib.sha256(text.encode()).hexdigest()
    key = source_key(sha256)
    if not store.exists(key):
        store.put(key, text.encode(), "text/plain; charset=utf-8")
    source = Source(
        id=source_id,
        title=ref.title or extracted.title or default_title,
        author=ref.author,
        year=ref.year,
        location=location,
        media_key=key,
        sha256=sha256,
        kind=kind,
    )
    return source, text


def load_text(store: MediaStore, source: Source) -> str:
    """A stored source's text, checked against its hash (storage is not trusted blindly)."""
    if not source.media_key or not source.sha256:
        raise SourceError(f"source {source.id} ({source.location}) has no stored text")
    data = store.get(source.media_key)
    if hashlib.sha256(data).hexdigest() != source.sha256:
        raise SourceError(
            f"source {source.id} ({source.location}): stored text does not match its hash"
        )
    return data.decode()


def split_units(text: str) -> list[tuple[str, str]]:
    """The text's paragraphs, each with its location: ("page 2, paragraph 1", ...) for a
    PDF's pages, ("paragraph 4", ...) otherwise."""
    pages = text.split(PAGE_BREAK)
    units: list[tuple[str, str]] = []
    for page_number, page in enumerate(pages, start=1):
        paragraphs = [block for block in page.split("\n\n") if block.strip()]
        for number, paragraph in enumerate(paragraphs, start=1):
            where = f"paragraph {number}"
            if len(pages) > 1:
                where = f"page {page_number}, {where}"
            units.append((where, paragraph))
    return units
