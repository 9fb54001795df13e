"""Media storage: where outlines, scripts, audio, captions and the segment cache live.

Keys are built from the episode id and fixed names only, never from user text, so a regenerated
episode keeps its URLs and nothing a user types can escape the episode's folder.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Protocol, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


class MediaStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> str:
        """Store bytes under key; return the URL listeners and the web app use."""

    def get(self, key: str) -> bytes:
        """Raise KeyError when the key does not exist."""

    def exists(self, key: str) -> bool: ...

    def url(self, key: str) -> str: ...


class LocalMediaStore:
    """A folder on disk. URLs are file URLs unless a public base URL serves the folder."""

    def __init__(self, root: Path, public_base_url: str | None = None) -> None:
        self.root = root
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"media key escapes the media folder: {key!r}")
        return path

    def put(self, key: str, data: bytes, content_type: str) -> str:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader never sees half a file and a crash leaves no torn one.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.url(key)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def url(self, key: str) -> str:
        if self.public_base_url:
            return f"{self.public_base_url}/{key}"
        return self._path(key).as_uri()


def put_model(store: MediaStore, key: str, model: BaseModel) -> str:
    return store.put(key, model.model_dump_json(indent=2).encode(), "application/json")


def get_model(store: MediaStore, key: str, model: type[M]) -> M:
    return model.model_validate_json(store.get(key))


def put_json(store: MediaStore, key: str, value: object) -> str:
    return store.put(key, json.dumps(value, indent=2).encode(), "application/json")


def episode_key(episode_id: str, name: str) -> str:
    return f"episodes/{episode_id}/{name}"
