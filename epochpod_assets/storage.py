"""Media storage: where outlines, scripts, audio, captions and the segment cache live.

A local folder by default, an S3 bucket in production (`MediaResource` picks one from config).

Keys are built from the episode id and fixed names only, never from user text, so a regenerated
episode keeps its URLs and nothing a user types can escape the episode's folder.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, urlsplit

from botocore.exceptions import ClientError
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


# SigV4 refuses presigned URLs that live longer than seven days.
MAX_PRESIGN_SECONDS = 7 * 24 * 3600


class S3MediaStore:
    """An S3 bucket (or any S3-compatible store: MinIO, R2, moto) under an optional prefix.

    URLs, in order of preference:
    - `public_base_url` + key when a CDN or public bucket serves the prefix: stable forever,
      which is what the catalog's audio_url and a podcast feed need in production;
    - otherwise a presigned GET URL valid for `presign_seconds`: playable by a browser, but it
      expires, so it suits private staging buckets (the feed re-signs on every rebuild);
    - `presign_seconds == 0`: the `s3://bucket/key` URI, for a web app that signs on read.
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        public_base_url: str | None = None,
        presign_seconds: int = MAX_PRESIGN_SECONDS,
    ) -> None:
        if not 0 <= presign_seconds <= MAX_PRESIGN_SECONDS:
            raise ValueError(
                f"presign_seconds must be from 0 to {MAX_PRESIGN_SECONDS}, got {presign_seconds}"
            )
        self.client = client
        # botocore presigns with legacy SigV2 unless a signature version is set explicitly,
        # and a client made elsewhere may not set one. SigV2 is refused by newer AWS regions and by
        # R2, and its URLs ignore the 7-day limit we promise, so ask for SigV4 first.
        client.meta.events.register_first("choose-signer.s3.*", _prefer_sigv4)
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.presign_seconds = presign_seconds

    def object_key(self, key: str) -> str:
        parts = key.split("/")
        # The same guarantee as the local folder: a key never leaves the configured prefix.
        if key.startswith("/") or any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"media key escapes the media prefix: {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes, content_type: str) -> str:
        # A single PUT is atomic in S3: readers see the old object or the new one, never half.
        self.client.put_object(
            Bucket=self.bucket, Key=self.object_key(key), Body=data, ContentType=content_type
        )
        return self.url(key)

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as error:
            if _is_missing(error):
                raise KeyError(key) from None
            raise
        body: bytes = response["Body"].read()
        return body

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as error:
            # Without s3:ListBucket, S3 answers 403 for a missing key; that is a permissions
            # problem to surface, not a cache miss to paper over.
            if _is_missing(error):
                return False
            raise
        return True

    def url(self, key: str) -> str:
        object_key = self.object_key(key)
        if self.public_base_url:
            return f"{self.public_base_url}/{quote(key)}"
        if self.presign_seconds == 0:
            return self.location(key)
        # Signing is local computation with the client's credentials; no request is made.
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": object_key},
            ExpiresIn=self.presign_seconds,
        )
        return url

    def location(self, key: str) -> str:
        """Where the object is, without any signature: safe to show in logs and the UI."""
        return f"s3://{self.bucket}/{self.object_key(key)}"


def _prefer_sigv4(signature_version: Any, **_: Any) -> str | None:
    # Keep the client's own SigV4 choice; unsigned sessions and other signers (S3 Express,
    # SigV4a) are left to botocore.
    return "s3v4" if signature_version in _SIGV4 else None


_SIGV4 = frozenset({"v4", "v4-query", "s3v4", "s3v4-query"})


def _is_missing(error: ClientError) -> bool:
    code = str(error.response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/prefix` -> (bucket, prefix). The prefix may be empty."""
    parsed = urlsplit(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"expected s3://bucket[/prefix], got {url!r}")
    return parsed.netloc, parsed.path.strip("/")


def display_url(store: MediaStore, key: str) -> str:
    """A URL for metadata and logs. A presigned URL is a bearer token for the object (and may
    carry a session token), so signed stores show their unsigned location instead."""
    if isinstance(store, S3MediaStore) and not store.public_base_url:
        return store.location(key)
    return store.url(key)
