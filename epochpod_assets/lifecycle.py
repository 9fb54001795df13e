"""The episode lifecycle: every status write, and the rules for settling an episode whose run
ended (failed, timed out, cancelled, or finished without publishing).

Each end is a typed `Outcome`, stored beside the status (`generation_outcome`), so the rules
ask what happened instead of reading the reason's words. A stage that is interrupted cannot
tell a timeout from a cancel: it records `INTERRUPTED`, and settling the run may replace that
with the real end. The reasons stay the sentences the web app shows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import dagster as dg
from dagster._core.storage.tags import RUN_KEY_TAG, WILL_RETRY_TAG

from epochpod_assets.catalog import Catalog
from epochpod_assets.editorial.revise import EDIT_TAG
from epochpod_assets.run_tags import episode_of_tags
from epochpod_assets.status import RESTING, TERMINAL, Stage

# Run monitoring says why it stopped a run only in its message.
_RUNTIME = re.compile(r"maximum runtime of (\d+) seconds")


# -- why a run failed ------------------------------------------------------------------------
# A stage that fails writes its own reason ("outline failed: ..."). What fails outside a stage
# (a resource that cannot start, the run worker) reaches the episode only through the run's
# events, where Dagster wraps it ("Error occurred while executing op ...") and sums it up
# ("Steps failed: ['episode_outline']"). These find the error underneath.

# The longest reason kept: the web app shows it in a table cell, the full trace stays in
# Dagster's event log.
MAX_REASON = 500
_RESOURCE = re.compile(r"on ResourceDefinition (\w+)")


def error_line(error: Any) -> str:
    """`Type: first line of the message` of the first error in the cause chain that is not
    Dagster's own wrapper (a `SerializableErrorInfo`, as Dagster records errors)."""
    chosen = error
    while chosen is not None and str(chosen.cls_name or "").startswith("Dagster"):
        following = chosen.cause or chosen.context
        if following is None:
            break
        chosen = following
    if chosen is None:
        return "unknown error"
    lines = [line.strip() for line in str(chosen.message or "").splitlines() if line.strip()]
    text = lines[0] if lines else str(chosen.cls_name or "error")
    # "epochpod_assets.settings.SettingsError: ..." -> "SettingsError: ..."
    head, sep, rest = text.partition(": ")
    if sep and "." in head and " " not in head:
        text = f"{head.rsplit('.', 1)[1]}: {rest}"
    return _short(text)


def step_failure_reason(event: dg.DagsterEvent) -> str:
    """One step failure event as a reason: a `dg.Failure`'s description, else the error."""
    data = event.step_failure_data
    user = data.user_failure_data
    if user is not None and user.description:
        return _short(" ".join(user.description.split()))
    return f"{event.step_key} failed: {error_line(data.error)}"


def run_error_reason(error: Any) -> str:
    """A run-level error (resources that could not start, the executor) as a reason, naming
    the resource when Dagster's wrapper does."""
    resource = _RESOURCE.search(str(error.message or ""))
    where = f"resource {resource.group(1)} could not start: " if resource else ""
    return _short(where + error_line(error))


def failure_reason(events: Iterable[dg.DagsterEvent]) -> str | None:
    """The reason a failed run's events give: its first failed step's; else the run's own
    error (a resource that could not start); else the run's failure message."""
    run_error = run_message = None
    for event in events:
        if event.is_step_failure:
            return step_failure_reason(event)
        error = getattr(event.event_specific_data, "error", None)
        if event.event_type == dg.DagsterEventType.RUN_FAILURE:
            run_error = run_error_reason(error) if error is not None else run_error
            run_message = _short(" ".join((event.message or "").split())) or None
        elif error is not None and run_error is None:
            run_error = _short(error_line(error))  # e.g. RESOURCE_INIT_FAILURE
    return run_error or run_message


def _short(text: str) -> str:
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "..."


class Outcome(StrEnum):
    """How a generation ended."""

    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # the stage's process was stopped; the run's end says why
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


def outcome_stage(outcome: Outcome) -> Stage:
    """The status the web app shows for an outcome."""
    return {Outcome.COMPLETED: Stage.COMPLETED, Outcome.CANCELLED: Stage.CANCELLED}.get(
        outcome, Stage.FAILED
    )


# --- status writes ----------------------------------------------------------------------------


def start_stage(db: Catalog, episode_id: str, stage: Stage, run_id: str | None = None) -> None:
    """The episode moves to `stage` (GENERATING_*, AWAITING_REVIEW, UPLOADING, ...)."""
    db.set_stage(episode_id, stage, run_id=run_id)


def fail(db: Catalog, episode_id: str, reason: str, outcome: Outcome = Outcome.FAILED) -> None:
    """The episode ends FAILED (or CANCELLED) with `reason`, its outcome recorded."""
    db.fail(episode_id, reason, stage=outcome_stage(outcome), outcome=outcome.value)


def progress(db: Catalog, episode_id: str, percent: int) -> None:
    """Progress rises within the current stage (never backwards)."""
    db.set_progress(episode_id, percent)


def publish(
    db: Catalog, episode_id: str, fields: Mapping[str, Any], detail: Mapping[str, Any]
) -> None:
    """The episode is PUBLISHED and COMPLETED, with its fields and its format's detail."""
    db.publish(episode_id, fields, detail)


def requeue(db: Catalog, episode_id: str) -> int:
    """A deliberate regeneration: PENDING again under a new attempt number (returned)."""
    return db.requeue(episode_id)


def interrupted(db: Catalog, episode_id: str, name: str) -> str:
    """A stage stopped mid-way (its run cancelled or timed out, or the process exiting): the
    episode is FAILED for now; settling the run gives the real reason. Returns the reason."""
    reason = f"{name} was interrupted"
    fail(db, episode_id, reason, Outcome.INTERRUPTED)
    return reason


# --- settling ended runs -------------------------------------------------------------------------


class Settled:
    """What `settle_ended_run` did: wrote the row, found it already right, or found that a
    newer attempt owns it."""

    CHANGED = "changed"
    UNCHANGED = "unchanged"
    STALE = "stale"


@dataclass(frozen=True)
class RunEnd:
    outcome: Outcome
    reason: str

    @property
    def stage(self) -> Stage:
        return outcome_stage(self.outcome)

    @property
    def overrides_interrupt(self) -> bool:
        # A timeout or cancel: the stage could only say "interrupted", so this may overwrite it.
        return self.outcome in (Outcome.TIMED_OUT, Outcome.CANCELLED)


def episode_of(run: dg.DagsterRun) -> str | None:
    return episode_of_tags(run.tags)


def run_end(
    instance: dg.DagsterInstance, run: dg.DagsterRun, failure_message: str | None = None
) -> RunEnd:
    """Why `run` ended, in the words the web app shows."""
    messages = [failure_message] if failure_message else []
    records = instance.get_records_for_run(
        run.run_id,
        of_type={
            dg.DagsterEventType.RUN_CANCELING,
            dg.DagsterEventType.RUN_FAILURE,
            dg.DagsterEventType.STEP_FAILURE,
        },
    ).records
    step_errors: list[str] = []
    run_errors: list[str] = []
    run_failures: list[str] = []
    for record in records:
        entry = record.event_log_entry
        event = entry.dagster_event
        if event is not None and event.is_step_failure:
            step_errors.append(step_failure_reason(event))
        text = (event.message if event is not None else None) or entry.user_message
        if event is not None and event.event_type == dg.DagsterEventType.RUN_FAILURE:
            error = getattr(event.event_specific_data, "error", None)
            if error is not None:  # e.g. a resource that could not start
                run_errors.append(run_error_reason(error))
            if text:
                run_failures.append(text)
        messages.append(text)
    for message in messages:
        timeout = _RUNTIME.search(message or "")
        if timeout:
            return RunEnd(
                Outcome.TIMED_OUT,
                f"timed out after {timeout.group(1)} seconds (run {run.run_id} was stopped at "
                "its maximum runtime)",
            )
    if run.status == dg.DagsterRunStatus.CANCELED:
        return RunEnd(Outcome.CANCELLED, f"run {run.run_id} was cancelled")
    if run.status == dg.DagsterRunStatus.SUCCESS:
        # Only a run that did not select published_episode gets here with the row in flight.
        return RunEnd(
            Outcome.FAILED,
            f"run {run.run_id} ended without publishing (published_episode was not selected)",
        )
    # The real cause first: a step's own error, the run's error; Dagster's summary last.
    causes = step_errors or run_errors
    reason = (
        causes[-1]
        if causes
        else failure_message or (run_failures[-1] if run_failures else "no reason given")
    )
    return RunEnd(Outcome.FAILED, f"run {run.run_id} failed: {reason}")


def settle_ended_run(
    db: Catalog,
    instance: dg.DagsterInstance,
    run: dg.DagsterRun,
    failure_message: str | None = None,
) -> str:
    """Bring the episode row of an ended run to a terminal state. Returns a `Settled` value.

    Never touches a row a newer attempt or a newer run owns; never overwrites a reason a stage
    wrote, except the stage's "interrupted" when the run was timed out or cancelled.
    """
    episode_id = episode_of(run)
    row = db.get(episode_id) if episode_id else None
    if row is None or episode_id is None:
        return Settled.STALE
    if run.status == dg.DagsterRunStatus.FAILURE and run.tags.get(WILL_RETRY_TAG) == "true":
        # run_retries will re-execute it (a crashed or unlaunchable worker): the retry owns the
        # episode now, and FAILED would be a false alarm to the web app and the webhook.
        return Settled.STALE
    edit = run.tags.get(EDIT_TAG, "")
    if edit.isdigit():
        # An editorial run that ended: its edit is closed (its last asset closes it on
        # success; this covers a run that failed, was cancelled, or died between the two), so
        # the editor can ask again. The episode itself is settled below like any other.
        ok = run.status == dg.DagsterRunStatus.SUCCESS
        db.finish_edit(
            int(edit), run.run_id, None if ok else run_end(instance, run, failure_message).reason
        )
    run_key = run.tags.get(RUN_KEY_TAG, "")
    attempt = run_key.rpartition(":")[2] if run_key.startswith(f"{episode_id}:") else ""
    if attempt.isdigit() and int(attempt) != row["generation_attempt"]:
        return Settled.STALE
    status = Stage(row["generation_status"])
    owner = row["generation_job_id"]
    if status is Stage.PENDING:
        # PENDING behind a dead run: only this attempt's own run (from the sensor) can say so;
        # a UI run that died before starting leaves the request for the sensor.
        if not attempt.isdigit():
            return Settled.STALE
    elif owner and owner != run.run_id:
        return Settled.STALE
    if status is Stage.COMPLETED:
        return Settled.UNCHANGED
    if status is Stage.AWAITING_REVIEW and run.status == dg.DagsterRunStatus.SUCCESS:
        # The review gate: a run that stopped at the script for review ended as planned.
        return Settled.UNCHANGED
    end = run_end(instance, run, failure_message)
    if status in TERMINAL:
        interrupted = row["generation_outcome"] == Outcome.INTERRUPTED
        if not (end.overrides_interrupt and interrupted):
            return Settled.UNCHANGED
    elif run.status == dg.DagsterRunStatus.SUCCESS and row["published_at"] is not None:
        # A regeneration that stopped short of publishing: the published episode still stands.
        db.set_stage(episode_id, Stage.COMPLETED)
        return Settled.CHANGED
    fail(db, episode_id, end.reason, end.outcome)
    return Settled.CHANGED


def settle_failed_run(
    db: Catalog, episode_id: str, run_id: str, message: str | None, edit_id: str | None = None
) -> None:
    """Mark an episode FAILED after its run failed, unless a stage already settled it (or it
    rests awaiting review: a failed approval leaves the script waiting, its edit closed).

    For callers without a Dagster run record (the foreground worker)."""
    if edit_id and edit_id.isdigit():
        db.finish_edit(int(edit_id), run_id, f"run {run_id} failed: {message or 'no reason'}")
    row = db.get(episode_id)
    if row is None or row["generation_status"] in RESTING:
        return
    fail(db, episode_id, f"run {run_id} failed: {message or 'no reason given'}")
