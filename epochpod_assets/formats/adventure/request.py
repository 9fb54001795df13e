"""What an adventure request may ask for, and what makes one invalid."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from epochpod_assets.history.dates import AsOf, find_date
from epochpod_assets.requests import Count, Name, Prose, RequestBase, Topic, Voice


class AdventureRequest(RequestBase):
    """A branching choose-your-own-adventure story: one audio track per story node."""

    format: Literal["adventure"] = "adventure"
    setting: Topic
    protagonist: Name = "you"
    premise: Prose | None = None
    narrator_voice: Voice = "fable"
    depth: Count = Field(default=3, ge=1, le=4, description="levels of choices before an ending")
    choices: Count = Field(default=2, ge=2, le=3, description="choices offered at each node")
    as_of: AsOf | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description='the story\'s date; default: the date in the setting ("Rome, 44 BC")',
    )

    @model_validator(mode="after")
    def _story_has_a_date(self) -> AdventureRequest:
        # The time guard needs the story's present; a setting that names none must say it.
        if self.as_of is None:
            try:
                self.as_of = find_date(self.setting)
            except ValueError as e:
                raise ValueError(f"setting: {e}, or give as_of") from None
        return self

    @property
    def node_count(self) -> int:
        return sum(self.choices**level for level in range(self.depth))
