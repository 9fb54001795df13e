"""Why a run failed, in one line the web app can show: the real cause, not Dagster's summary.

A stage that fails writes its own reason ("outline failed: ..."). What fails outside a stage (a
resource that cannot start, the run worker) reaches the episode only through the run's events,
where Dagster wraps it ("Error occurred while executing op ...") and sums it up ("Steps failed:
['episode_outline']"). These functions find the error underneath.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import dagster as dg

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
