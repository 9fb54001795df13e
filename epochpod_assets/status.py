"""The generation statuses and progress numbers the web app already understands."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class Stage(StrEnum):
    PENDING = "PENDING"
    RESEARCHING = "RESEARCHING"
    GENERATING_OUTLINE = "GENERATING_OUTLINE"
    GENERATING_SCRIPT = "GENERATING_SCRIPT"
    # A request that asked for review stops here until an editor approves or rejects its
    # script (editorial/review.py). Not stuck: nothing runs until someone decides.
    AWAITING_REVIEW = "AWAITING_REVIEW"
    GENERATING_AUDIO = "GENERATING_AUDIO"
    UPLOADING = "UPLOADING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def progress(self) -> int:
        """The progress the original wrote on entering this stage."""
        if self not in _PROGRESS:
            raise ValueError(f"{self.value} keeps the progress it had")
        return _PROGRESS[self]


_PROGRESS = {
    Stage.PENDING: 0,
    Stage.RESEARCHING: 5,
    Stage.GENERATING_OUTLINE: 10,
    Stage.GENERATING_SCRIPT: 40,
    Stage.AWAITING_REVIEW: 60,
    Stage.GENERATING_AUDIO: 70,
    Stage.UPLOADING: 90,
    Stage.COMPLETED: 100,
}
TERMINAL = frozenset({Stage.COMPLETED, Stage.FAILED, Stage.CANCELLED})


def regenerating(row: Mapping[str, Any]) -> bool:
    """A published episode being made again: it stays PUBLISHED (listeners keep the old audio)
    while its generation_status moves through the stages of the new attempt."""
    return row["status"] == "PUBLISHED" and Stage(row["generation_status"]) not in TERMINAL


# States in which no run works on the episode and none should: the terminal ones and the
# review gate. The sweeper and the run-failure sensor leave a resting episode alone.
RESTING = TERMINAL | {Stage.AWAITING_REVIEW}
