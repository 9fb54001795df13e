"""Adventure: a branching choose-your-own-adventure story, one audio track per story node."""

from epochpod_assets.formats.adventure.format import AdventureFormat, tree
from epochpod_assets.formats.adventure.request import AdventureRequest

FORMAT = AdventureFormat()

__all__ = ["FORMAT", "AdventureFormat", "AdventureRequest", "tree"]
