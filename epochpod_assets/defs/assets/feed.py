"""The podcast feed: RSS 2.0 with the iTunes and Podcasting 2.0 namespaces, rebuilt from the
catalog's published episodes whenever one is published.

Also home of what rebuilds the show-level reports on publication (the `publication_reports`
sensor), which `generation_costs` shares.
"""

import datetime as dt
import email.utils
import html
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import dagster as dg

from epochpod_assets import media, settings
from epochpod_assets.catalog import Catalog
from epochpod_assets.defs.assets.episodes import published_episode
from epochpod_assets.defs.resources import CatalogResource, MediaResource
from epochpod_assets.formats import format_for
from epochpod_assets.media import TrackEntry
from epochpod_assets.storage import MediaStore, display_url

GROUP = "reports"
FEED_KEY = "feed.xml"

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST = "https://podcastindex.org/namespace/1.0"
ATOM = "http://www.w3.org/2005/Atom"
for _prefix, _uri in (("itunes", ITUNES), ("podcast", PODCAST), ("atom", ATOM)):
    ET.register_namespace(_prefix, _uri)

# Episode objects are fetched in parallel: on S3 each is a round trip.
FETCHES_AT_ONCE = 16
# Characters XML 1.0 cannot carry at all; model output occasionally contains them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

# How often the daemon looks for new publications (a cheap read of the event log's index).
PUBLICATION_CHECK_SECONDS = 10


@dg.sensor(
    name="publication_reports",
    asset_selection=dg.AssetSelection.groups(GROUP),
    minimum_interval_seconds=PUBLICATION_CHECK_SECONDS,
    # Running from the start: a fresh deployment's daemon rebuilds the feed with no UI step.
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Rebuilds the podcast feed and the cost report when an episode is published, "
    "and once when the daemon first starts.",
)
def publication_reports(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    """Asks for one rebuild of the show-level reports whenever published_episode has a newer
    materialization than the last rebuild was asked for.

    A cursor on the event log, not a declarative condition: an automation tick that saw a
    rebuild finish and an episode publish in the same interval counted the publication as
    handled, and the feed missed it until the next one. Here a publication that lands while a
    rebuild runs is newer than the cursor and asks for another. The first tick (no cursor)
    rebuilds for whatever was published before the daemon started (by `epochpod run`, or
    while it was down).
    """
    latest = context.instance.fetch_materializations(published_episode.key, limit=1).records
    newest = latest[0].storage_id if latest else 0
    if context.cursor is not None and newest <= int(context.cursor):
        return dg.SkipReason("no episode published since the last rebuild")
    context.update_cursor(str(newest))
    # The run key makes a tick that died after asking harmless: the same rebuild once.
    return dg.RunRequest(run_key=f"publication-{newest}", tags={"epochpod/kind": "reports"})


@dataclass(frozen=True)
class ChannelSettings:
    """The show as podcast directories list it. Everything comes from EPOCHPOD_FEED_*."""

    title: str = "Epoch Pod"
    description: str = (
        "History, voiced: interviews with historical figures, debates between them and "
        "choose-your-own-adventure stories, written and voiced by AI."
    )
    link: str | None = None
    image_url: str | None = None
    author: str = "Epoch Pod"
    owner_email: str | None = None
    category: str = "History"
    language: str = "en"
    explicit: bool = False

    @classmethod
    def from_env(cls) -> "ChannelSettings":
        """The channel as EPOCHPOD_FEED_* set it (a bad value raises `settings.SettingsError`)."""
        config = settings.load()
        defaults = cls()
        return cls(
            title=config.feed_title or defaults.title,
            description=config.feed_description or defaults.description,
            link=config.feed_link,
            image_url=config.feed_image_url,
            author=config.feed_author or defaults.author,
            owner_email=config.feed_owner_email,
            category=config.feed_category or defaults.category,
            language=config.feed_language or defaults.language,
            explicit=config.feed_explicit,
        )


@dataclass(frozen=True)
class FeedItem:
    episode_id: str
    type: str
    title: str
    description: str
    published_at: dt.datetime
    audio_url: str
    audio_bytes: int
    duration_seconds: float
    transcript_url: str | None
    chapters_url: str | None


@dg.asset(
    group_name=GROUP,
    deps=[published_episode],
    kinds={"python", "xml"},
)
def podcast_feed(
    context: dg.AssetExecutionContext, catalog: CatalogResource, media: MediaResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """The show's RSS feed, the one URL podcast apps and directories subscribe to: every
    published episode with its audio, duration, transcript and chapters (an adventure appears
    as its opening track)."""
    db, store = catalog.get(), media.get()
    channel = ChannelSettings.from_env()
    items = feed_items(db, store)
    feed_url = store.url(FEED_KEY)
    xml = render_feed(channel, items, feed_url, dt.datetime.now(dt.UTC))
    store.put(FEED_KEY, xml, "application/rss+xml")
    if not channel.image_url:
        # Apple and Spotify reject a show without artwork; the feed is still valid RSS.
        context.log.warning("EPOCHPOD_FEED_IMAGE_URL is not set: the feed has no artwork")
    return dg.MaterializeResult(
        metadata={
            "episode_count": len(items),
            "feed_url": display_url(store, FEED_KEY),
            "feed_bytes": len(xml),
            "latest_published_at": items[0].published_at.isoformat() if items else None,
            "preview": dg.MetadataValue.md(feed_preview(channel, items)),
        }
    )


def feed_items(db: Catalog, store: MediaStore) -> list[FeedItem]:
    """Every published episode, newest first, with URLs signed or resolved now."""
    rows = db.published()
    with ThreadPoolExecutor(max_workers=FETCHES_AT_ONCE, thread_name_prefix="feed") as pool:
        return list(pool.map(lambda row: _item(row, store), rows))


def _item(row: dict[str, Any], store: MediaStore) -> FeedItem:
    episode_id: str = row["id"]
    # The format shapes its entry: an adventure lists its opening track and first choice.
    entry = format_for(row["type"]).feed_entry(row["description"] or "", row["detail"])
    description = entry.description
    track = _entry_track(store, episode_id, entry.track_key)
    if track is None:
        # Published before this storage held it (say, before moving from the local folder to
        # S3): list it from the catalog row alone rather than drop it from the feed.
        return FeedItem(
            episode_id=episode_id,
            type=row["type"],
            title=row["title"],
            description=description,
            published_at=_utc(row["published_at"]),
            audio_url=row["audio_url"] or "",
            audio_bytes=int(row["audio_bytes"] or 0),
            duration_seconds=float(row["duration_seconds"] or 0),
            transcript_url=None,
            chapters_url=None,
        )
    chapters_url = None
    if track.chapters:
        chapters_key = media.track_key(episode_id, track.key, "chapters.json")
        # Rewritten on every rebuild: a regenerated episode's chapters change under the same
        # key, and one tiny PUT is cheaper than reading the old copy to compare.
        chapters_url = store.put(
            chapters_key,
            podcast_chapters([c.model_dump() for c in track.chapters]),
            "application/json+chapters",
        )
    captions = media.track_key(episode_id, track.key, "vtt")
    return FeedItem(
        episode_id=episode_id,
        type=row["type"],
        title=row["title"],
        description=description,
        published_at=_utc(row["published_at"]),
        # The track's URL is made now, not read from the manifest: a presigned one expires.
        audio_url=store.url(media.track_key(episode_id, track.key, "mp3")),
        audio_bytes=track.bytes,
        # The enclosure's own length; an adventure's catalog duration is a whole path's.
        duration_seconds=track.duration_seconds,
        transcript_url=store.url(captions) if track.captions_url else None,
        chapters_url=chapters_url,
    )


def _entry_track(store: MediaStore, episode_id: str, track_key: str | None) -> TrackEntry | None:
    try:
        manifest = media.load_manifest(store, episode_id)
    except KeyError:
        return None
    if not manifest:
        return None
    # The first track is the entry, as `published_episode` publishes it, unless the format
    # names its entry track.
    return next((t for t in manifest if t.key == track_key), manifest[0])


def podcast_chapters(chapters: Sequence[dict[str, Any]]) -> bytes:
    """Podcasting 2.0 JSON chapters (version 1.2.0) from the audio manifest's chapters."""
    document = {
        "version": "1.2.0",
        "chapters": [
            {
                "startTime": round(float(c["start"]), 3),
                "endTime": round(float(c["end"]), 3),
                "title": c["title"],
            }
            for c in chapters
        ],
    }
    return json.dumps(document, indent=2).encode()


def render_feed(
    channel: ChannelSettings, items: Sequence[FeedItem], feed_url: str, now: dt.datetime
) -> bytes:
    """The RSS 2.0 document, UTF-8 encoded with an XML declaration."""
    rss = ET.Element("rss", {"version": "2.0"})
    ch = ET.SubElement(rss, "channel")
    _text(ch, "title", channel.title)
    _text(ch, "link", channel.link or feed_url)
    _text(ch, "description", html.escape(channel.description))
    _text(ch, "language", channel.language)
    _text(ch, "generator", "Epoch Pod (Dagster)")
    _text(ch, "lastBuildDate", email.utils.format_datetime(_utc(now)))
    ET.SubElement(
        ch,
        f"{{{ATOM}}}link",
        {"href": feed_url, "rel": "self", "type": "application/rss+xml"},
    )
    _text(ch, f"{{{ITUNES}}}author", channel.author)
    _text(ch, f"{{{ITUNES}}}summary", channel.description)
    _text(ch, f"{{{ITUNES}}}type", "episodic")
    _text(ch, f"{{{ITUNES}}}explicit", "true" if channel.explicit else "false")
    ET.SubElement(ch, f"{{{ITUNES}}}category", {"text": channel.category})
    if channel.image_url:
        ET.SubElement(ch, f"{{{ITUNES}}}image", {"href": channel.image_url})
        image = ET.SubElement(ch, "image")
        _text(image, "url", channel.image_url)
        _text(image, "title", channel.title)
        _text(image, "link", channel.link or feed_url)
    if channel.owner_email:
        owner = ET.SubElement(ch, f"{{{ITUNES}}}owner")
        _text(owner, f"{{{ITUNES}}}name", channel.author)
        _text(owner, f"{{{ITUNES}}}email", channel.owner_email)
    for item in items:
        _item_element(ch, item, channel.language)
    ET.indent(rss)
    data: bytes = ET.tostring(rss, encoding="utf-8", xml_declaration=True)
    return data


def _item_element(channel: ET.Element, item: FeedItem, language: str) -> None:
    el = ET.SubElement(channel, "item")
    _text(el, "title", item.title)
    # RSS descriptions are HTML: escaped, plain text shows as written (a "<" stays a "<").
    _text(el, "description", html.escape(item.description))
    # The episode id: stable across regenerations, so apps never list an episode twice.
    _text(el, "guid", item.episode_id).set("isPermaLink", "false")
    _text(el, "pubDate", email.utils.format_datetime(item.published_at))
    ET.SubElement(
        el,
        "enclosure",
        {"url": item.audio_url, "length": str(item.audio_bytes), "type": "audio/mpeg"},
    )
    _text(el, f"{{{ITUNES}}}title", item.title)
    _text(el, f"{{{ITUNES}}}duration", _hms(item.duration_seconds))
    _text(el, f"{{{ITUNES}}}episodeType", "full")
    _text(el, f"{{{ITUNES}}}summary", item.description)
    if item.transcript_url:
        ET.SubElement(
            el,
            f"{{{PODCAST}}}transcript",
            {
                "url": item.transcript_url,
                "type": "text/vtt",
                "language": language,
                "rel": "captions",
            },
        )
    if item.chapters_url:
        ET.SubElement(
            el,
            f"{{{PODCAST}}}chapters",
            {"url": item.chapters_url, "type": "application/json+chapters"},
        )


def feed_preview(channel: ChannelSettings, items: Sequence[FeedItem], limit: int = 10) -> str:
    lines = [
        f"## {channel.title}",
        f"{len(items)} episodes · {channel.language} · {channel.category}",
        "",
        "| published | format | title | duration |",
        "| --- | --- | --- | --- |",
    ]
    for item in items[:limit]:
        title = item.title.replace("|", "\\|")
        lines.append(
            f"| {item.published_at:%Y-%m-%d %H:%M} | {item.type.lower()} | {title} "
            f"| {_hms(item.duration_seconds)} |"
        )
    if len(items) > limit:
        lines.append(f"\n…and {len(items) - limit} older episodes.")
    return "\n".join(lines)


def _text(parent: ET.Element, tag: str, value: str) -> ET.Element:
    child = ET.SubElement(parent, tag)
    child.text = _NOT_XML.sub("", value)
    return child


def _hms(seconds: float) -> str:
    total = round(seconds)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def _utc(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; the catalog writes them in UTC.
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
