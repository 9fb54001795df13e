"""What a documentary request may ask for, and what makes one invalid."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from epochpod_assets.history.dates import AsOf
from epochpod_assets.requests import Count, Name, Prose, RequestBase, Topic, Voice

# A part needs room for some narration and at least one passage read in character.
MIN_WORDS_PER_PART = 80
# One chapter about every five minutes, as long-form podcasts are chaptered.
MINUTES_PER_PART = 5.0
MAX_PARTS = 12

# Figures without a voice get the first of these not already taken.
FIGURE_VOICES = ("onyx", "nova", "echo", "shimmer", "ash", "coral", "sage")


class Figure(BaseModel):
    """Someone whose own words (letters, speeches, diaries) are read in the documentary."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    role: Prose | None = Field(default=None, description="who they were, in a few words")
    voice: Voice | None = None
    as_of: AsOf | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="the date this figure speaks from (default: the documentary's)",
    )


class DocumentaryRequest(RequestBase):
    """A narrated documentary: one narrator tells a piece of history in parts, and the
    figures involved read short passages of their letters, speeches and diaries."""

    format: Literal["documentary"] = "documentary"
    subject: Topic
    figures: list[Figure] = Field(min_length=1, max_length=4)
    angle: Prose | None = None
    narrator_name: Name = "The Narrator"
    narrator_voice: Voice = "fable"
    parts: Count | None = Field(
        default=None,
        ge=1,
        le=MAX_PARTS,
        description="parts (chapters), 1 to 12 (default: one per five minutes)",
    )
    as_of: AsOf | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="the date the figures speak from, for every figure without a date of their own",
    )

    @property
    def part_count(self) -> int:
        if self.parts is not None:
            return self.parts
        return max(1, min(MAX_PARTS, round(self.target_minutes / MINUTES_PER_PART)))

    @model_validator(mode="after")
    def _cast_is_distinct(self) -> DocumentaryRequest:
        names = [self.narrator_name.casefold()] + [f.name.casefold() for f in self.figures]
        if len(set(names)) != len(names):
            raise ValueError("figures and narrator must all have different names")
        taken = {self.narrator_voice} | {f.voice for f in self.figures if f.voice}
        spare = [v for v in FIGURE_VOICES if v not in taken]
        voiced = [
            f if f.voice else f.model_copy(update={"voice": spare.pop(0)}) for f in self.figures
        ]
        voices = [self.narrator_voice] + [f.voice for f in voiced]
        if len(set(voices)) != len(voices):
            raise ValueError(
                "every speaker needs a different voice so listeners can tell them apart"
            )
        self.figures = voiced
        return self

    @model_validator(mode="after")
    def _parts_fit_the_length(self) -> DocumentaryRequest:
        room = self.target_minutes * 150
        if self.part_count * MIN_WORDS_PER_PART > room:
            most = max(int(room // MIN_WORDS_PER_PART), 1)
            raise ValueError(
                f"parts: {self.part_count} parts do not fit in {self.target_minutes:g} "
                f"minutes; use at most {most} parts, or more minutes"
            )
        return self
