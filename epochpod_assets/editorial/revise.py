"""What the `episode_script` asset does for an editorial run instead of writing from scratch:
take an imported script, write the script again after a rejected review, or write one line
again. The run says which through its `epochpod/edit_id` tag (set by the `episode_edits`
sensor); a run that stops for review carries `epochpod/review: stop`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dagster as dg

from epochpod_assets.catalog import Catalog
from epochpod_assets.editorial import plain
from epochpod_assets.editorial.actions import IMPORT, LINE, REJECT, proposed_script
from epochpod_assets.editorial.rewrite import feedback_task, rewrite_line
from epochpod_assets.formats.base import EpisodeFormat
from epochpod_assets.providers.base import Usage, Writer
from epochpod_assets.storage import MediaStore

EDIT_TAG = "epochpod/edit_id"
REVIEW_TAG = "epochpod/review"
STOP = "stop"


def edit_for_run(db: Catalog, run: dg.DagsterRun, episode_id: str) -> dict[str, Any] | None:
    """The edit this run was launched for, if any."""
    raw = run.tags.get(EDIT_TAG)
    if not raw:
        return None
    edit = db.get_edit(int(raw)) if raw.isdigit() else None
    if edit is None or edit["episode_id"] != episode_id:
        raise ValueError(f"run tag {EDIT_TAG}={raw} names no edit of episode {episode_id}")
    return edit


def editor_wrote(db: Catalog, run: dg.DagsterRun) -> bool:
    """Whether the run stores a script an editor wrote (an import) or changed (one line): its
    length is the editor's choice, not the writer's budget to meet."""
    raw = run.tags.get(EDIT_TAG, "")
    edit = db.get_edit(int(raw)) if raw.isdigit() else None
    return edit is not None and edit["kind"] in (IMPORT, LINE)


def stops_for_review(run: dg.DagsterRun) -> bool:
    return run.tags.get(REVIEW_TAG) == STOP


@dataclass(frozen=True)
class Revised:
    script: Any
    how: str
    changed_lines: int  # spoken lines the voice has not spoken for this episode before


def revise(
    edit: dict[str, Any],
    writer: Writer,
    usage: Usage,
    fmt: EpisodeFormat[Any, Any, Any],
    request: Any,
    outline: Any,
    current: Any,
    store: MediaStore,
) -> Revised:
    kind = edit["kind"]
    if kind == IMPORT:
        script = proposed_script(store, edit, fmt)
        how = "imported"
    elif kind == REJECT:
        task = feedback_task(fmt, request, outline, current, edit["note"], fmt.word_budget(request))
        script = writer.write(task, usage)
        how = "written again after review"
    elif kind == LINE:
        script, _, _ = rewrite_line(
            writer,
            usage,
            fmt,
            request,
            outline,
            current,
            edit["episode_id"],
            edit["line"],
            edit["note"],
        )
        how = f"line {edit['line']} written again"
    else:
        raise ValueError(f"a {kind} edit does not change the script")
    if kind != IMPORT and writer.provider.startswith("offline"):
        # Its answers are templates: honest, but deaf to feedback. Say so where it shows.
        how += " (the offline writer cannot take an editor's note; set a model to rewrite)"
    before = plain.to_file(fmt, request, outline, current)
    after = plain.to_file(fmt, request, outline, script)
    return Revised(script, how, plain.changed_lines(before, after))
