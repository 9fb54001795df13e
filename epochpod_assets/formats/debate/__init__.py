"""Debate: a moderator and two to four historical figures argue a question in rounds."""

from epochpod_assets.formats.debate.format import DebateFormat
from epochpod_assets.formats.debate.request import DebateRequest, Participant

FORMAT = DebateFormat()

__all__ = ["FORMAT", "DebateFormat", "DebateRequest", "Participant"]
