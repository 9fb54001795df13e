"""The script's integrity report: what the time guard and the claim check found on the whole
script, what was rewritten on the way, and the metadata and asset-check verdicts built from it.

`episode_script` stores it (integrity.json) next to the script; the blocking asset checks
`script_respects_time_guard` and `script_claims_are_supported` show it per line in the UI.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dagster as dg
from pydantic import BaseModel

from epochpod_assets.formats.base import TrackPlan
from epochpod_assets.history.checks import Review
from epochpod_assets.history.factsheet import Finding
from epochpod_assets.history.gate import Gate, IntegrityError

INTEGRITY_JSON = "integrity.json"


class Rewrite(BaseModel):
    what: str  # "interview part 3 of 7", "interview script"
    attempt: int
    findings: list[Finding]


class IntegrityReport(BaseModel):
    lines_checked: int
    findings: list[Finding]
    blocking: list[Finding]
    claims: int
    unsupported: int
    max_unsupported_share: float
    rewrites: list[Rewrite]
    has_facts: bool = True
    model_notes: list[str] = []

    @property
    def too_unsupported(self) -> bool:
        return self.has_facts and self.unsupported_share > self.max_unsupported_share

    @property
    def unsupported_share(self) -> float:
        return self.unsupported / self.claims if self.claims else 0.0

    def of_kind(self, *kinds: str) -> list[Finding]:
        return [f for f in self.findings if f.kind in kinds]

    def raise_if_blocked(self) -> None:
        if self.blocking:
            raise IntegrityError(self.blocking, "the script")


def integrity_report(gate: Gate, tracks: Sequence[TrackPlan]) -> IntegrityReport:
    """The whole script reviewed (offline checks; the model pass already ran on every part
    as it was written), with the rewrites the gate made along the way."""
    lines = [line for track in tracks for section in track.sections for line in section.lines]
    review = gate.review(lines)
    report = report_from(review, len(lines), gate.rewrites)
    report.model_notes = list(gate.notes)
    return report


def report_from(
    review: Review, lines: int, rewrites: Sequence[tuple[str, int, list[Finding]]] = ()
) -> IntegrityReport:
    return IntegrityReport(
        lines_checked=lines,
        findings=review.findings,
        blocking=review.blocking,
        claims=review.claims,
        unsupported=review.unsupported,
        max_unsupported_share=review.max_unsupported_share,
        has_facts=review.has_facts,
        rewrites=[Rewrite(what=w, attempt=a, findings=f) for w, a, f in rewrites],
    )


def findings_table(findings: Sequence[Finding], limit: int = 40) -> str:
    """Per-line findings as a Markdown table, each labelled with the check that found it."""
    if not findings:
        return "*none*"
    rows = ["| line | speaker | kind | found by | term | evidence |", "|---|---|---|---|---|---|"]
    for f in findings[:limit]:
        cells = [str(f.line), f.speaker, f.kind, f.origin, f.term, f.evidence]
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    if len(findings) > limit:
        rows.append(f"\n*and {len(findings) - limit} more*")
    return "\n".join(rows)


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())[:160]


def integrity_metadata(report: IntegrityReport) -> dict[str, Any]:
    rewritten = [f for r in report.rewrites for f in r.findings]
    return {
        "anachronisms": len(report.of_kind("anachronism")),
        "contradicted_claims": len(report.of_kind("contradicted")),
        "claims_checked": report.claims,
        "unsupported_share": round(report.unsupported_share, 3),
        "max_unsupported_share": report.max_unsupported_share,
        "integrity_rewrites": len(report.rewrites),
        "findings": dg.MetadataValue.md(findings_table(report.findings)),
        "findings_rewritten": dg.MetadataValue.md(
            "\n\n".join(
                f"**{r.what}, attempt {r.attempt}**\n\n{findings_table(r.findings)}"
                for r in report.rewrites
            )
            or "*none: every line passed as first written*"
        ),
        "findings_rewritten_count": len(rewritten),
        "model_pass": "; ".join(report.model_notes)
        or "ran where a model is configured (findings labelled 'model')",
    }
