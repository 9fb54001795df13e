"""The time guard: dates, decades, centuries and lexicon terms after a figure's as_of."""

from __future__ import annotations

from typing import Any

import pytest

from epochpod_assets.history.dates import parse_date
from epochpod_assets.history.timeguard import (
    GuardLine,
    ModelAnachronism,
    ModelAnachronisms,
    check_lines,
    check_text,
    lexicon,
    model_findings,
)
from epochpod_assets.providers.base import Usage, WritingTask
from epochpod_assets.providers.offline import OfflineWriter


def terms(text: str, as_of: str, role: str = "figure") -> list[str]:
    return [f.term for f in check_text(text, parse_date(as_of), role=role)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "as_of", "expected"),
    [
        ("By 1945 the war will be over.", "1921", ["1945"]),
        ("By AD 14 my family will rule.", "44 BC", ["AD 14"]),
        ("In 30 BC Egypt will fall.", "44 BC", ["30 BC"]),
        ("On 6 August 1945 the world changed.", "1940", ["6 August 1945"]),
        ("On April 14, 1865 I went to the theatre.", "1863", ["April 14, 1865"]),
        ("The treaty is dated 1919-06-28.", "1918", ["1919-06-28"]),
        ("In June 1921 I sailed.", "1921-03-01", ["June 1921"]),
        ("The war of 1939-45 was the worst.", "1941", ["1939-45"]),
        ("The 1960s will be wild.", "1921", ["1960s"]),
        ("The twenty-first century will judge us.", "1921", ["twenty-first century"]),
        ("The 1st century AD belongs to the emperors.", "44 BC", ["1st century AD"]),
    ],
)
def test_dates_after_as_of_are_found(text: str, as_of: str, expected: list[str]) -> None:
    assert terms(text, as_of) == expected


@pytest.mark.parametrize(
    ("text", "as_of"),
    [
        ("Some 3000 people came to my lecture.", "1921"),
        ("Ptolemy promised 6000 talents.", "44 BC"),
        ("More than 1500 towers stood on the lines.", "52 BC"),
        ("We had 2000 heavy infantry and 1500 armed men.", "44 BC"),
        ("It is on page 1923 of the register.", "1900"),
        ("That cost $1950 and 1,945 francs.", "1900"),
        ("A 1000-year-old oak stood in the grove.", "44 BC"),
        ("The result was 1921.5 on the scale.", "1900"),
        ("In 1905 I wrote my papers, and in 1915 general relativity.", "1921"),
        ("The 1890s were good years, and the 20th century is young.", "1911"),
        ("In June 1921 I sailed.", "1921"),
        ("The fifth century BC is a time of war.", "480 BC"),
        ("We crossed with 8000 camels. 1324 is my year of pilgrimage.", "1324"),
    ],
)
def test_numbers_that_are_not_later_years_are_left_alone(text: str, as_of: str) -> None:
    assert terms(text, as_of) == []


def test_lexicon_terms_with_plurals_case_and_longest_match() -> None:
    assert terms("The atomic bomb frightens me.", "1921") == ["atomic bomb"]
    assert terms("Robots will do our work.", "1919") == ["Robots"]
    assert terms("Robots will do our work.", "1921") == []
    assert terms("People will call this the Renaissance.", "1505") == ["the Renaissance"]
    assert terms("Florence has seen a renaissance of letters.", "1505") == []
    # The longest entry wins: King's name dates from 1955, not Luther's 1517.
    found = check_text("Martin Luther King Jr. will march.", parse_date("1900"))
    assert [f.term for f in found] == ["Martin Luther King Jr."]
    assert "1955" in found[0].evidence and found[0].origin == "lexicon"
    assert terms("Einstein's theory is famous.", "1900") == ["Einstein"]


def test_findings_say_what_and_why() -> None:
    (finding,) = check_text("The telephone rings.", parse_date("1850"), line=4, speaker="Lincoln")
    assert finding.line == 4 and finding.speaker == "Lincoln"
    assert finding.kind == "anachronism" and finding.origin == "lexicon"
    assert "1876" in finding.evidence and "after 1850" in finding.evidence


def test_hosts_and_narrators_speak_from_today() -> None:
    line = "In 1945 the atomic bomb ended the war Einstein feared."
    assert terms(line, "1921", role="host") == []
    assert terms(line, "1921", role="narrator") == []
    assert terms("By 2300 we will all live on Mars.", "1921", role="host") == ["2300"]
    assert terms(line, "1921", role="figure") == ["1945", "atomic bomb"]


def test_check_lines_holds_each_figure_to_its_own_date() -> None:
    findings = check_lines(
        [
            GuardLine(1, "Host", "Welcome back; the telephone was patented in 1876.", "host"),
            GuardLine(
                2, "Franklin", "The telephone will astonish you.", "figure", parse_date("1776")
            ),
            GuardLine(3, "Edison", "The telephone is Bell's.", "figure", parse_date("1880")),
        ]
    )
    assert [(f.line, f.term) for f in findings] == [(2, "telephone")]
    with pytest.raises(ValueError, match=r"line 5 .*needs an as_of"):
        check_lines([GuardLine(5, "Caesar", "Veni.", "figure")])


def test_lexicon_is_large_dated_and_sourced() -> None:
    entries = lexicon()
    assert len(entries) >= 300
    kinds = {entry.kind for entry in entries}
    assert kinds == {"invention", "event", "institution", "term", "person"}
    for entry in entries:
        assert entry.source.strip(), entry.term
        assert -3000 <= entry.year <= 2026, entry.term
    assert len({entry.term for entry in entries}) == len(entries)


class ScriptedWriter:
    provider = "scripted"
    model = "scripted-1"

    def __init__(self, answer: ModelAnachronisms) -> None:
        self.answer = answer
        self.tasks: list[WritingTask[Any]] = []

    def write(self, task: WritingTask[Any], usage: Usage) -> Any:
        self.tasks.append(task)
        if task.check is not None:
            task.check(self.answer)
        return self.answer


def test_model_pass_labels_and_checks_its_findings() -> None:
    lines = [
        GuardLine(1, "Host", "Welcome.", "host"),
        GuardLine(
            2, "Confucius", "Buddhist monks will come from India.", "figure", parse_date("480 BC")
        ),
    ]
    answer = ModelAnachronisms(
        findings=[
            ModelAnachronism(
                line=2,
                term="Buddhist monks",
                evidence="Buddhism reached China in the 1st century AD",
            ),
            ModelAnachronism(line=2, term="gunpowder", evidence="not in the line"),
        ]
    )
    writer = ScriptedWriter(answer)
    findings = model_findings(writer, lines, Usage())
    assert [(f.line, f.term, f.origin) for f in findings] == [(2, "Buddhist monks", "model")]
    (task,) = writer.tasks
    assert "[2] Confucius, speaking as of 480 BC" in task.prompt
    assert "Welcome" not in task.prompt  # host lines are not the model's business
    bad = ScriptedWriter(
        ModelAnachronisms(findings=[ModelAnachronism(line=9, term="x", evidence="y")])
    )
    with pytest.raises(ValueError, match="line 9 was not one of the lines given"):
        model_findings(bad, lines, Usage())
    assert model_findings(OfflineWriter(), lines, Usage()) == []


@pytest.mark.parametrize(
    ("text", "as_of", "expected"),
    [
        ("In nineteen forty-five the war ended.", "1921", ["nineteen forty-five"]),
        ("We declared it in seventeen seventy-six.", "1770", ["seventeen seventy-six"]),
        ("In nineteen oh five I wrote four papers.", "1900", ["nineteen oh five"]),
        ("By two thousand and one we will fly to the Moon.", "1921", ["two thousand and one"]),
        ("In eighteen hundred the century turned.", "1790", ["eighteen hundred"]),
        # Counts in words are not years, and years in the past are not anachronisms.
        ("Fifteen hundred men marched with me.", "1200", []),
        ("Eighteen hundred were killed at Culloden.", "1746", []),
        ("He paid two thousand for the horse.", "1700", []),
        ("Seventeen of the ships sank in twenty minutes.", "1588", []),
        ("In nineteen oh five I wrote four papers.", "1921", []),
    ],
)
def test_years_in_words(text: str, as_of: str, expected: list[str]) -> None:
    assert terms(text, as_of) == expected


@pytest.mark.parametrize(
    ("text", "as_of"),
    [
        # Names and words that meant something else before the lexicon's sense existed.
        ("Allahu Akbar, cried the army.", "1200"),
        ("Tiberius Nero served me at Alexandria.", "44 BC"),
        ("The khalsa lands pay the treasury.", "1600"),
        ("Leland Stanford built the railroad.", "1870"),
        ("Elihu Yale made his fortune in Madras.", "1700"),
        ("At the theatre the iron curtain came down between the acts.", "1850"),
        ("Florence has seen a renaissance of letters.", "1505"),
        ("The red cross on their tunics marked them as crusaders.", "1190"),
        ("The great depression of trade has lasted since 1873.", "1877"),
    ],
)
def test_older_senses_of_lexicon_words_are_not_anachronisms(text: str, as_of: str) -> None:
    assert terms(text, as_of) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I led an army of 1500 across the river.", []),
        ("The garrison of 1200 surrendered.", []),
        ("We mourn the 1500 who died at Cannae.", []),
        ("A crowd of 2000, no more, gathered.", []),
        ("The summer of 1945 was hot.", ["1945"]),
        ("The voyage of 1492 changed the world.", ["1492"]),
    ],
)
def test_group_sizes_are_counts_but_events_of_a_year_are_years(
    text: str, expected: list[str]
) -> None:
    assert terms(text, "44 BC") == expected


@pytest.mark.parametrize(
    ("text", "as_of"),
    [
        ("We marched 1500 stadia in a month.", "330 BC"),
        ("Two thousand horsemen and 1500 spearmen followed me.", "44 BC"),
        ("My legion lost 1200 at Gergovia.", "44 BC"),
        ("We sacrificed 1000 oxen.", "480 BC"),
        ("He brought 2000 to the battle.", "44 BC"),
        ("The lord sent 1000 koku of rice.", "1010"),
        ("They paid 1500 drachmae.", "430 BC"),
    ],
)
def test_counts_in_old_units_and_after_verbs_are_not_years(text: str, as_of: str) -> None:
    assert terms(text, as_of) == []
