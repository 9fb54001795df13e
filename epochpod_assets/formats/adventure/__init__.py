"""Adventure: a branching choose-your-own-adventure story, one audio track per story node."""

from epochpod_assets.formats.adventure.format import AdventureFormat, tree

__all__ = ["AdventureFormat", "tree"]
