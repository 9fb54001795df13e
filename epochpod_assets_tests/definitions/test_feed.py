"""The podcast feed: what podcast apps read back, what it lists, and when it is rebuilt."""

from __future__ import annotations

import datetime as dt
import html
import json
import urllib.request
import xml.etree.ElementTree as ET
from typing import Any

import dagster as dg
import feedparser
import pytest

from epochpod_assets import enqueue, settings
from epochpod_assets.catalog import Catalog
from epochpod_assets.definitions import defs
from epochpod_assets.defs.assets.episodes import (
    episode_audio,
    episode_outline,
    episode_script,
    published_episode,
)
from epochpod_assets.defs.assets.feed import (
    FEED_KEY,
    ITUNES,
    ChannelSettings,
    FeedItem,
    podcast_feed,
    publication_reports,
    render_feed,
)
from epochpod_assets.defs.assets.research import episode_research
from epochpod_assets.defs.resources import resources_from_env
from epochpod_assets.intake import open_catalog
from epochpod_assets.storage import LocalMediaStore, episode_key, put_json
from epochpod_assets_tests.support.s3 import S3Endpoint, s3_media

__all__ = ["s3_media"]  # the fixture, imported so pytest finds it here

INTERVIEW = {"format": "interview", "guest_name": "Marie Curie", "topic": "radium"}
ADVENTURE = {"format": "adventure", "setting": "Paris, 1789", "depth": 2, "choices": 2}


def _build_feed() -> feedparser.FeedParserDict:
    result = dg.materialize([podcast_feed], resources=resources_from_env())
    assert result.success
    xml = LocalMediaStore(settings.media_root()).get(FEED_KEY)
    ET.fromstring(xml)  # well-formed XML, not just something feedparser tolerates
    parsed = feedparser.parse(xml)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def _publish(db: Catalog, request: dict[str, Any], detail: dict[str, Any], **fields: Any) -> str:
    episode_id = enqueue(request, db)
    db.publish(
        episode_id,
        {"title": f"Episode {episode_id}", "description": "About it.", **fields},
        detail,
    )
    return episode_id


INTERVIEW_DETAIL = {
    "host_name": "Host",
    "host_voice": "alloy",
    "guest_name": "Marie Curie",
    "guest_voice": "nova",
}


def test_channel_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPOCHPOD_FEED_TITLE", "Epoch Pod Staging")
    monkeypatch.setenv("EPOCHPOD_FEED_DESCRIPTION", "Tales <from> the past & more")
    monkeypatch.setenv("EPOCHPOD_FEED_IMAGE_URL", "https://cdn.example.com/cover.jpg")
    monkeypatch.setenv("EPOCHPOD_FEED_LINK", "https://epochpod.example.com")
    monkeypatch.setenv("EPOCHPOD_FEED_CATEGORY", "Education")
    monkeypatch.setenv("EPOCHPOD_FEED_LANGUAGE", "fr")
    monkeypatch.setenv("EPOCHPOD_FEED_EXPLICIT", "yes")
    monkeypatch.setenv("EPOCHPOD_FEED_OWNER_EMAIL", "show@example.com")

    feed = _build_feed().feed
    assert feed.title == "Epoch Pod Staging"
    # Descriptions are HTML in RSS; what an app renders is the text as written.
    assert html.unescape(feed.subtitle) == "Tales <from> the past & more"
    assert feed.link == "https://epochpod.example.com"
    assert feed.image.href == "https://cdn.example.com/cover.jpg"
    assert feed.tags[0].term == "Education"
    assert feed.language == "fr"
    # Apple's current spec says true/false; feedparser only knows the older yes/clean.
    xml = ET.fromstring(LocalMediaStore(settings.media_root()).get(FEED_KEY))
    assert xml.findtext(f"channel/{{{ITUNES}}}explicit") == "true"
    assert feed.publisher_detail.email == "show@example.com"

    monkeypatch.setenv("EPOCHPOD_FEED_EXPLICIT", "maybe")
    with pytest.raises(ValueError, match="EPOCHPOD_FEED_EXPLICIT"):
        ChannelSettings.from_env()


def test_defaults_make_a_valid_empty_feed() -> None:
    parsed = _build_feed()
    assert parsed.feed.title == "Epoch Pod"
    assert parsed.feed.language == "en"
    assert parsed.feed.tags[0].term == "History"
    assert parsed.entries == []


def test_text_that_xml_cannot_carry_is_dropped_and_markup_escaped() -> None:
    item = FeedItem(
        episode_id="ep-1",
        type="INTERVIEW",
        title="Watt & Blake <live>",
        description="vertical\x0btab",
        published_at=dt.datetime(2025, 5, 1, 12, tzinfo=dt.UTC),
        audio_url="https://cdn.example.com/a.mp3?x=1&y=2",
        audio_bytes=10,
        duration_seconds=3725.4,
        transcript_url=None,
        chapters_url=None,
    )
    xml = render_feed(ChannelSettings(), [item], "https://x/feed.xml", dt.datetime.now(dt.UTC))
    entry = feedparser.parse(xml).entries[0]
    assert entry.title == "Watt & Blake <live>"
    assert entry.summary == "verticaltab"
    assert entry.enclosures[0].href == "https://cdn.example.com/a.mp3?x=1&y=2"
    assert entry.itunes_duration == "01:02:05"


def test_lists_published_episodes_newest_first_with_entry_tracks() -> None:
    db = open_catalog()
    # The store as the code location builds it: local media linked through `epochpod serve`.
    store = LocalMediaStore(settings.media_root(), settings.load().local_media_url)
    # Published before media moved to this storage: no manifest, listed from the row.
    legacy = _publish(
        db,
        INTERVIEW,
        INTERVIEW_DETAIL,
        audio_url="https://old.example.com/legacy.mp3",
        audio_bytes=4321,
        duration_seconds=61,
    )
    story_map = {
        "n0": {"title": "Gates", "choices": [{"label": "Storm it", "next": "n1"}]},
        "n1": {"title": "Inside", "choices": []},
    }
    adventure = enqueue(ADVENTURE, db)
    # The manifest lists the ending first on purpose: the entry node decides the entry track.
    put_json(
        store,
        episode_key(adventure, "audio.json"),
        [
            {
                "key": "n1",
                "bytes": 99,
                "duration_seconds": 9.0,
                "captions_url": "x",
                "chapters": [],
            },
            {
                "key": "n0",
                "bytes": 2048,
                "duration_seconds": 75.6,
                "captions_url": "x",
                "chapters": [
                    {"title": "Gates", "start": 0.0, "end": 40.0},
                    {"title": "Crowd", "start": 40.0, "end": 75.6},
                ],
            },
        ],
    )
    db.publish(
        adventure,
        {"title": "Adventure: 1789", "description": "Choose.", "duration_seconds": 300},
        {"narrator_voice": "onyx", "entry_node": "n0", "story_map": story_map},
    )
    enqueue(INTERVIEW, db)  # still PENDING: not in the feed

    entries = _build_feed().entries
    assert [e.id for e in entries] == [adventure, legacy]

    first = entries[0]
    assert first.title == "Adventure: 1789"
    assert first.summary == "Choose. Your first choice: Storm it."
    assert first.enclosures[0].href == store.url(episode_key(adventure, "audio/n0.mp3"))
    assert first.enclosures[0].length == "2048"
    assert first.itunes_duration == "00:01:16", "the entry track's length, not the path's"
    assert first.podcast_transcript["url"] == store.url(episode_key(adventure, "audio/n0.vtt"))
    chapters_key = episode_key(adventure, "audio/n0.chapters.json")
    assert first.podcast_chapters["url"] == store.url(chapters_key)
    chapters = json.loads(store.get(chapters_key))
    assert chapters["version"] == "1.2.0"
    assert [(c["startTime"], c["title"]) for c in chapters["chapters"]] == [
        (0.0, "Gates"),
        (40.0, "Crowd"),
    ]

    old = entries[1]
    assert old.enclosures[0].href == "https://old.example.com/legacy.mp3"
    assert old.enclosures[0].length == "4321"
    assert old.itunes_duration == "00:01:01"
    assert "podcast_transcript" not in old


def tick(instance: dg.DagsterInstance, cursor: str | None) -> tuple[bool, str | None]:
    """One evaluation of publication_reports: whether it asked for a rebuild, its cursor."""
    with dg.build_sensor_context(instance=instance, cursor=cursor) as context:
        result = publication_reports(context)
        return isinstance(result, dg.RunRequest), context.cursor


def test_a_publication_requests_a_rebuild_and_missing_episodes_do_not_block_it() -> None:
    with dg.instance_for_test() as instance:
        # ep-2 never publishes (queued, generating or failed): the feed must not wait for it.
        instance.add_dynamic_partitions("episodes", ["ep-1", "ep-2"])
        # A daemon's first tick builds both reports, for whatever was published before it
        # started (by `epochpod run`, or while it was down) ...
        asked, cursor = tick(instance, None)
        assert asked
        # ... and then waits for the next publication.
        asked, cursor = tick(instance, cursor)
        assert not asked

        instance.report_runless_asset_event(
            dg.AssetMaterialization("published_episode", partition="ep-1")
        )
        asked, cursor = tick(instance, cursor)
        assert asked
        # Handled: nothing more until the next publication.
        asked, cursor = tick(instance, cursor)
        assert not asked

        # Upstream progress of another episode is not a publication.
        instance.report_runless_asset_event(
            dg.AssetMaterialization("episode_audio", partition="ep-2")
        )
        asked, cursor = tick(instance, cursor)
        assert not asked


def test_a_publication_during_a_rebuild_is_not_lost() -> None:
    """The race the declarative condition lost: the rebuild finishes and an episode publishes
    between two ticks. The publication is newer than what the rebuild was asked for."""
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("episodes", ["ep-1", "ep-2"])
        instance.report_runless_asset_event(
            dg.AssetMaterialization("published_episode", partition="ep-1")
        )
        asked, cursor = tick(instance, None)
        assert asked
        # Between two ticks: the rebuild it asked for completes, and ep-2 is published.
        instance.report_runless_asset_event(dg.AssetMaterialization(podcast_feed.key))
        instance.report_runless_asset_event(
            dg.AssetMaterialization("published_episode", partition="ep-2")
        )
        asked, cursor = tick(instance, cursor)
        assert asked, "ep-2's publication asks for another rebuild"


def test_the_sensor_rebuilds_both_reports() -> None:
    assert publication_reports.asset_selection is not None
    keys = publication_reports.asset_selection.resolve(defs.resolve_asset_graph())
    assert keys == {podcast_feed.key, dg.AssetKey("generation_costs")}


def test_the_automation_sensor_runs_without_a_ui_step() -> None:
    sensor = defs.get_sensor_def("publication_reports")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
        return body


@pytest.mark.slow
def test_published_episodes_are_in_the_feed_served_from_s3(s3_media: S3Endpoint) -> None:
    db = open_catalog()
    ids = {
        kind: enqueue(dict(request, target_minutes=1), db)
        for kind, request in (("interview", INTERVIEW), ("adventure", ADVENTURE))
    }
    resources = resources_from_env()
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("episodes", list(ids.values()))
        for episode_id in ids.values():
            run = dg.materialize(
                [
                    episode_research,
                    episode_outline,
                    episode_script,
                    episode_audio,
                    published_episode,
                ],
                partition_key=episode_id,
                instance=instance,
                resources=resources,
            )
            assert run.success
        feed_run = dg.materialize([podcast_feed], instance=instance, resources=resources)
    metadata = feed_run.asset_materializations_for_node("podcast_feed")[0].metadata
    assert metadata["episode_count"].value == 2
    assert metadata["feed_url"].value == f"s3://{s3_media.bucket}/media/feed.xml"
    assert "X-Amz-Signature" not in repr(metadata)

    xml = s3_media.client().get_object(Bucket=s3_media.bucket, Key="media/feed.xml")["Body"].read()
    parsed = feedparser.parse(xml)
    assert not parsed.bozo
    entries = {e.id: e for e in parsed.entries}
    assert set(entries) == set(ids.values())

    for kind, episode_id in ids.items():
        row = db.get(episode_id)
        assert row is not None
        entry = entries[episode_id]
        assert entry.title == row["title"]
        assert entry.published_parsed[:6] == row["published_at"].timetuple()[:6]
        # Every link in the item works: audio, captions, chapters.
        mp3 = _fetch(entry.enclosures[0].href)
        assert len(mp3) == int(entry.enclosures[0].length) > 10_000
        assert entry.enclosures[0].type == "audio/mpeg"
        assert _fetch(entry.podcast_transcript["url"]).startswith(b"WEBVTT")
        chapters = json.loads(_fetch(entry.podcast_chapters["url"]))
        assert chapters["chapters"] and chapters["chapters"][0]["startTime"] == 0
        if kind == "adventure":
            detail = db.detail(episode_id, "ADVENTURE")
            assert detail is not None
            entry_node = detail["story_map"][detail["entry_node"]]
            assert (
                mp3
                == s3_media.client()
                .get_object(
                    Bucket=s3_media.bucket,
                    Key=f"media/episodes/{episode_id}/audio/{detail['entry_node']}.mp3",
                )["Body"]
                .read()
            )
            assert int(entry.enclosures[0].length) == entry_node["audio_bytes"]
            assert "Your first choice:" in entry.summary
        else:
            assert mp3 == _fetch(row["audio_url"])
