"""moto's S3 server on loopback, for tests that drive the real boto3 client over HTTP.

Use the `s3_media` fixture to point the whole pipeline (`resources_from_env()`) at a fresh
bucket. Import it into a test module (`from epochpod_assets_tests.support.s3 import s3_media`)
or call `S3Endpoint.env()` to hand the same settings to a subprocess (the daemon, a worker):
the server listens on 127.0.0.1, so any process on this machine can reach it.
"""

from __future__ import annotations

import atexit
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

# moto accepts any credentials; fixed fake ones keep boto3 from looking for real ones.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# Settings that would send boto3 somewhere else than the test server if inherited.
_CLEARED = (
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "EPOCHPOD_S3_REGION",
    "EPOCHPOD_PUBLIC_BASE_URL",
    "EPOCHPOD_S3_PRESIGN_SECONDS",
)


@dataclass(frozen=True)
class S3Endpoint:
    """One bucket on the moto server, and the environment that sends media there."""

    endpoint_url: str
    bucket: str
    prefix: str = "media"

    @property
    def storage_url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def env(self) -> dict[str, str]:
        """Environment variables that make `resources_from_env()` store media in this bucket."""
        return {
            **FAKE_CREDENTIALS,
            "EPOCHPOD_STORAGE_URL": self.storage_url,
            "EPOCHPOD_S3_ENDPOINT_URL": self.endpoint_url,
        }

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=FAKE_CREDENTIALS["AWS_DEFAULT_REGION"],
        )

    def keys(self) -> list[str]:
        """Every object key in the bucket (prefix included), sorted."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


@contextmanager
def moto_s3_server() -> Iterator[str]:
    """A moto server on a free loopback port; yields its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


_shared: list[str] = []
_shared_lock = threading.Lock()


def shared_moto_s3_endpoint() -> str:
    """One server for the whole test process, started on first use and stopped at exit.

    A plain function rather than a session fixture, so importing `s3_media` alone is enough.
    """
    with _shared_lock:
        if not _shared:
            server = moto_s3_server()
            _shared.append(server.__enter__())
            atexit.register(server.__exit__, None, None, None)
        return _shared[0]


@pytest.fixture
def s3_media(monkeypatch: pytest.MonkeyPatch) -> S3Endpoint:
    """A fresh bucket, with the environment set so the pipeline stores its media there."""
    endpoint = S3Endpoint(shared_moto_s3_endpoint(), f"epochpod-test-{uuid.uuid4().hex[:12]}")
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    for name, value in endpoint.env().items():
        monkeypatch.setenv(name, value)
    endpoint.client().create_bucket(Bucket=endpoint.bucket)
    return endpoint
