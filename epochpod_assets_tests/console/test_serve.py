"""`epochpod serve`: media and the feed over HTTP on loopback, with range requests (so players
can seek), the content types podcast apps expect, and nothing outside the media folder."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import uvicorn

from epochpod_assets import settings
from epochpod_assets.cli import main
from epochpod_assets.serve import ServeError, app, check_loopback

MP3 = bytes(range(256)) * 40  # 10,240 bytes; the server does not look inside


@pytest.fixture
def media(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    (root / "episodes" / "ep-1" / "audio").mkdir(parents=True)
    (root / "episodes" / "ep-1" / "audio" / "main.mp3").write_bytes(MP3)
    (root / "episodes" / "ep-1" / "audio" / "main.vtt").write_text("WEBVTT\n")
    (root / "episodes" / "ep-1" / "audio" / ".main.mp3.tmp").write_bytes(b"half")
    (root / "feed.xml").write_text("<rss/>")
    (tmp_path / "secret.txt").write_text("outside the media folder")
    (root / "escape").symlink_to(tmp_path / "secret.txt")
    return root


@pytest.fixture
def server(media: Path) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(app(media), host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    yield f"127.0.0.1:{port}"
    running.should_exit = True
    thread.join(5)


def get(address: str, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(address, timeout=5)
    # Sent as written: http.client does not normalize "..", so traversal reaches the server.
    conn.request("GET", path, headers=headers or {})
    return conn.getresponse()


def test_a_range_request_gets_206_with_just_those_bytes(server: str) -> None:
    response = get(server, "/episodes/ep-1/audio/main.mp3", {"Range": "bytes=1000-1999"})
    assert response.status == 206
    assert response.getheader("Content-Range") == f"bytes 1000-1999/{len(MP3)}"
    assert response.getheader("Content-Type") == "audio/mpeg"
    assert response.read() == MP3[1000:2000]

    whole = get(server, "/episodes/ep-1/audio/main.mp3")
    assert whole.status == 200 and whole.getheader("Accept-Ranges") == "bytes"
    assert whole.read() == MP3


def test_content_types_for_the_feed_and_captions(server: str) -> None:
    feed = get(server, "/feed.xml")
    assert feed.status == 200 and feed.getheader("Content-Type") == "application/rss+xml"
    captions = get(server, "/episodes/ep-1/audio/main.vtt")
    assert captions.getheader("Content-Type") == "text/vtt; charset=utf-8"
    home = get(server, "/")
    assert home.status == 307 and home.getheader("Location") == "/feed.xml"


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/episodes/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/escape",  # a symlink out of the folder
        "/episodes/ep-1/audio/.main.mp3.tmp",  # a store's half-written file
        "/episodes/ep-1/audio/",  # no listings
        "/nothing.mp3",
    ],
)
def test_nothing_outside_the_media_folder_or_hidden_is_served(server: str, path: str) -> None:
    response = get(server, path)
    body = response.read()
    assert response.status == 404, (path, response.status)
    assert b"outside" not in body and b"half" not in body


def test_an_unsatisfiable_range_gets_416(server: str) -> None:
    response = get(server, "/episodes/ep-1/audio/main.mp3", {"Range": "bytes=99999-"})
    assert response.status == 416


def test_only_loopback_addresses(capsys: pytest.CaptureFixture[str]) -> None:
    assert check_loopback("127.0.0.1") == "127.0.0.1"
    assert check_loopback("::1") == "::1"
    with pytest.raises(ServeError, match="not a loopback address"):
        check_loopback("0.0.0.0")
    assert main(["serve", "--host", "192.168.1.10"]) == 2
    assert "--host: 192.168.1.10 is not a loopback address" in capsys.readouterr().err


def test_local_media_links_point_at_the_server_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from epochpod_assets.defs.resources import MediaResource, resources_from_env
    from epochpod_assets.serve import local_path

    def feed_url() -> str:
        # As a run sees it: environment variables resolved.
        with dg.build_resources({"media": resources_from_env()["media"]}) as built:
            media = built.media
            assert isinstance(media, MediaResource)
            return media.get().url("feed.xml")

    assert feed_url() == "http://127.0.0.1:8765/feed.xml"
    # The file behind it, for whoever has no server running (the demo's table shows paths).
    assert local_path(feed_url()) == settings.load().media_root / "feed.xml"
    monkeypatch.setenv("EPOCHPOD_SERVE_PORT", "9000")
    assert feed_url() == "http://127.0.0.1:9000/feed.xml"
    monkeypatch.setenv("EPOCHPOD_PUBLIC_BASE_URL", "https://cdn.example.com/pod")
    assert feed_url() == "https://cdn.example.com/pod/feed.xml"
