"""`epochpod serve`: the local media folder (episode audio, captions, chapters, the podcast
feed, the cost reports) over HTTP on loopback.

So that the Dagster UI's audio and caption links open in a browser (which will not follow a
`file://` link from an http page), and a podcast app on the same machine can subscribe to
`http://127.0.0.1:8765/feed.xml` and seek in an episode: Starlette's `FileResponse` answers
`Range` requests with 206 Partial Content. `StaticFiles` keeps every request inside the media
folder (no `..`, no symlink out of it); hidden files (a store's half-written temp files) and
folders are not served. Loopback only: this is a local convenience, not a production server
(production media lives in S3 behind EPOCHPOD_PUBLIC_BASE_URL).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from epochpod_assets import settings

DEFAULT_HOST = "127.0.0.1"
FEED = "feed.xml"
# What podcast apps and browsers expect; `mimetypes` would call the feed application/xml and
# may not know WebVTT at all.
CONTENT_TYPES = {
    ".mp3": "audio/mpeg",
    ".vtt": "text/vtt; charset=utf-8",
    ".json": "application/json",
    ".csv": "text/csv; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
}


class ServeError(ValueError):
    """A setting `epochpod serve` cannot use."""


class MediaFiles(StaticFiles):
    """`StaticFiles` with the media types above and no hidden files."""

    def file_response(
        self, full_path: Any, stat_result: Any, scope: Scope, status_code: int = 200
    ) -> Response:
        path = Path(full_path)
        response = super().file_response(full_path, stat_result, scope, status_code)
        media_type = "application/rss+xml" if path.name == FEED else CONTENT_TYPES.get(path.suffix)
        if media_type:
            response.headers["content-type"] = media_type
            response.media_type = media_type
        return response

    def lookup_path(self, path: str) -> tuple[str, Any]:
        if any(part.startswith(".") for part in Path(path).parts):
            return "", None
        return super().lookup_path(path)


def app(root: Path) -> Starlette:
    """The ASGI app serving `root`."""

    async def home(_: Any) -> Response:
        # The one address worth remembering: where to subscribe.
        return RedirectResponse(f"/{FEED}", status_code=307)

    async def missing_root(_: Any) -> Response:
        return PlainTextResponse("no media yet", status_code=404)

    routes: list[Any] = [Route("/", home)]
    if root.is_dir():
        routes.append(Mount("/", app=MediaFiles(directory=root, follow_symlink=False)))
    else:
        # Nothing generated yet: serve nothing rather than refuse to start.
        routes.append(Route("/{path:path}", missing_root))
    return Starlette(routes=routes)


def check_loopback(host: str) -> str:
    if host == "localhost":
        return host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ServeError(
            f"--host: expected a loopback address such as 127.0.0.1, got {host!r}"
        ) from None
    if not address.is_loopback:
        raise ServeError(
            f"--host: {host} is not a loopback address; epochpod serve is for this machine only "
            "(serve media from S3 or a web server in production)"
        )
    return host


def local_root(config: settings.Settings) -> Path:
    """The folder the local media store writes to (resources.MediaResource)."""
    if config.storage_url and config.storage_url.startswith("file://"):
        return Path(config.storage_url.removeprefix("file://"))
    if config.storage_url and "://" in config.storage_url:
        raise ServeError(
            "EPOCHPOD_STORAGE_URL: media are in object storage, not a local folder; "
            "epochpod serve serves only the local folder"
        )
    return Path(config.storage_url) if config.storage_url else config.media_root


def local_path(url: str) -> Path | None:
    """The file behind a URL of the local media server, or None for any other URL."""
    config = settings.load()
    base = config.local_media_url + "/"
    if not url.startswith(base):
        return None
    try:
        root = local_root(config)
    except ServeError:
        return None
    path = (root / unquote(url.removeprefix(base).partition("?")[0])).resolve()
    return path if path.is_relative_to(root.resolve()) else None


def serve(host: str = DEFAULT_HOST, port: int | None = None) -> None:
    """Serve the media folder until interrupted."""
    import uvicorn

    check_loopback(host)
    config = settings.load()
    root = local_root(config)
    port = port or config.serve_port
    print(f"serving {root} at http://{host}:{port}/ (feed: http://{host}:{port}/{FEED})")
    uvicorn.run(app(root), host=host, port=port, log_level="warning")
