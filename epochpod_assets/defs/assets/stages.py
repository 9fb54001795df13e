"""What every per-episode asset does around its own work: load the episode, write its status
and progress to the catalog, record what it spent, and leave the episode FAILED with a readable
reason when it fails."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dagster as dg

from epochpod_assets import lifecycle
from epochpod_assets.catalog import Catalog
from epochpod_assets.formats import EpisodeFormat, format_for
from epochpod_assets.providers.base import REASK_KINDS, ProviderError, Usage
from epochpod_assets.requests import RequestError, parse_request
from epochpod_assets.run_tags import TITLE_TAG, missing_tags, short_title
from epochpod_assets.status import Stage


@dataclass
class Episode:
    id: str
    type: str
    request: Any
    format: EpisodeFormat[Any, Any, Any]
    row: dict[str, Any]


class EpisodeNotFound(dg.Failure):
    pass


def load_episode(catalog: Catalog, episode_id: str) -> Episode:
    row = catalog.get(episode_id)
    if row is None:
        raise EpisodeNotFound(f"episode {episode_id} is not in the catalog", allow_retries=False)
    request = parse_request(row["request"])
    fmt = format_for(row["type"])
    if fmt.name != request.format:
        raise RequestError([f"format: the request is a {request.format}, the row a {row['type']}"])
    return Episode(id=episode_id, type=row["type"], request=request, format=fmt, row=row)


@dataclass
class StageRun:
    episode: Episode
    usage: Usage
    started: float

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started


@contextmanager
def episode_stage(
    context: dg.AssetExecutionContext, catalog: Catalog, stage: Stage, name: str
) -> Iterator[StageRun]:
    """Run one stage of one episode.

    On entry the episode row moves to `stage`; on any error it becomes FAILED with the error as
    its reason, and the error propagates so Dagster (and its retry policy) sees it. What the
    providers billed is recorded either way: a failed attempt's spend is still spent.
    """
    episode_id = context.partition_key
    usage = Usage()
    started = time.monotonic()
    episode: Episode | None = None
    try:
        episode = load_episode(catalog, episode_id)
        lifecycle.start_stage(catalog, episode_id, stage, run_id=context.run.run_id)
        # A run launched without the run coordinator (in process, or an instance configured
        # without it) still says in the runs list which episode it is.
        tags = missing_tags(context.run.tags, episode.row)
        if tags:
            context.instance.add_run_tags(context.run.run_id, tags)
        yield StageRun(episode=episode, usage=usage, started=started)
    except Exception as error:
        reason = (
            f"{name} failed: {error}" if str(error) else f"{name} failed: {type(error).__name__}"
        )
        if is_transient(error) and context.retry_number < max_retries(context):
            # Dagster's retry policy will try the step again: not FAILED yet.
            context.log.warning(f"{reason}; retrying")
            raise
        if catalog.get(episode_id) is not None:
            lifecycle.fail(catalog, episode_id, reason)
        raise dg.Failure(description=reason, allow_retries=False) from error
    except BaseException as interrupt:
        # Interrupted (the run was cancelled or the process is exiting): say so, then go.
        stopped = f"{name} was interrupted"
        if catalog.get(episode_id) is not None:
            stopped = lifecycle.interrupted(catalog, episode_id, name)
        if isinstance(interrupt, dg.DagsterExecutionInterruptedError | KeyboardInterrupt):
            # Dagster answers an interrupted step that has a retry policy by retrying it, in the
            # same run worker: a run stopped at its maximum runtime or cancelled would start
            # this stage again (and put the episode back in GENERATING_*) while its run is
            # already marked ended. An interrupt is a stop, never a transient error: end the
            # step for good.
            raise dg.Failure(description=stopped, allow_retries=False) from interrupt
        raise
    finally:
        if episode is not None:
            catalog.record_usage(
                episode_id, name, context.run.run_id, usage, time.monotonic() - started
            )


def titled(context: dg.AssetExecutionContext, title: str) -> str:
    """The episode's title for a stage's metadata; also its run's title tag, which until the
    outline exists is the placeholder the queue row had."""
    tag = short_title(title)
    if context.run.tags.get(TITLE_TAG) != tag:
        context.instance.add_run_tags(context.run.run_id, {TITLE_TAG: tag})
    return title


def is_transient(error: BaseException) -> bool:
    """Network trouble that outlived the provider client's own retries. Anything else (bad
    output, a refused request, a bug) fails the episode at once: retrying would only cost."""
    if isinstance(error, ProviderError):
        return error.transient
    return isinstance(error, ConnectionError | TimeoutError)


def max_retries(context: dg.AssetExecutionContext) -> int:
    policy = context.op_def.retry_policy
    return policy.max_retries if policy else 0


def usage_metadata(usage: Usage) -> dict[str, dg.MetadataValue]:
    return {
        "llm_calls": dg.MetadataValue.int(usage.llm_calls),
        "llm_tokens": dg.MetadataValue.int(usage.tokens),
        "prompt_tokens": dg.MetadataValue.int(usage.prompt_tokens),
        "completion_tokens": dg.MetadataValue.int(usage.completion_tokens),
        "tts_calls": dg.MetadataValue.int(usage.tts_calls),
        "tts_characters": dg.MetadataValue.int(usage.tts_characters),
        "estimated_usd": dg.MetadataValue.float(round(usage.usd, 6)),
        # Answers the writer sent back, by reason: "structure" is what the per-request schema
        # should make impossible; the rest are checks a schema cannot express.
        **{
            f"reasks_{kind}": dg.MetadataValue.int(usage.reasks.get(kind, 0))
            for kind in REASK_KINDS
        },
        **(
            {"structured_output": dg.MetadataValue.text(usage.structured_output)}
            if usage.structured_output
            else {}
        ),
    }
