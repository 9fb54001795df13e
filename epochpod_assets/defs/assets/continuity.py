"""The `script_reads_as_one_conversation` check on `episode_script`: the Dagster side of
`scripting/continuity.py`, declared by the script asset and answered when it materializes."""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dagster as dg

from epochpod_assets.scripting.continuity import continuity_problems

CHECK_NAME = "script_reads_as_one_conversation"


def continuity_check_spec() -> dg.AssetCheckSpec:
    """The `dg.AssetCheckSpec` to declare on `episode_script` (`check_specs=[...]`)."""
    return dg.AssetCheckSpec(
        CHECK_NAME,
        asset="episode_script",
        description="No repeated greetings or re-introductions, one sign-off at the end, and "
        "every cast member called by one name: the joined script reads as one conversation.",
    )


def continuity_check_result(
    tracks: Sequence[Any], cast: Mapping[str, str] | Iterable[str]
) -> dg.AssetCheckResult:
    """The `dg.AssetCheckResult` for a script's tracks (each track is one telling)."""
    names = list(cast)
    problems = [p for track in tracks for p in continuity_problems(track.sections, names)]
    return dg.AssetCheckResult(
        check_name=CHECK_NAME,
        asset_key="episode_script",
        passed=not problems,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"problems": len(problems), "first_problems": "\n".join(problems[:10])},
    )
