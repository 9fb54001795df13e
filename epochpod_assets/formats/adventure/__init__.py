"""Adventure: a branching choose-your-own-adventure story, one audio track per story node."""

# Everything the format's modules define is importable from the package, as it was from the
# single module it once was (formats/adventure.py).
from epochpod_assets.formats.adventure.format import *  # noqa: F403
from epochpod_assets.formats.adventure.format import AdventureFormat
from epochpod_assets.formats.adventure.request import AdventureRequest  # noqa: F401

FORMAT = AdventureFormat()
