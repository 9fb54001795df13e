"""The script's integrity checks on a run of spoken lines: the time guard and the claim check
(H12L's `timeguard` and `claims`), with the model pass when a model is configured.

Lines are numbered from 1 in the order given. Only speakers with an entry in `as_of` (figures,
and a narrator telling a story in its present) are checked: a host or moderator speaks from
today.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from epochpod_assets.formats.base import Line
from epochpod_assets.history import claims, timeguard
from epochpod_assets.history.dates import HistoricalDate
from epochpod_assets.history.factsheet import FactSheet, Finding
from epochpod_assets.history.timeguard import GuardLine
from epochpod_assets.providers.base import ProviderError, Usage, Writer
from epochpod_assets.providers.offline import OfflineWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Review:
    """The checks' verdict on some lines."""

    findings: list[Finding]
    claims: int  # claims checked in figures' and narrators' lines
    unsupported: int
    max_unsupported_share: float
    # Unsupported claims are always reported; they block only when the sheet has sourced
    # facts to rest them on (without sources, a writer's own facts are no better evidence
    # than its script).
    has_facts: bool = True
    supported: dict[int, list[int]] = field(default_factory=dict)  # line -> fact ids
    notes: list[str] = field(default_factory=list)  # model passes that gave no usable answer

    @property
    def unsupported_share(self) -> float:
        return self.unsupported / self.claims if self.claims else 0.0

    @property
    def time_findings(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "anachronism"]

    @property
    def claim_findings(self) -> list[Finding]:
        return [f for f in self.findings if f.kind != "anachronism"]

    @property
    def too_unsupported(self) -> bool:
        return self.has_facts and self.unsupported_share > self.max_unsupported_share

    @property
    def blocking(self) -> list[Finding]:
        return [
            f
            for f in self.findings
            if f.kind in ("anachronism", "contradicted")
            or (f.kind == "unsupported" and self.too_unsupported)
        ]


def guard_lines(
    lines: Sequence[Line], as_of: Mapping[str, HistoricalDate | None]
) -> list[GuardLine]:
    """The lines as the time guard takes them: a speaker with a date is held to it; a speaker
    without one (a host, a moderator, a figure whose date research could not settle) speaks
    from today."""
    out = []
    for number, line in enumerate(lines, start=1):
        date = as_of.get(line.speaker)
        if date is None:
            out.append(GuardLine(number, line.speaker, line.text, role="host"))
        else:
            out.append(GuardLine(number, line.speaker, line.text, role="figure", as_of=date))
    return out


def review(
    lines: Sequence[Line],
    as_of: Mapping[str, HistoricalDate | None],
    sheet: FactSheet,
    *,
    writer: Writer | None,
    usage: Usage | None,
    max_unsupported_share: float,
) -> Review:
    """Every finding on `lines`. With a model writer and `usage`, the time guard's model pass
    runs too (through the writer, so it is budgeted and billed like every call)."""
    guarded = guard_lines(lines, as_of)
    findings = timeguard.check_lines(guarded)
    model = writer is not None and usage is not None and writer.provider != OfflineWriter.provider
    notes: list[str] = []
    if model and writer is not None and usage is not None:
        seen = {(f.line, f.term.casefold()) for f in findings}
        try:
            for finding in timeguard.model_findings(writer, guarded, usage):
                if (finding.line, finding.term.casefold()) not in seen:
                    findings.append(finding)
        except ProviderError as error:
            notes.append(_model_pass_failed("time guard", error))
    report = claims_report(lines, as_of, sheet)
    judged = False
    # The judge weighs claims against sourced facts; a sheet of a writer's own facts is no
    # better evidence than its script, and the offline verdicts are only reported then.
    if model and writer is not None and usage is not None and any(f.sourced for f in sheet.facts):
        try:
            report = claims.judge(writer, report, sheet, usage)
            judged = True
        except ProviderError as error:
            notes.append(_model_pass_failed("claim check", error))
    findings += report.findings(origin="model" if judged else "claims")
    findings.sort(key=lambda f: f.line)
    return Review(
        findings,
        report.claims,
        report.unsupported,
        max_unsupported_share,
        has_facts=any(fact.sourced for fact in sheet.facts),
        supported=report.supported_fact_ids,
        notes=notes,
    )


def _model_pass_failed(check: str, error: ProviderError) -> str:
    """A model pass is an addition to the offline checks: a model that cannot answer it in
    its schema leaves the offline findings standing (said in the metadata). Network trouble
    is not an answer: it is raised for the stage's retry."""
    if error.transient:
        raise error
    log.warning(
        "the %s's model pass gave no usable answer (%s); offline findings stand", check, error
    )
    return f"{check} model pass: no usable answer ({error}); the offline findings stand"


def claims_report(
    lines: Sequence[Line], as_of: Mapping[str, HistoricalDate | None], sheet: FactSheet
) -> claims.ClaimReport:
    """The offline claim check on the lines of figures and narrators (every speaker in
    `as_of`, dated or not); a host's or moderator's lines claim nothing for the episode."""
    return claims.check_lines(
        [
            claims.ClaimLine(number, line.speaker, line.text)
            for number, line in enumerate(lines, start=1)
            if line.speaker in as_of
        ],
        sheet,
    )
