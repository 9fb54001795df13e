"""Interview: the Epoch host talks with one historical figure."""

# Everything the format's modules define is importable from the package, as it was from the
# single module it once was (formats/interview.py).
from epochpod_assets.formats.interview.format import *  # noqa: F403
from epochpod_assets.formats.interview.format import InterviewFormat
from epochpod_assets.formats.interview.request import InterviewRequest  # noqa: F401

FORMAT = InterviewFormat()
