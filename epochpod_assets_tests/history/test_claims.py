"""The claim check: supported, unsupported and contradicted claims against a fact sheet."""

from __future__ import annotations

from typing import Any

import pytest

from epochpod_assets.history.claims import (
    ClaimLine,
    JudgedClaim,
    JudgedClaims,
    check_claim,
    check_lines,
    judge,
    split_claims,
)
from epochpod_assets.history.factsheet import Fact, FactSheet
from epochpod_assets.providers.base import Usage, WritingTask
from epochpod_assets.providers.offline import OfflineWriter

SHEET = FactSheet(
    topic="Galileo",
    facts=[
        Fact(id=1, text="Galileo Galilei was born in Pisa in 1564.", year=1564, sourced=True),
        Fact(id=2, text="In January 1610 he observed four moons orbiting Jupiter.", year=1610),
        Fact(id=3, text="The Convention of Kanagawa opened two ports to American ships."),
        Fact(id=4, text="Napoleon sent an expedition under General Charles Leclerc."),
        Fact(id=5, text="Chroniclers wrote that the value of gold in Cairo fell for years."),
    ],
)


def test_claims_are_statements_not_questions_or_courtesies() -> None:
    line = "Thank you for having me. I was born in Pisa in 1564; I saw four moons in 1610. Why?"
    assert split_claims(line) == ["I was born in Pisa in 1564", "I saw four moons in 1610."]


@pytest.mark.parametrize(
    ("claim", "verdict", "fact_id", "term"),
    [
        ("I was born in Pisa in 1564.", "supported", 1, None),
        ("In January 1610 I saw four moons circling Jupiter.", "supported", 2, None),
        ("I was born in Pisa in 1571.", "contradicted", 1, "1571"),
        ("I was born in Florence in 1564.", "contradicted", 1, "Florence"),
        ("The Convention of Kanagawa opened five ports.", "contradicted", 3, "5 port"),
        (
            "Napoleon sent General Rochambeau with the expedition.",
            "contradicted",
            4,
            "General Rochambeau",
        ),
        ("The value of gold in Cairo rose for years.", "contradicted", 5, "rose"),
        ("Kepler wrote to me about my telescope.", "unsupported", None, None),
        # A decade agrees with any year in it, and disagrees with years outside it.
        ("In the 1610s I observed four moons orbiting Jupiter.", "supported", 2, None),
        ("In the 1620s I observed four moons orbiting Jupiter.", "contradicted", 2, "1620"),
    ],
)
def test_verdicts(claim: str, verdict: str, fact_id: int | None, term: str | None) -> None:
    result = check_claim(claim, SHEET)
    assert (result.verdict, result.fact_id) == (verdict, fact_id), result.evidence
    if term is not None:
        assert result.term == term


def test_report_counts_and_findings() -> None:
    report = check_lines(
        [
            ClaimLine(2, "Galileo", "I was born in Pisa in 1564. Kepler wrote to me often."),
            ClaimLine(4, "Galileo", "I was born in Pisa in 1571."),
        ],
        SHEET,
    )
    assert report.claims == 3 and report.unsupported == 1
    assert report.unsupported_share == pytest.approx(1 / 3)
    assert report.supported_fact_ids == {2: [1]}
    findings = report.findings()
    assert [(f.line, f.kind, f.origin) for f in findings] == [
        (2, "unsupported", "claims"),
        (4, "contradicted", "claims"),
    ]
    assert findings[1].fact_id == 1 and "1564" in findings[1].evidence


class ScriptedWriter:
    provider = "scripted"
    model = "scripted-1"

    def __init__(self, answer: JudgedClaims) -> None:
        self.answer = answer
        self.prompts: list[str] = []

    def write(self, task: WritingTask[Any], usage: Usage) -> Any:
        self.prompts.append(task.prompt)
        if task.check is not None:
            task.check(self.answer)
        return self.answer


def test_model_judge_overrides_verdicts_and_is_checked() -> None:
    report = check_lines([ClaimLine(1, "Galileo", "Kepler wrote to me about my telescope.")], SHEET)
    assert judge(OfflineWriter(), report, SHEET, Usage()) == report
    writer = ScriptedWriter(
        JudgedClaims(
            claims=[
                JudgedClaim(claim=1, verdict="contradicted", fact_id=2, evidence="says otherwise")
            ]
        )
    )
    judged = judge(writer, report, SHEET, Usage())
    assert judged.findings("model")[0].kind == "contradicted"
    assert "[1] Kepler wrote to me about my telescope." in writer.prompts[0]
    bad = ScriptedWriter(
        JudgedClaims(
            claims=[JudgedClaim(claim=1, verdict="supported", fact_id=99, evidence="made up")]
        )
    )
    with pytest.raises(ValueError, match="there is no fact 99"):
        judge(bad, report, SHEET, Usage())
