"""What a debate request may ask for, and what makes one invalid."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from epochpod_assets.history.dates import AsOf
from epochpod_assets.requests import Count, Name, RequestBase, Topic, Voice


class Participant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    position: Topic
    voice: Voice | None = None
    as_of: AsOf | None = Field(
        default=None, description="the date this participant speaks from (default: the debate's)"
    )


# Shorter turns than this are not a debate, and cannot be spoken naturally.
MIN_WORDS_PER_TURN = 20

# Participants without a voice get the first of these not already taken.
DEBATE_VOICES = ("echo", "nova", "onyx", "shimmer", "fable", "coral")


class DebateRequest(RequestBase):
    """A moderated debate between two to four historical figures."""

    format: Literal["debate"] = "debate"
    topic: Topic
    participants: list[Participant] = Field(min_length=2, max_length=4)
    moderator_name: Name = "The Epoch Moderator"
    moderator_voice: Voice = "alloy"
    rounds: Count = Field(default=3, ge=1, le=6)
    as_of: AsOf | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="the date of the meeting, for every participant without a date of their own",
    )

    @model_validator(mode="after")
    def _cast_is_distinct(self) -> DebateRequest:
        names = [self.moderator_name.casefold()] + [p.name.casefold() for p in self.participants]
        if len(set(names)) != len(names):
            raise ValueError("participants and moderator must all have different names")
        taken = {self.moderator_voice} | {p.voice for p in self.participants if p.voice}
        voiced: list[Participant] = []
        spare = [v for v in DEBATE_VOICES if v not in taken]
        for p in self.participants:
            voiced.append(p if p.voice else p.model_copy(update={"voice": spare.pop(0)}))
        voices = [self.moderator_voice] + [p.voice for p in voiced]
        if len(set(voices)) != len(voices):
            raise ValueError(
                "every speaker needs a different voice so listeners can tell them apart"
            )
        self.participants = voiced
        return self

    @model_validator(mode="after")
    def _rounds_fit_the_length(self) -> DebateRequest:
        # Every round needs the moderator's question and a real answer from everyone.
        per_round = (len(self.participants) + 1) * MIN_WORDS_PER_TURN
        room = self.target_minutes * 150 - 40  # less the opening and closing
        if self.rounds * per_round > room:
            most = max(int(room // per_round), 0)
            raise ValueError(
                f"rounds: {self.rounds} rounds with {len(self.participants)} participants do "
                f"not fit in {self.target_minutes:g} minutes; use at most {most} rounds, "
                "or more minutes"
            )
        return self
