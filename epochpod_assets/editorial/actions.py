"""What an editor can ask of an episode, checked and queued. Shared by the command line and
the Dagster UI's jobs, so both accept and refuse exactly the same things.

Every action that needs a run (approve, reject, import, one-line rewrite) becomes one
`episode_edits` row; the `episode_edits` sensor turns each into exactly one run (run key
`edit-<id>`). Nothing is written for a refused action: problems are found first, each named
(for a script file, with its line number).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dagster as dg

from epochpod_assets import settings
from epochpod_assets.catalog import Catalog
from epochpod_assets.catalog.store import EditRefused, NoSuchEpisode
from epochpod_assets.editorial import plain
from epochpod_assets.formats import EpisodeFormat, format_for
from epochpod_assets.requests import RequestError, parse_request
from epochpod_assets.scripting.scriptfile import ScriptFileError
from epochpod_assets.status import Stage
from epochpod_assets.storage import MediaStore, episode_key, get_model, put_model

APPROVE = "approve"
REJECT = "reject"
IMPORT = "import"
LINE = "line"

# An edited script replaces the script of an episode at rest: finished, failed, cancelled, or
# waiting for review (then it stays waiting, with the new script).
EDITABLE = frozenset({Stage.COMPLETED, Stage.FAILED, Stage.CANCELLED, Stage.AWAITING_REVIEW})
REVIEWING = frozenset({Stage.AWAITING_REVIEW})
MAX_NOTE_CHARS = 2_000
# A plain script of a 60-minute episode is ~60 kB; anything far bigger is not a script.
MAX_SCRIPT_BYTES = 1_000_000


class EditError(ValueError):
    """A refused editorial action. `problems` holds one line each (a file's carry its line)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class UnknownEpisode(EditError):
    """No episode has the id: not a bad edit, nothing to act on (the CLI exits 1, as for
    `status`, `retry` and `cancel`)."""


def needs_review(request: Any) -> bool:
    """Whether an episode stops after its script: the request says, or the deployment does."""
    asked: bool | None = getattr(request, "review", None)
    return settings.load().review_default if asked is None else asked


@dataclass(frozen=True)
class EditableEpisode:
    id: str
    status: Stage
    request: Any
    format: EpisodeFormat[Any, Any, Any]
    outline: Any
    script: Any


def load(db: Catalog, store: MediaStore, episode_id: str) -> EditableEpisode:
    """The episode with its current outline and script, or EditError saying what is missing."""
    row = db.get(episode_id)
    if row is None:
        raise UnknownEpisode([f"episode_id: no episode {episode_id!r}"])
    try:
        request = parse_request(row["request"])
    except RequestError as error:
        raise EditError([f"episode: its request is invalid ({error})"]) from None
    fmt = format_for(row["type"])
    try:
        outline = get_model(store, episode_key(episode_id, "outline.json"), fmt.outline_model)
        script = get_model(store, episode_key(episode_id, "script.json"), fmt.script_model)
    except KeyError:
        raise EditError(
            [f"episode: {episode_id} has no script yet (it is {row['generation_status']})"]
        ) from None
    return EditableEpisode(
        episode_id, Stage(row["generation_status"]), request, fmt, outline, script
    )


def export(db: Catalog, store: MediaStore, episode_id: str) -> str:
    episode = load(db, store, episode_id)
    try:
        return plain.export_text(
            episode.format, episode.request, episode.outline, episode.script, episode_id
        )
    except plain.NotEditable as error:
        raise EditError([f"episode: {error}"]) from None


def clean_note(note: str | None, *, required: bool) -> str | None:
    if note is None or not note.strip():
        if required:
            raise EditError(["note: say what to change (e.g. --note 'shorter, less formal')"])
        return None
    if len(note) > MAX_NOTE_CHARS:
        raise EditError([f"note: is longer than {MAX_NOTE_CHARS} characters"])
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in note if ch != "\n"):
        raise EditError(["note: contains a control character"])
    return " ".join(note.split())


def _queue(
    db: Catalog, episode_id: str, kind: str, allowed: frozenset[Stage], **fields: Any
) -> int:
    try:
        return db.add_edit(episode_id, kind, allowed=allowed, **fields)
    except NoSuchEpisode as error:
        raise UnknownEpisode([f"episode_id: {error}"]) from None
    except EditRefused as error:
        raise EditError([f"episode: {error}"]) from None


def approve(db: Catalog, episode_id: str) -> int:
    """Approve a script awaiting review: its audio and publication follow."""
    return _queue(db, episode_id, APPROVE, REVIEWING)


def reject(db: Catalog, episode_id: str, note: str | None) -> int:
    """Send a script awaiting review back to the writer with the note; it waits again."""
    return _queue(db, episode_id, REJECT, REVIEWING, note=clean_note(note, required=True))


@dataclass(frozen=True)
class Imported:
    edit_id: int
    changed_lines: int
    review: bool  # the episode waits for review: the new script is stored, not voiced


def import_script(db: Catalog, store: MediaStore, episode_id: str, text: str | bytes) -> Imported:
    """Validate an edited plain script against the episode and queue it as its new script.

    The file is checked in full first (every problem with its line number); only then is it
    stored, as a proposed script under the episode's own keys, and the edit queued.
    """
    if isinstance(text, bytes):
        if len(text) > MAX_SCRIPT_BYTES:
            raise EditError([f"script: is larger than {MAX_SCRIPT_BYTES} bytes"])
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise EditError([f"script: is not UTF-8 text ({error.reason})"]) from None
    if len(text.encode()) > MAX_SCRIPT_BYTES:
        raise EditError([f"script: is larger than {MAX_SCRIPT_BYTES} bytes"])
    episode = load(db, store, episode_id)
    if episode.status not in EDITABLE:
        raise EditError(
            [f"episode: {episode_id} is {episode.status.value}; wait until its run has ended"]
        )
    try:
        script = plain.from_text(
            text, episode.format, episode.request, episode.outline, episode.script
        )
    except ScriptFileError as error:
        raise EditError([f"line {n}: {message}" for n, message in error.errors]) from None
    except plain.NotEditable as error:
        raise EditError([f"episode: {error}"]) from None
    before = plain.to_file(episode.format, episode.request, episode.outline, episode.script)
    after = plain.to_file(episode.format, episode.request, episode.outline, script)
    # Content-addressed under the episode's folder: the key says nothing a user typed.
    digest = hashlib.sha256(script.model_dump_json().encode()).hexdigest()[:32]
    key = episode_key(episode_id, f"scripts/proposed-{digest}.json")
    put_model(store, key, script)
    edit_id = _queue(db, episode_id, IMPORT, EDITABLE, script_key=key)
    return Imported(
        edit_id, plain.changed_lines(before, after), episode.status is Stage.AWAITING_REVIEW
    )


def rewrite_line(
    db: Catalog, store: MediaStore, episode_id: str, line: int, note: str | None
) -> int:
    """Ask the writer for one new line (the exported file's line number), with the note."""
    episode = load(db, store, episode_id)
    if episode.status not in EDITABLE:
        raise EditError(
            [f"episode: {episode_id} is {episode.status.value}; wait until its run has ended"]
        )
    text = plain.export_text(
        episode.format, episode.request, episode.outline, episode.script, episode_id
    )
    numbers = [spoken.number for spoken in plain.spoken_lines(text)]
    if line not in numbers:
        raise EditError(
            [
                f"line: {line} is not a spoken line of the exported script "
                f"(spoken lines are {numbers[0]} to {numbers[-1]}; see `epochpod script export`)"
            ]
        )
    return _queue(db, episode_id, LINE, EDITABLE, line=line, note=clean_note(note, required=True))


def proposed_script(
    store: MediaStore, edit: dict[str, Any], fmt: EpisodeFormat[Any, Any, Any]
) -> Any:
    key = edit["script_key"]
    if not key or not key.startswith(episode_key(edit["episode_id"], "scripts/")):
        raise ValueError(f"edit {edit['id']} has no imported script")
    return get_model(store, key, fmt.script_model)


@contextmanager
def media_from_env() -> Iterator[MediaStore]:
    """The media store the environment configures, as the assets see it (for the CLI)."""
    from epochpod_assets.defs.resources import MediaResource, resources_from_env

    with dg.build_resources({"media": resources_from_env()["media"]}) as built:
        media = built.media
        assert isinstance(media, MediaResource)
        yield media.get()
