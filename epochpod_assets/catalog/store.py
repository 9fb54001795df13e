"""Reads and writes of the catalog. The `episodes` table doubles as the request queue."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import secrets
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    from alembic.config import Config

from epochpod_assets.catalog.schema import (
    episode_details,
    episode_edits,
    episodes,
    generation_metrics,
)
from epochpod_assets.formats import registry
from epochpod_assets.providers.base import Usage
from epochpod_assets.requests import RequestBase
from epochpod_assets.status import Stage

MIGRATIONS = Path(__file__).parent / "migrations"
# Any Postgres-wide constant works; it keeps two processes from migrating at once.
_MIGRATION_LOCK_ID = 7_302_114
# The PostgreSQL channel the queue's trigger notifies when a row becomes PENDING (migration 0008).
REQUESTS_CHANNEL = "epochpod_requests"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_episode_id() -> str:
    # Time-ordered so ids sort like the queue; never contains a comma or a slash, so it is a
    # valid Dagster partition key and a safe object-key component.
    return f"ep-{time.time_ns() // 1_000_000:012x}{secrets.token_hex(4)}"


def _alembic_config() -> Config:
    # Alembic is imported when a schema is checked, not with the catalog: a run worker
    # imports the catalog at start and finds the schema migrated already.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


class EditRefused(ValueError):
    """An editorial action the episode cannot take now; the message says why. Nothing written."""


class NoSuchEpisode(EditRefused):
    """No episode has the id. Nothing written."""


@dataclass(frozen=True)
class GenerationSpend:
    usd: float
    tts_characters: int


@dataclass(frozen=True)
class EpisodeStats:
    llm_tokens: int
    tts_characters: int
    estimated_usd: float
    wall_seconds: float


class Catalog:
    """The catalog database: SQLite file by default, PostgreSQL in production."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _make_engine(url)

    # --- schema ---------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the newest migration (cheap when already there)."""
        from alembic import command
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
        with self.engine.connect() as conn:
            if MigrationContext.configure(conn).get_current_revision() == head:
                return
        with self._migration_lock(), self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
                )
            config = _alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        # SQLite has no advisory locks; a lock file beside the database does the same job.
        database = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        if not database or database == ":memory:":
            yield
            return
        with open(f"{database}.migrate.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # --- intake ---------------------------------------------------------------------------

    def enqueue(self, request: RequestBase) -> str:
        fmt = registry.by_name(request.format)
        now = utcnow()
        episode_id = new_episode_id()
        with self.engine.begin() as conn:
            conn.execute(
                episodes.insert().values(
                    id=episode_id,
                    type=fmt.episode_type,
                    status="DRAFT",
                    title=fmt.placeholder_title(request),
                    topic=fmt.catalog_topic(request),
                    user_id=request.user_id,
                    request=request.model_dump(mode="json"),
                    generation_status=Stage.PENDING.value,
                    generation_progress=0,
                    created_at=now,
                    updated_at=now,
                )
            )
        return episode_id

    # --- the queue --------------------------------------------------------------------------

    def pending(self, limit: int, lease: dt.timedelta) -> list[dict[str, Any]]:
        """Oldest PENDING requests not asked for within the lease, in creation order.

        Two index-backed halves (never asked for; asked for too long ago), each limited, so a
        tick reads at most 2 * limit rows however many requests wait in Dagster's run queue.
        The request comes back as text: a row whose JSON cannot be decoded must fail alone in
        the sensor, not break every tick.
        """
        e = episodes.c
        columns = (
            e.id,
            e.type,
            sa.cast(e.request, sa.Text).label("request"),
            e.generation_attempt,
            e.title,
            e.created_at,
        )
        pending = e.generation_status == Stage.PENDING.value
        never = sa.select(*columns).where(pending, e.queued_at.is_(None))
        never = never.order_by(e.created_at, e.id).limit(limit)
        expired = sa.select(*columns).where(pending, e.queued_at < utcnow() - lease)
        expired = expired.order_by(e.queued_at).limit(limit)
        both = sa.union_all(sa.select(never.subquery()), sa.select(expired.subquery())).subquery()
        query = sa.select(both).order_by(both.c.created_at, both.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    @contextmanager
    def listening_for_requests(self) -> Iterator[Callable[[float], bool]]:
        """Listens for new requests while the block runs; yields `wait(seconds)`, which blocks
        until a row becomes PENDING or `seconds` pass and says whether one did.

        PostgreSQL's NOTIFY, sent by the queue's trigger for any writer (the web app, the CLI,
        a retry): the wait sleeps on the connection's socket, it does not poll. Listen, then
        read the queue, then wait: a request enqueued between the read and the wait still
        wakes it. SQLite cannot notify; there the wait returns False at once.
        """
        if self.engine.dialect.name != "postgresql":
            yield lambda _seconds: False
            return
        with self.engine.connect() as pooled:
            conn = pooled.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql(f"LISTEN {REQUESTS_CHANNEL}")
            driver = conn.connection.driver_connection
            try:
                yield lambda seconds: _notified(driver, seconds)
            finally:
                # The connection goes back to the pool: nothing may keep notifying it.
                conn.exec_driver_sql("UNLISTEN *")

    def mark_queued(self, episode_ids: Sequence[str]) -> None:
        if not episode_ids:
            return
        with self.engine.begin() as conn:
            conn.execute(
                episodes.update()
                .where(episodes.c.id.in_(episode_ids))
                .where(episodes.c.generation_status == Stage.PENDING.value)
                .values(queued_at=utcnow())
            )

    def requeue(self, episode_id: str) -> int:
        """Ask for a deliberate regeneration: PENDING again, under a new attempt number."""
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(episodes.c.generation_status, episodes.c.generation_attempt).where(
                    episodes.c.id == episode_id
                )
            ).one_or_none()
            if row is None:
                raise KeyError(episode_id)
            attempt = int(row.generation_attempt) + 1
            conn.execute(
                episodes.update()
                .where(episodes.c.id == episode_id)
                .values(
                    generation_status=Stage.PENDING.value,
                    generation_progress=0,
                    generation_error=None,
                    generation_outcome=None,
                    generation_attempt=attempt,
                    queued_at=None,
                    updated_at=utcnow(),
                )
            )
            # A deliberate regeneration supersedes any edit still waiting for its run.
            conn.execute(_close_open_edits(episode_id, "superseded by a regeneration"))
        return attempt

    # --- generation ---------------------------------------------------------------------------

    def set_stage(self, episode_id: str, stage: Stage, run_id: str | None = None) -> None:
        values: dict[str, Any] = {
            "generation_status": stage.value,
            "generation_progress": stage.progress,
            "generation_error": None,
            "generation_outcome": "completed" if stage is Stage.COMPLETED else None,
            "updated_at": utcnow(),
        }
        if run_id:
            values["generation_job_id"] = run_id
            # A new attempt starts with the first stage a run enters, whichever it is: a
            # backfill that regenerates from the script never enters GENERATING_OUTLINE.
            new_attempt = sa.or_(
                episodes.c.generation_job_id.is_(None), episodes.c.generation_job_id != run_id
            )
            values["generation_started_at"] = sa.case(
                (new_attempt, utcnow()), else_=episodes.c.generation_started_at
            )
            values["generation_completed_at"] = sa.case(
                (new_attempt, None), else_=episodes.c.generation_completed_at
            )
        elif stage is Stage.GENERATING_OUTLINE:
            values["generation_started_at"] = utcnow()
            values["generation_completed_at"] = None
        self._update(episode_id, values)

    def save_research(
        self, episode_id: str, sources: Sequence[Any], fact_sheet: Mapping[str, Any]
    ) -> None:
        """Keep the episode's sources and fact sheet (what its lines rest on) on its row."""
        self._update(
            episode_id,
            {"sources": list(sources), "fact_sheet": dict(fact_sheet), "updated_at": utcnow()},
        )

    def set_progress(self, episode_id: str, progress: int) -> None:
        """Raise progress within the current stage; never moves it backwards."""
        with self.engine.begin() as conn:
            conn.execute(
                episodes.update()
                .where(episodes.c.id == episode_id)
                .where(episodes.c.generation_progress < progress)
                .values(generation_progress=progress, updated_at=utcnow())
            )

    def fail(
        self,
        episode_id: str,
        error: str,
        stage: Stage = Stage.FAILED,
        outcome: str | None = None,
    ) -> None:
        """End the generation with `error`. Written through `lifecycle`, which says the
        `outcome` (failed, interrupted, timed_out, cancelled); FAILED means "failed" and
        CANCELLED "cancelled" when none is given."""
        if outcome is None:
            outcome = "cancelled" if stage is Stage.CANCELLED else "failed"
        self._update(
            episode_id,
            {
                "generation_status": stage.value,
                "generation_outcome": outcome,
                "generation_error": error[:4000],
                "generation_completed_at": utcnow(),
                "updated_at": utcnow(),
            },
        )

    def publish(
        self, episode_id: str, fields: Mapping[str, Any], detail: Mapping[str, Any]
    ) -> None:
        """Fill the published episode and its format detail in one transaction."""
        now = utcnow()
        with self.engine.begin() as conn:
            kind = conn.execute(
                sa.select(episodes.c.type).where(episodes.c.id == episode_id)
            ).scalar_one()
            conn.execute(
                episodes.update()
                .where(episodes.c.id == episode_id)
                .values(
                    **fields,
                    status="PUBLISHED",
                    # The first publication stands: the feed orders by it, and a regenerated
                    # episode is not a new one. A regeneration is recorded beside it.
                    published_at=sa.func.coalesce(episodes.c.published_at, now),
                    regenerated_at=sa.case(
                        (episodes.c.published_at.is_(None), episodes.c.regenerated_at), else_=now
                    ),
                    generation_status=Stage.COMPLETED.value,
                    generation_progress=Stage.COMPLETED.progress,
                    generation_error=None,
                    generation_outcome="completed",
                    generation_completed_at=now,
                    updated_at=now,
                )
            )
            detail = _json_values(detail)
            generic = episode_details
            conn.execute(generic.delete().where(generic.c.episode_id == episode_id))
            conn.execute(generic.insert().values(episode_id=episode_id, type=kind, detail=detail))
            # The web app reads the formats that have a table of their own from that table.
            table = registry.format_for(kind).detail_table
            if table is not None:
                conn.execute(table.delete().where(table.c.episode_id == episode_id))
                conn.execute(table.insert().values(episode_id=episode_id, **detail))

    def record_usage(
        self, episode_id: str, stage: str, run_id: str, usage: Usage, wall_seconds: float
    ) -> None:
        with self.engine.begin() as conn:
            kind = conn.execute(
                sa.select(episodes.c.type).where(episodes.c.id == episode_id)
            ).scalar_one()
            conn.execute(
                generation_metrics.insert().values(
                    episode_id=episode_id,
                    type=kind,
                    stage=stage,
                    run_id=run_id,
                    llm_calls=usage.llm_calls,
                    prompt_tokens=usage.prompt_tokens,
                    completion_tokens=usage.completion_tokens,
                    llm_tokens=usage.tokens,
                    tts_calls=usage.tts_calls,
                    tts_characters=usage.tts_characters,
                    estimated_usd=usage.usd,
                    wall_seconds=wall_seconds,
                    created_at=utcnow(),
                )
            )

    # --- editorial actions ----------------------------------------------------------------------

    def add_edit(
        self,
        episode_id: str,
        kind: str,
        *,
        allowed: Collection[Stage],
        note: str | None = None,
        line: int | None = None,
        script_key: str | None = None,
    ) -> int:
        """Queue one editorial action for the `episode_edits` sensor; returns its id.

        Refused (EditRefused, nothing written) unless the episode is in one of the `allowed`
        states and has no other edit open. The open-edit rule is a unique index, so two
        editors acting at once get one edit between them, on SQLite and PostgreSQL alike.
        """
        with self.engine.begin() as conn:
            status = conn.execute(
                sa.select(episodes.c.generation_status).where(episodes.c.id == episode_id)
            ).scalar_one_or_none()
            if status is None:
                raise NoSuchEpisode(f"no episode {episode_id!r}")
            if status not in allowed:
                states = ", ".join(sorted(s.value for s in allowed))
                raise EditRefused(f"{episode_id} is {status}; this needs {states}")
            try:
                edit_id = conn.execute(
                    episode_edits.insert()
                    .values(
                        episode_id=episode_id,
                        kind=kind,
                        note=note,
                        line=line,
                        script_key=script_key,
                        review=status == Stage.AWAITING_REVIEW.value,
                        created_at=utcnow(),
                    )
                    .returning(episode_edits.c.id)
                ).scalar_one()
            except sa.exc.IntegrityError:
                # The transaction rolls back: nothing of this edit is written.
                raise EditRefused(
                    f"{episode_id} already has an edit waiting for its run; wait for it to finish"
                ) from None
        return int(edit_id)

    def pending_edits(self, limit: int, lease: dt.timedelta) -> list[dict[str, Any]]:
        """Open edits never asked for, or asked for longer ago than the lease, oldest first."""
        d, e = episode_edits.c, episodes.c
        query = (
            sa.select(episode_edits, e.type.label("episode_type"), e.title)
            .join(episodes, episodes.c.id == d.episode_id)
            .where(d.finished_at.is_(None))
            .where(sa.or_(d.queued_at.is_(None), d.queued_at < utcnow() - lease))
            .order_by(d.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def mark_edits_queued(self, edit_ids: Sequence[int]) -> None:
        if not edit_ids:
            return
        with self.engine.begin() as conn:
            conn.execute(
                episode_edits.update()
                .where(episode_edits.c.id.in_(edit_ids))
                .where(episode_edits.c.finished_at.is_(None))
                .values(queued_at=utcnow())
            )

    def close_open_edits(self, episode_id: str, reason: str) -> None:
        """Close whatever edit of the episode still waits (it was cancelled, say)."""
        with self.engine.begin() as conn:
            conn.execute(_close_open_edits(episode_id, reason))

    def get_edit(self, edit_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(episode_edits).where(episode_edits.c.id == edit_id)
            ).one_or_none()
        return dict(row._mapping) if row else None

    def edits(self, episode_id: str) -> list[dict[str, Any]]:
        query = (
            sa.select(episode_edits)
            .where(episode_edits.c.episode_id == episode_id)
            .order_by(episode_edits.c.id)
        )
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def finish_edit(self, edit_id: int, run_id: str | None, error: str | None = None) -> bool:
        """Close an open edit (its run did its work, or ended without it). False if it was
        already closed: settling a run twice changes nothing."""
        with self.engine.begin() as conn:
            result = conn.execute(
                episode_edits.update()
                .where(episode_edits.c.id == edit_id)
                .where(episode_edits.c.finished_at.is_(None))
                .values(
                    finished_at=utcnow(),
                    run_id=run_id,
                    error=error[:4000] if error else None,
                )
            )
        return bool(result.rowcount)

    # --- reading ------------------------------------------------------------------------------

    def generation_spend(self, episode_id: str) -> GenerationSpend:
        """What this episode's current generation (since its outline last started) has spent:
        a regeneration someone asked for starts afresh, a retried stage counts its failed
        attempt."""
        m = generation_metrics.c
        with self.engine.connect() as conn:
            started = conn.execute(
                sa.select(episodes.c.generation_started_at).where(episodes.c.id == episode_id)
            ).scalar_one_or_none()
            rows = conn.execute(
                sa.select(m.created_at, m.estimated_usd, m.tts_characters).where(
                    m.episode_id == episode_id
                )
            ).all()
        current = [r for r in rows if started is None or _naive(r[0]) >= _naive(started)]
        return GenerationSpend(
            usd=sum(float(r[1] or 0) for r in current),
            tts_characters=sum(int(r[2] or 0) for r in current),
        )

    def stage_runs(self) -> list[tuple[Any, ...]]:
        """Every recorded stage run, oldest first: episode id, title, format, status, stage,
        LLM tokens, TTS characters, USD, wall seconds, when (the cost report's rows)."""
        m = generation_metrics.c
        query = (
            sa.select(
                m.episode_id,
                episodes.c.title,
                m.type,
                episodes.c.status,
                m.stage,
                m.llm_tokens,
                m.tts_characters,
                m.estimated_usd,
                m.wall_seconds,
                m.created_at,
            )
            .select_from(generation_metrics.join(episodes))
            .order_by(m.created_at, m.id)
        )
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(query)]

    def get(self, episode_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(episodes).where(episodes.c.id == episode_id)).one_or_none()
        return dict(row._mapping) if row else None

    def detail(self, episode_id: str, kind: str | None = None) -> dict[str, Any] | None:
        """The published episode's format detail (`EpisodeFormat.detail`), with its id; None
        before it is published. `kind` is accepted for callers that know the type; every
        format's detail is in one table."""
        generic = episode_details
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(generic.c.detail).where(generic.c.episode_id == episode_id)
            ).one_or_none()
        return {"episode_id": episode_id, **row.detail} if row else None

    def published(self) -> list[dict[str, Any]]:
        """Every published episode for the feed, newest first, with its format detail (the
        `detail` JSON, {} when it has none)."""
        e, d = episodes.c, episode_details.c
        query = (
            sa.select(
                e.id,
                e.type,
                e.title,
                e.description,
                e.published_at,
                e.audio_url,
                e.audio_bytes,
                e.duration_seconds,
                d.detail,
            )
            .select_from(episodes.outerjoin(episode_details))
            .where(e.status == "PUBLISHED")
            .where(e.published_at.is_not(None))
            .order_by(e.published_at.desc(), e.id.desc())
        )
        with self.engine.connect() as conn:
            rows = [dict(row._mapping) for row in conn.execute(query)]
        for row in rows:
            row["detail"] = row["detail"] or {}
        return rows

    def list(self, limit: int = 50) -> list[dict[str, Any]]:
        query = sa.select(episodes).order_by(episodes.c.created_at.desc(), episodes.c.id.desc())
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query.limit(limit))]

    def stats(self, episode_ids: Sequence[str]) -> dict[str, EpisodeStats]:
        """Totals from generation_metrics for each episode (all stages, all attempts)."""
        m = generation_metrics.c
        query = (
            sa.select(
                m.episode_id,
                sa.func.sum(m.llm_tokens),
                sa.func.sum(m.tts_characters),
                sa.func.sum(m.estimated_usd),
                sa.func.sum(m.wall_seconds),
            )
            .where(m.episode_id.in_(episode_ids))
            .group_by(m.episode_id)
        )
        with self.engine.connect() as conn:
            return {
                row[0]: EpisodeStats(int(row[1]), int(row[2]), float(row[3]), float(row[4]))
                for row in conn.execute(query)
            }

    def _update(self, episode_id: str, values: Mapping[str, Any]) -> None:
        # SET expressions see the row as it was, so CASE on generation_job_id reads the old
        # owner even though the same statement writes the new one.
        with self.engine.begin() as conn:
            conn.execute(episodes.update().where(episodes.c.id == episode_id).values(**values))


def _close_open_edits(episode_id: str, reason: str) -> sa.Update:
    return (
        episode_edits.update()
        .where(episode_edits.c.episode_id == episode_id)
        .where(episode_edits.c.finished_at.is_(None))
        .values(finished_at=utcnow(), error=reason)
    )


def _naive(moment: Any) -> Any:
    # SQLite hands timestamps back without a zone, PostgreSQL with one; both are UTC.
    return moment.replace(tzinfo=None) if moment is not None else moment


def _json_values(detail: Mapping[str, Any]) -> dict[str, Any]:
    # What goes into a JSON column must come back the same from SQLite and PostgreSQL alike.
    decoded: dict[str, Any] = json.loads(json.dumps(dict(detail), default=str))
    return decoded


def placeholder_title(request: RequestBase) -> str:
    """The title shown while generating, as the original web app wrote it."""
    return registry.by_name(request.format).placeholder_title(request)


def _notified(driver: Any, seconds: float) -> bool:
    """Whether a notification reaches the listening DBAPI connection within `seconds`."""
    if seconds <= 0:
        return False
    if callable(getattr(driver, "notifies", None)):  # psycopg 3
        return any(True for _ in driver.notifies(timeout=seconds, stop_after=1))
    import select  # psycopg2, for a URL that names it

    if not driver.notifies and select.select([driver], [], [], seconds)[0]:
        driver.poll()
    found = bool(driver.notifies)
    driver.notifies.clear()
    return found


def _make_engine(url: str) -> sa.Engine:
    # The web app's style of URL names no driver; we ship psycopg 3.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url.removeprefix(prefix)
    if url.startswith("sqlite"):
        database = sa.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets the sensor read while a run writes; foreign keys are off by default.
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)
