"""Epoch Pod's content pipeline: AI history podcasts as a Dagster asset graph."""

from epochpod_assets.intake import enqueue
from epochpod_assets.requests import RequestError

__all__ = ["RequestError", "enqueue"]
