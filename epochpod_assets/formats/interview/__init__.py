"""Interview: the Epoch host talks with one historical figure."""

from epochpod_assets.formats.interview.format import InterviewFormat
from epochpod_assets.formats.interview.request import InterviewRequest

FORMAT = InterviewFormat()

__all__ = ["FORMAT", "InterviewFormat", "InterviewRequest"]
