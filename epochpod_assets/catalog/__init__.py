"""The catalog database: the episode queue, per-format detail and generation metrics."""

from epochpod_assets.catalog.store import Catalog

__all__ = ["Catalog"]
