"""Debate: a moderator and two to four historical figures argue a question in rounds."""

# Everything the format's modules define is importable from the package, as it was from the
# single module it once was (formats/debate.py).
from epochpod_assets.formats.debate.format import *  # noqa: F403
from epochpod_assets.formats.debate.format import DebateFormat
from epochpod_assets.formats.debate.request import DebateRequest, Participant  # noqa: F401

FORMAT = DebateFormat()
