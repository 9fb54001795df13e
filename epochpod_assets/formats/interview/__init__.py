"""Interview: the Epoch host talks with one historical figure."""

from epochpod_assets.formats.interview.format import InterviewFormat

__all__ = ["InterviewFormat"]
