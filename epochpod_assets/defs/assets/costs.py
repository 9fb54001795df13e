"""What making the show costs, from `generation_metrics`: per episode, per format and per day.

Every stage run is counted, failed attempts and regenerations included, because money spent
on a failed attempt is still spent.
"""

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    # Imported where the report is built, not with the code location: every run worker
    # imports this module at start, and pandas costs it ~0.5 s.
    import pandas as pd

from epochpod_assets.catalog import Catalog
from epochpod_assets.defs.assets.episodes import published_episode
from epochpod_assets.defs.assets.feed import GROUP
from epochpod_assets.defs.resources import CatalogResource, MediaResource
from epochpod_assets.storage import display_url

REPORT_KEYS = {
    "by_episode": "reports/costs_by_episode.csv",
    "by_format": "reports/costs_by_format.csv",
    "by_day": "reports/costs_by_day.csv",
}
METRIC_COLUMNS = [
    "episode_id",
    "title",
    "format",
    "status",
    "stage",
    "llm_tokens",
    "tts_characters",
    "usd",
    "wall_seconds",
    "created_at",
]
TOTALS = {
    "stage_runs": ("stage", "size"),
    "llm_tokens": ("llm_tokens", "sum"),
    "tts_characters": ("tts_characters", "sum"),
    "usd": ("usd", "sum"),
    "wall_seconds": ("wall_seconds", "sum"),
}
# The UI shows the newest episodes and days; the CSVs hold everything.
MARKDOWN_ROWS = 20


@dataclass(frozen=True)
class CostReport:
    by_episode: "pd.DataFrame"
    by_format: "pd.DataFrame"
    by_day: "pd.DataFrame"


@dg.asset(
    group_name=GROUP,
    deps=[published_episode],
    kinds={"pandas", "csv"},
)
def generation_costs(catalog: CatalogResource, media: MediaResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """What the show costs to make: estimated USD, LLM tokens, TTS characters and wall time per
    episode, per format and per day, failed attempts included, as CSV tables in media storage
    and markdown in the UI."""
    db, store = catalog.get(), media.get()
    report = cost_report(load_metrics(db))
    for name, key in REPORT_KEYS.items():
        frame: pd.DataFrame = getattr(report, name)
        store.put(key, frame.to_csv(index=False).encode(), "text/csv")
    by_episode = report.by_episode
    return dg.MaterializeResult(
        metadata={
            "total_usd": round(float(by_episode["usd"].sum()), 6),
            "episodes": len(by_episode),
            "stage_runs": int(by_episode["stage_runs"].sum()),
            "usd_per_episode": round(float(by_episode["usd"].mean()), 6)
            if len(by_episode)
            else 0.0,
            "dagster/row_count": len(by_episode),
            "by_format": dg.MetadataValue.md(markdown_table(report.by_format)),
            "by_day": dg.MetadataValue.md(markdown_table(report.by_day.tail(MARKDOWN_ROWS))),
            "by_episode": dg.MetadataValue.md(markdown_table(by_episode.head(MARKDOWN_ROWS))),
            **{f"{name}_csv": display_url(store, key) for name, key in REPORT_KEYS.items()},
        }
    )


def load_metrics(db: Catalog) -> "pd.DataFrame":
    """One row per stage run, with its episode's title, format and status."""
    import pandas as pd

    rows = db.stage_runs()
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def cost_report(metrics: "pd.DataFrame") -> CostReport:
    """Totals per episode (newest first), per format and per UTC day (oldest first)."""
    import pandas as pd

    frame = metrics.copy()
    # SQLite returns naive timestamps, PostgreSQL aware ones; the catalog writes UTC either way.
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    frame["day"] = frame["created_at"].dt.strftime("%Y-%m-%d")
    by_episode = (
        frame.groupby(["episode_id", "title", "format", "status"], as_index=False)
        .agg(first_run=("created_at", "min"), **TOTALS)
        .sort_values(["first_run", "episode_id"], ascending=False, ignore_index=True)
    )
    by_episode["first_run"] = by_episode["first_run"].dt.strftime("%Y-%m-%d %H:%M")
    by_format = frame.groupby("format", as_index=False).agg(
        episodes=("episode_id", "nunique"),
        **TOTALS,
    )
    by_format["usd_per_episode"] = by_format["usd"] / by_format["episodes"]
    by_day = frame.groupby("day", as_index=False).agg(
        episodes=("episode_id", "nunique"),
        **TOTALS,
    )
    return CostReport(by_episode=by_episode, by_format=by_format, by_day=by_day)


def markdown_table(frame: "pd.DataFrame", columns: Sequence[str] | None = None) -> str:
    """A GitHub-style table; rendered here so the report needs no `tabulate`."""
    if frame.empty:
        return "_No generation runs yet._"
    names = list(columns or frame.columns)
    lines = ["| " + " | ".join(names) + " |", "|" + "|".join(" --- " for _ in names) + "|"]
    for row in frame[names].itertuples(index=False):
        lines.append(
            "| "
            + " | ".join(_cell(name, value) for name, value in zip(names, row, strict=True))
            + " |"
        )
    return "\n".join(lines)


def _cell(name: str, value: object) -> str:
    # numpy scalars register as numbers.Real / numbers.Integral, not as float / int.
    if isinstance(value, numbers.Integral):
        text = f"{value:,}"
    elif isinstance(value, numbers.Real):
        text = f"{float(value):.4f}" if "usd" in name else f"{float(value):,.1f}"
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")
