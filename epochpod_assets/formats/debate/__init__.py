"""Debate: a moderator and two to four historical figures argue a question in rounds."""

from epochpod_assets.formats.debate.format import DebateFormat

__all__ = ["DebateFormat"]
