"""Citations where listeners see them: show notes (Markdown and HTML) with the numbered
sources and the facts the episode's lines cite, transcript lines marked with the sources they
rest on ("[1]"), and a plain-text citation block for the feed item's description."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import PurePath
from typing import Any

from epochpod_assets.formats.base import Line, Section
from epochpod_assets.history.factsheet import Fact, FactSheet, Source
from epochpod_assets.history.research import Research
from epochpod_assets.history.sources import is_url


@dataclass(frozen=True)
class ShowNotes:
    markdown: str
    html: str
    cited_facts: list[int]  # fact ids some line rests on, in order
    cited_sources: list[int]  # source ids those facts come from

    @property
    def facts_cited(self) -> int:
        return len(self.cited_facts)


def citation(source: Source) -> str:
    """A source as listeners see it: a URL in full, a file by its name only (the path is the
    machine it was enqueued on, nobody's business)."""
    if is_url(source.location):
        return source.citation()
    return source.model_copy(update={"location": PurePath(source.location).name}).citation()


def cited_fact_ids(lines: Iterable[Line], sheet: FactSheet) -> list[int]:
    """The ids lines cite that are really on the sheet (a made-up id cites nothing)."""
    known = {f.id for f in sheet.facts}
    seen: dict[int, None] = {}
    for line in lines:
        for fact_id in line.facts:
            if fact_id in known:
                seen.setdefault(fact_id)
    return sorted(seen)


def line_sources(line: Line, sheet: FactSheet) -> list[int]:
    """The sources a line rests on: those of its sourced facts."""
    ids: set[int] = set()
    for fact_id in line.facts:
        try:
            fact = sheet.fact(fact_id)
        except KeyError:
            continue
        if fact.sourced and fact.source_id is not None:
            ids.add(fact.source_id)
    return sorted(ids)


def marked(line: Line, sheet: FactSheet) -> str:
    """The line's text with its sources marked: "... in 1905. [1]"."""
    marks = "".join(f"[{number}]" for number in line_sources(line, sheet))
    return f"{line.text} {marks}" if marks else line.text


def cited_transcript(sections: Iterable[Section], sheet: FactSheet) -> str:
    """`Speaker: text [n]` paragraphs: the transcript, its citations marked."""
    return "\n\n".join(
        f"{line.speaker}: {marked(line, sheet)}" for s in sections for line in s.lines
    )


def show_notes(title: str, description: str, found: Research, lines: Sequence[Line]) -> ShowNotes:
    sheet = found.sheet
    cited = cited_fact_ids(lines, sheet)
    facts = [sheet.fact(i) for i in cited]
    sources = sorted({f.source_id for f in facts if f.sourced and f.source_id is not None})
    md = [f"# {_md(title)}", "", _md(description), ""]
    md += ["## Sources", ""]
    if sheet.sources:
        for source in sheet.sources:
            count = sum(1 for f in facts if f.source_id == source.id)
            md.append(f"{source.id}. {_md(citation(source))} ({_cited(count)})")
    else:
        md.append("This episode was written without sources.")
    md += ["", f"## Facts cited ({len(facts)})", ""]
    if facts:
        md += [f"- {_fact(f)}" for f in facts]
    else:
        md.append("No line of this episode cites a fact.")
    unsourced = [f for f in facts if not f.sourced]
    if unsourced:
        md += [
            "",
            f"{len(unsourced)} of these facts are the writer's own knowledge, not from a source.",
        ]
    dated = [v for v in found.voices]
    if dated:
        md += ["", "## Who speaks from when", ""]
        md += [f"- {_md(v.speaker)}: {v.as_of or 'no date settled'} ({_md(v.rule)})" for v in dated]
    text = "\n".join(md) + "\n"
    return ShowNotes(
        markdown=text,
        html=_html(title, text),
        cited_facts=cited,
        cited_sources=sources,
    )


def feed_citations(notes: ShowNotes, sheet: FactSheet) -> str:
    """Plain text for the feed item's description: the numbered sources and facts cited."""
    if not sheet.sources:
        return f"Facts cited: {notes.facts_cited} (no sources given)."
    listed = " ".join(f"[{s.id}] {citation(s)}" for s in sheet.sources)
    return f"Sources: {listed} Facts cited: {notes.facts_cited}."


def _fact(fact: Fact) -> str:
    when = f"({fact.date}) " if fact.date else ""
    if fact.sourced and fact.source_id is not None:
        where = f"[{fact.source_id}]" + (f", {fact.location}" if fact.location else "")
        quote = f": “{_md(fact.quote)}”" if fact.quote else ""
        return f"**{fact.id}.** {when}{_md(fact.text)} — {where}{quote}"
    return f"**{fact.id}.** {when}{_md(fact.text)} — *unsourced*"


def _cited(count: int) -> str:
    return f"{count} fact{'s' if count != 1 else ''} cited"


def _md(text: str) -> str:
    # Source titles and model text are data: never let them become markup or raw HTML.
    out = text.replace("\\", "\\\\")
    for ch in "`*_[]<>#|":
        out = out.replace(ch, "\\" + ch)
    return " ".join(out.split())


@cache
def _renderer() -> Any:
    # Imported on first use: every run worker imports this module before its first step,
    # and only publishing renders show notes.
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False})


def _html(title: str, markdown: str) -> str:
    import html

    body = _renderer().render(markdown)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n{body}</body></html>\n"
    )
