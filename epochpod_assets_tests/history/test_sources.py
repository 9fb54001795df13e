"""Reading sources from files and URLs: text extraction, caps, storage and the fetch rules."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import time
from pathlib import Path

import pytest

from epochpod_assets.history.fetch import FetchError, FetchPolicy, _blocked, fetch_url
from epochpod_assets.history.sources import (
    SourceError,
    SourceRef,
    ingest,
    load_text,
    source_key,
    split_units,
)
from epochpod_assets.storage import LocalMediaStore
from epochpod_assets_tests.history.helpers import body, make_pdf, redirect, serve

LOOPBACK = FetchPolicy(allow_private=True, timeout_seconds=5)

HTML = b"""<html><head><title>The Nobel Prize of 1921</title></head><body>
<nav>Home | About | Contact</nav>
<article><h1>The Nobel Prize of 1921</h1>
<p>Albert Einstein was awarded the 1921 Nobel Prize in Physics for his services to
theoretical physics, and especially for his discovery of the law of the photoelectric effect.</p>
<p>The prize was announced in November 1922, because the committee had reserved the 1921
award for a year.</p></article>
<footer>Copyright notice</footer></body></html>"""


@pytest.fixture
def store(tmp_path: Path) -> LocalMediaStore:
    return LocalMediaStore(tmp_path / "media")


def test_text_and_markdown_files_are_stored_content_addressed(
    tmp_path: Path, store: LocalMediaStore
) -> None:
    notes = tmp_path / "einstein notes.md"
    notes.write_text(
        "# Einstein in 1921\n\nHe visited **New York** in April 1921.\nHe travelled with Chaim"
        " Weizmann.\n\n\n\nHe returned to Berlin.\n"
    )
    source, text = ingest(store, SourceRef(location=str(notes), author="Epoch Pod"), 1)
    assert source.title == "Einstein in 1921"
    assert source.kind == "md"
    assert text == (
        "Einstein in 1921\n\nHe visited New York in April 1921. He travelled with Chaim"
        " Weizmann.\n\nHe returned to Berlin."
    )
    assert source.sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert source.media_key == source_key(source.sha256)
    assert "notes" not in source.media_key  # never from user text
    assert load_text(store, source) == text
    assert split_units(text)[1] == (
        "paragraph 2",
        "He visited New York in April 1921. He travelled with Chaim Weizmann.",
    )
    # The same text from another file is the same object.
    copy = tmp_path / "copy.md"
    copy.write_bytes(notes.read_bytes())
    again, _ = ingest(store, SourceRef(location=str(copy), title="Copy"), 2)
    assert again.media_key == source.media_key and again.title == "Copy"


def test_pdf_pages_become_locations(tmp_path: Path, store: LocalMediaStore) -> None:
    pdf = tmp_path / "lecture.pdf"
    pdf.write_bytes(
        make_pdf(
            ["Relativity was first proposed in 1905.", "Einstein lectured in Kyoto in 1922."],
            title="Lectures",
        )
    )
    source, text = ingest(store, SourceRef(location=str(pdf)), 1)
    assert source.kind == "pdf" and source.title == "Lectures"
    units = split_units(text)
    assert units == [
        ("page 1, paragraph 1", "Relativity was first proposed in 1905."),
        ("page 2, paragraph 1", "Einstein lectured in Kyoto in 1922."),
    ]


def test_html_keeps_the_article_and_drops_the_boilerplate(
    tmp_path: Path, store: LocalMediaStore
) -> None:
    page = tmp_path / "nobel.html"
    page.write_bytes(HTML)
    source, text = ingest(store, SourceRef(location=str(page)), 1)
    assert source.title == "The Nobel Prize of 1921"
    assert "photoelectric effect" in text
    assert "announced in November 1922" in text
    assert "Copyright notice" not in text


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.txt", None, "missing.txt: no such file"),
        ("notes.docx", b"x", "notes.docx: unsupported file type '.docx'"),
        ("big.txt", b"x" * 101, "big.txt: 101 bytes is over the 100-byte source cap"),
        ("empty.txt", b"\n\n  \n", "empty.txt: no text could be extracted"),
        ("broken.pdf", b"%PDF-1.4 nonsense", "broken.pdf: not a readable PDF"),
        ("binary.txt", b"\x00\x01\x02", "binary.txt: looks like a binary file"),
    ],
)
def test_bad_files_get_an_error_naming_the_file(
    tmp_path: Path, store: LocalMediaStore, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError, match=message.replace(".", r"\.").replace("(", r"\(")):
        ingest(store, SourceRef(location=str(path)), 1, FetchPolicy(max_bytes=100))
    assert not (tmp_path / "media").exists()  # nothing written


def test_url_sources_are_fetched_extracted_and_follow_redirects(store: LocalMediaStore) -> None:
    routes = {
        "/nobel": body(HTML, "text/html; charset=utf-8"),
        "/old": redirect("/nobel", 301),
        "/notes.txt": body("Œuvre: 1921".encode("cp1252"), "text/plain; charset=cp1252"),
    }
    with serve(routes) as base:
        source, text = ingest(store, SourceRef(location=f"{base}/old"), 1, LOOPBACK)
        assert source.kind == "html" and source.location == f"{base}/old"
        assert "photoelectric effect" in text
        _, text = ingest(store, SourceRef(location=f"{base}/notes.txt"), 2, LOOPBACK)
        assert text == "Œuvre: 1921"


def test_loopback_is_refused_unless_allowed() -> None:
    with serve({"/x": body(b"hello", "text/plain")}) as base:
        with pytest.raises(FetchError, match="is a loopback address"):
            fetch_url(f"{base}/x", FetchPolicy(timeout_seconds=5))
        localhost = base.replace("127.0.0.1", "localhost")
        with pytest.raises(FetchError, match="loopback"):
            fetch_url(f"{localhost}/x", FetchPolicy(timeout_seconds=5))
        assert fetch_url(f"{base}/x", LOOPBACK).data == b"hello"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("172.16.5.4", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("::ffff:127.0.0.1", "loopback"),
        ("0.0.0.0", "address"),
        ("224.0.0.1", "reserved"),
        ("100.64.0.1", "address"),
    ],
)
def test_non_public_addresses_are_blocked(address: str, reason: str) -> None:
    blocked = _blocked(address)
    assert blocked is not None and reason in blocked


def test_public_addresses_pass() -> None:
    assert _blocked("93.184.216.34") is None
    assert _blocked("2606:4700::1111") is None


def test_schemes_caps_status_and_redirect_rules() -> None:
    def endless(request: http.server.BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "text/plain")
        request.end_headers()  # no length: the body runs until the cap stops reading
        for _ in range(1000):
            request.wfile.write(b"x" * 1024)

    def slow(request: http.server.BaseHTTPRequestHandler) -> None:
        time.sleep(1)
        # The client has given up by now; its closed socket is the expected outcome.
        with contextlib.suppress(OSError):
            body(b"late", "text/plain")(request)

    routes = {
        "/big": body(b"x" * 5000, "text/plain"),
        "/endless": endless,
        "/ftp": redirect("ftp://example.org/file.txt"),
        "/loop": redirect("/loop"),
        "/gone": body(b"", "text/plain", status=404),
        "/slow": slow,
    }
    capped = FetchPolicy(allow_private=True, max_bytes=4096, timeout_seconds=5)
    with serve(routes) as base:
        with pytest.raises(FetchError, match="5000 bytes is over the 4096-byte cap"):
            fetch_url(f"{base}/big", capped)
        with pytest.raises(FetchError, match="over the 4096-byte cap"):
            fetch_url(f"{base}/endless", capped)
        with pytest.raises(FetchError, match="only http and https URLs can be fetched, not 'ftp'"):
            fetch_url(f"{base}/ftp", capped)
        with pytest.raises(FetchError, match="more than 5 redirects"):
            fetch_url(f"{base}/loop", capped)
        with pytest.raises(FetchError, match="answered HTTP 404"):
            fetch_url(f"{base}/gone", capped)
        with pytest.raises(FetchError, match="timed out"):
            fetch_url(f"{base}/slow", FetchPolicy(allow_private=True, timeout_seconds=0.3))
    with pytest.raises(FetchError, match="not 'file'"):
        fetch_url("file:///etc/passwd")
    with pytest.raises(FetchError, match="credentials"):
        fetch_url("http://user:pw@example.org/")


def test_source_ref_rejects_other_schemes() -> None:
    with pytest.raises(ValueError, match="only http and https"):
        SourceRef(location="ftp://example.org/a.txt")
    with pytest.raises(ValueError, match="file path or an http"):
        SourceRef(location="   ")


def test_a_redirect_to_a_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A public page that redirects to an internal one must not get the internal one fetched:
    the first hop is let through as if it were public, the redirect's target is checked anew."""
    from epochpod_assets.history import fetch

    real = fetch._blocked
    calls: list[str] = []

    def first_hop_public(address: str) -> str | None:
        calls.append(address)
        return None if len(calls) == 1 else real(address)

    monkeypatch.setattr(fetch, "_blocked", first_hop_public)
    with (
        serve(
            {"/public": redirect("/internal"), "/internal": body(b"secret", "text/plain")}
        ) as base,
        pytest.raises(FetchError, match="is a loopback address"),
    ):
        fetch_url(f"{base}/public", FetchPolicy(timeout_seconds=5))
    assert len(calls) == 2
