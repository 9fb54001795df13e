"""Offline research: ranked, quoted facts and a figure's timeline from source text."""

from __future__ import annotations

from epochpod_assets.history.dates import parse_date
from epochpod_assets.history.extract import extract_facts, extract_timeline, sentences

TEXT = "\n\n".join(
    [
        "Albert Einstein in 1921",
        "Albert Einstein (1879-1955) was a German-born theoretical physicist. He was born in "
        "Ulm on 14 March 1879. He is best known for the theory of relativity.",
        'In 1905, his "miracle year", Einstein published four papers, including one on the '
        "photoelectric effect. Dr. J. J. Thomson had discovered the electron in 1897. The "
        "weather was pleasant.",
        "In April 1921 Einstein visited New York with Chaim Weizmann to raise money for the "
        "Hebrew University. Some 3000 people came to his lecture at Columbia.",
        "Einstein emigrated to the United States in 1933 and died in Princeton in 1955. Why "
        "would anyone doubt it?",
    ]
)


def test_sentences_do_not_break_at_abbreviations_or_initials() -> None:
    assert sentences("Dr. J. J. Thomson found it in 1897. Caesar died in 44 B.C. at Rome.") == [
        "Dr. J. J. Thomson found it in 1897.",
        "Caesar died in 44 B.C. at Rome.",
    ]


def test_facts_are_ranked_quoted_located_and_deterministic() -> None:
    facts = extract_facts(
        TEXT, topic="Einstein and relativity", figures=["Albert Einstein"], limit=6, source_id=2
    )
    assert facts == extract_facts(
        TEXT, topic="Einstein and relativity", figures=["Albert Einstein"], limit=6, source_id=2
    )
    assert [fact.id for fact in facts] == [1, 2, 3, 4, 5, 6]
    first = facts[0]
    assert first.text.startswith("In April 1921 Einstein visited New York")
    assert first.date == "April 1921" and first.year == 1921
    assert first.location == "paragraph 4" and first.quote == first.text
    assert first.sourced and first.source_id == 2
    for fact in facts:
        assert fact.quote is not None and fact.quote in TEXT
    texts = [fact.text for fact in facts]
    assert "The weather was pleasant." not in texts  # neither dated nor on topic
    assert "Why would anyone doubt it?" not in texts
    # A count is not a date.
    counted = next(
        f
        for f in extract_facts(TEXT, topic="Einstein", figures=["Albert Einstein"])
        if f.text.startswith("Some 3000")
    )
    assert counted.date is None


def test_timeline_has_birth_death_and_events_up_to_as_of() -> None:
    timeline = extract_timeline([TEXT], "Albert Einstein", parse_date("1921"))
    assert (timeline.birth, timeline.death, timeline.as_of) == (1879, 1955, "1921")
    years = [event.year for event in timeline.events]
    assert years == sorted(years)
    assert 1905 in years and 1921 in years
    assert 1933 not in years  # after the date he speaks from
    assert all("Thomson" not in event.text for event in timeline.events)  # not about him
