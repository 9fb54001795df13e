"""What an interview request may ask for, and what makes one invalid."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from epochpod_assets.history.dates import AsOf
from epochpod_assets.requests import Name, Prose, RequestBase, Topic, Voice


class InterviewRequest(RequestBase):
    """An interview with one historical figure."""

    format: Literal["interview"] = "interview"
    guest_name: Name
    topic: Topic
    angle: Prose | None = None
    host_name: Name = "The Epoch Host"
    host_voice: Voice = "onyx"
    guest_voice: Voice = "echo"
    as_of: AsOf | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="the date the guest speaks from (1921, 44 BC, 1921-06-14); default: the "
        "last year of their life the research stage finds",
    )

    @model_validator(mode="after")
    def _distinct_speakers(self) -> InterviewRequest:
        if self.host_name.casefold() == self.guest_name.casefold():
            raise ValueError("guest_name must differ from host_name")
        if self.host_voice == self.guest_voice:
            raise ValueError(
                "guest_voice must differ from host_voice so listeners can tell them apart"
            )
        return self
