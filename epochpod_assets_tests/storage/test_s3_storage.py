"""S3 media storage against moto's S3 server on loopback, through the real boto3 client."""

from __future__ import annotations

import urllib.request
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import dagster as dg
import pytest

from epochpod_assets import enqueue
from epochpod_assets.defs.assets.episodes import (
    episode_audio,
    episode_outline,
    episode_script,
    published_episode,
)
from epochpod_assets.defs.assets.research import episode_research
from epochpod_assets.defs.resources import MediaResource, resources_from_env
from epochpod_assets.intake import open_catalog
from epochpod_assets.storage import (
    LocalMediaStore,
    S3MediaStore,
    display_url,
    episode_key,
    parse_s3_url,
)
from epochpod_assets_tests.support.s3 import S3Endpoint, s3_media

__all__ = ["s3_media"]  # the fixture, imported so pytest finds it here

INTERVIEW = {
    "format": "interview",
    "guest_name": "Ada Lovelace",
    "topic": "the analytical engine",
    "target_minutes": 1,
}


def _media() -> MediaResource:
    """The media resource as a run sees it: built from the environment, EnvVars resolved."""
    with dg.build_resources({"media": resources_from_env()["media"]}) as resources:
        media = resources.media
    assert isinstance(media, MediaResource)
    return media


def _store() -> S3MediaStore:
    store = _media().get()
    assert isinstance(store, S3MediaStore)
    return store


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
        return body


def test_round_trip_keeps_bytes_and_content_type_under_the_prefix(s3_media: S3Endpoint) -> None:
    store = _store()
    data = bytes(range(256)) * 10
    store.put("episodes/ep-1/audio/episode.mp3", data, "audio/mpeg")

    assert store.get("episodes/ep-1/audio/episode.mp3") == data
    head = s3_media.client().head_object(
        Bucket=s3_media.bucket, Key="media/episodes/ep-1/audio/episode.mp3"
    )
    assert head["ContentType"] == "audio/mpeg"
    assert s3_media.keys() == ["media/episodes/ep-1/audio/episode.mp3"]

    store.put("episodes/ep-1/audio/episode.mp3", b"replaced", "audio/mpeg")
    assert store.get("episodes/ep-1/audio/episode.mp3") == b"replaced"


def test_missing_key_raises_key_error_and_exists_tells_apart(s3_media: S3Endpoint) -> None:
    store = _store()
    with pytest.raises(KeyError):
        store.get("episodes/ep-1/outline.json")
    assert not store.exists("episodes/ep-1/outline.json")
    store.put("episodes/ep-1/outline.json", b"{}", "application/json")
    assert store.exists("episodes/ep-1/outline.json")
    # A key that is a prefix of an existing one is not an object.
    assert not store.exists("episodes/ep-1")


@pytest.mark.parametrize("key", ["../escape", "/abs", "episodes//x", "episodes/./x", ""])
def test_keys_cannot_leave_the_prefix(s3_media: S3Endpoint, key: str) -> None:
    with pytest.raises(ValueError, match="escapes"):
        _store().put(key, b"x", "text/plain")
    assert s3_media.keys() == []


def test_presigned_url_downloads_the_object_and_expires_as_configured(
    s3_media: S3Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EPOCHPOD_S3_PRESIGN_SECONDS", "600")
    store = _store()
    url = store.put("episodes/ep-1/audio/episode.vtt", b"WEBVTT\n", "text/vtt")

    parts = urlsplit(url)
    assert url.startswith(f"{s3_media.endpoint_url}/{s3_media.bucket}/media/episodes/ep-1/")
    assert parse_qs(parts.query)["X-Amz-Expires"] == ["600"]
    assert _fetch(url) == b"WEBVTT\n"
    # What the UI and logs get carries no signature.
    shown = display_url(store, "episodes/ep-1/audio/episode.vtt")
    assert shown == f"s3://{s3_media.bucket}/media/episodes/ep-1/audio/episode.vtt"


def test_public_base_url_addresses_the_storage_root(
    s3_media: S3Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EPOCHPOD_PUBLIC_BASE_URL", "https://cdn.example.com/pod/")
    store = _store()
    url = store.put("episodes/ep-1/audio/episode.mp3", b"mp3", "audio/mpeg")
    assert url == "https://cdn.example.com/pod/episodes/ep-1/audio/episode.mp3"
    assert display_url(store, "feed.xml") == "https://cdn.example.com/pod/feed.xml"


def test_zero_presign_seconds_gives_s3_uris(
    s3_media: S3Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EPOCHPOD_S3_PRESIGN_SECONDS", "0")
    url = _store().put("feed.xml", b"<rss/>", "application/rss+xml")
    assert url == f"s3://{s3_media.bucket}/media/feed.xml"


def test_presign_longer_than_sigv4_allows_is_refused(
    s3_media: S3Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EPOCHPOD_S3_PRESIGN_SECONDS", str(8 * 24 * 3600))
    with pytest.raises(ValueError, match="EPOCHPOD_S3_PRESIGN_SECONDS='691200'"):
        _media().get()


def test_storage_is_chosen_by_configuration_only(
    s3_media: S3Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(_store(), S3MediaStore)
    monkeypatch.delenv("EPOCHPOD_STORAGE_URL")
    assert isinstance(_media().get(), LocalMediaStore)
    assert isinstance(MediaResource(storage_url="file:///tmp/x").get(), LocalMediaStore)
    with pytest.raises(ValueError, match=r"got gs://\.\.\.$"):
        MediaResource(storage_url="gs://user:password@bucket").get()


def test_parse_s3_url() -> None:
    assert parse_s3_url("s3://bucket") == ("bucket", "")
    assert parse_s3_url("s3://bucket/a/b/") == ("bucket", "a/b")
    with pytest.raises(ValueError):
        parse_s3_url("s3:///prefix")


@pytest.mark.slow
def test_offline_pipeline_publishes_an_episode_with_all_media_in_the_bucket(
    s3_media: S3Endpoint, monkeypatch: pytest.MonkeyPatch, epochpod_home: Path
) -> None:
    # A recognizable secret, to prove it reaches neither the event log nor the catalog.
    secret = f"secret-{uuid.uuid4().hex}"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    db = open_catalog()
    episode_id = enqueue(INTERVIEW, db)

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("episodes", [episode_id])
        result = dg.materialize(
            [episode_research, episode_outline, episode_script, episode_audio, published_episode],
            partition_key=episode_id,
            instance=instance,
            resources=resources_from_env(),
        )
        assert result.success
        events = instance.all_logs(result.run_id)
        assert not any(secret in repr(event) for event in events)

    row = db.get(episode_id)
    assert row is not None and row["status"] == "PUBLISHED"
    assert secret not in repr(row)

    keys = s3_media.keys()
    root = f"media/episodes/{episode_id}"
    for name in (
        "outline.json",
        "script.json",
        "audio.json",
        "audio/episode.mp3",
        "audio/episode.vtt",
    ):
        assert f"{root}/{name}" in keys, name
    segments = [key for key in keys if key.startswith("media/cache/tts/")]
    assert segments and all(key.endswith(".wav") for key in segments)
    assert not (epochpod_home / "media").exists(), "nothing went to the local folder"

    # The published URL is playable: it downloads exactly the MP3 the catalog describes.
    mp3 = _fetch(row["audio_url"])
    assert len(mp3) == row["audio_bytes"] > 10_000
    assert mp3 == _store().get(episode_key(episode_id, "audio/episode.mp3"))
    assert _fetch(_store().url(episode_key(episode_id, "audio/episode.vtt"))).startswith(b"WEBVTT")
