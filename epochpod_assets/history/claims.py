"""The claim check: is each factual claim in a line backed by the fact sheet?

Offline and deterministic. A line is cut into sentences; a sentence is a *claim* when it states
something checkable (a date, a number or a named thing) rather than a question, a greeting or
an opinion. Each claim is matched to the fact it shares the most content words with:

- **contradicted** when it is about the same thing as a fact (enough shared words) but gives a
  different year, a different count of the same thing ("3000 people" against "2000 people"),
  or says the opposite ("did not" against "did");
- **supported** (with the fact's id) when enough of its content words are in that fact;
- **unsupported** otherwise.

`judge` lets a model decide the same three verdicts (with a JSON schema); the offline writer's
answer is the offline verdicts, so the result never depends on whether a model is configured
to exist, only on whether it is used.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from epochpod_assets.formats import schemas
from epochpod_assets.history.extract import STOPWORDS, sentences, words
from epochpod_assets.history.factsheet import Fact, FactSheet, Finding
from epochpod_assets.history.timeguard import date_mentions, normalize
from epochpod_assets.providers.base import Usage, Writer, WritingTask

Verdict = Literal["supported", "unsupported", "contradicted"]

# A claim shares at least this share of its content words with a fact to be supported by it,
SUPPORT_OVERLAP = 0.5
# ...and at least this share to be "about the same thing" (and so able to contradict it).
RELATED_OVERLAP = 0.33
MIN_SHARED = 2

_OPINION = re.compile(
    r"^(?:i|we)\s+(?:think|feel|believe|hope|wish|fear|suppose|imagine|wonder|love|hate|"
    r"like|want)\b|^(?:thank|welcome|hello|good\s+(?:morning|evening)"
    r"|yes|no|well|perhaps|maybe)\b",
    re.IGNORECASE,
)
_NEGATION = re.compile(r"\b(?:not|never|no|neither|nor|n't|nothing|none)\b", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?![\w.,]\d)")
_WORD_NUMBERS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "hundred": 100, "thousand": 1000,
}  # fmt: skip


@dataclass(frozen=True)
class ClaimResult:
    claim: str
    verdict: Verdict
    fact_id: int | None
    term: str
    evidence: str


def is_claim(sentence: str) -> bool:
    """Whether a sentence states something checkable."""
    text = sentence.strip()
    if text.endswith("?") or len(text.split()) < 4:
        return False
    if _OPINION.match(text):
        return False
    if date_mentions(normalize(text)) or _NUMBER.search(text):
        return True
    # A named thing: "Kepler wrote to me", "the court of Muhammad bin Tughluq".
    if re.search(r"(?<=\s)[A-Z][a-z]+", text):
        return True
    first = text.split()[0].strip("\"'(").lower()
    return first not in STOPWORDS and first not in _COMMON_STARTS


_COMMON_STARTS = frozenset(
    {
        "yes", "no", "oh", "ah", "well", "so", "then", "now", "today", "yesterday", "tomorrow",
        "sometimes", "often", "always", "never", "perhaps", "maybe", "indeed", "surely",
        "certainly", "still", "yet", "thus", "hence", "please", "let", "even",
    }
)  # fmt: skip


def split_claims(text: str) -> list[str]:
    """The claims in a line: its sentences (and semicolon clauses) that state something."""
    out = []
    for sentence in sentences(" ".join(text.split())):
        for clause in re.split(r";\s+", sentence):
            if is_claim(clause):
                out.append(clause.strip())
    return out


def _years(text: str) -> set[int]:
    """Years stated exactly (not a decade, century or range)."""
    return {m.point.year for m in date_mentions(normalize(text)) if m.span[0] == m.span[1]}


def _spans(text: str) -> list[tuple[int, int]]:
    """Every time the text mentions, as first and last year: "the 1850s" is (1850, 1859)."""
    return [mention.span for mention in date_mentions(normalize(text))]


def _overlap(one: list[tuple[int, int]], other: list[tuple[int, int]]) -> bool:
    return any(a <= d and c <= b for a, b in one for c, d in other)


def _counts(text: str) -> dict[str, float]:
    """Numbers that count something, keyed by the word after them: {"people": 3000}."""
    normalized = normalize(text)
    years = {(m.start, m.end) for m in date_mentions(normalized)}
    found: dict[str, float] = {}
    for match in _NUMBER.finditer(normalized):
        if any(a <= match.start() < b for a, b in years):
            continue
        after = words(normalized[match.end() : match.end() + 40])
        if after:
            found[after[0]] = float(match.group(1).replace(",", ""))
    for match in re.finditer(r"\b(" + "|".join(_WORD_NUMBERS) + r")\s+([A-Za-z]+)", text, re.I):
        noun = words(match.group(2))
        if noun:
            found.setdefault(noun[0], float(_WORD_NUMBERS[match.group(1).lower()]))
    return found


def _negated(text: str) -> bool:
    return bool(_NEGATION.search(text))


def _fact_words(fact: Fact) -> set[str]:
    return set(words(fact.quote or fact.text)) | set(words(fact.text))


def best_fact(claim: str, facts: Sequence[Fact]) -> tuple[Fact | None, float, int]:
    """The fact sharing the largest share of the claim's content words (ties: lower id)."""
    claim_words = set(words(claim))
    if not claim_words:
        return None, 0.0, 0
    best: tuple[Fact | None, float, int] = (None, 0.0, 0)
    for fact in facts:
        shared = len(claim_words & _fact_words(fact))
        share = shared / len(claim_words)
        if share > best[1]:
            best = (fact, share, shared)
    return best


_PLACE = re.compile(r"\b(?:in|at|from|near)\s+((?:[A-Z][\w'-]+)(?:\s+[A-Z][\w'-]+)*)")
_MONTH_NAMES = {
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
}  # fmt: skip


def _places(text: str) -> set[str]:
    """Named places after in/at/from/near ("born in Pisa"), months left out."""
    return {
        match.group(1)
        for match in _PLACE.finditer(text)
        if match.group(1).split()[0] not in _MONTH_NAMES
    }


_TITLED = re.compile(
    r"\b(General|Admiral|Commodore|Captain|Colonel|King|Queen|Emperor|Empress|President|Pope|"
    r"Sultan|Shah|Mansa|Pharaoh|Consul|Governor|Commissioner|Professor|Sir|Lord|Lady)\s+"
    r"((?:[A-Z][\w'-]+)(?:\s+[A-Z][\w'-]+)*)"
)
# Word groups that say the opposite of each other about the same event (stemmed as `words`
# stems them).
_OPPOSITES: list[tuple[frozenset[str], frozenset[str]]] = [
    (frozenset({"rise", "rose", "risen", "grew", "grow"}),
     frozenset({"fall", "fell", "fallen", "shrank", "declin"})),
    (frozenset({"increas"}), frozenset({"decreas", "reduc"})),
    (frozenset({"won", "win", "victory", "victoriou"}), frozenset({"lost", "lose", "defeat"})),
    (frozenset({"accept"}), frozenset({"reject", "refus"})),
    (frozenset({"open"}), frozenset({"clos", "shut"})),
    (frozenset({"succeed", "success"}), frozenset({"fail", "failure"})),
    (frozenset({"ally", "allie"}), frozenset({"enemy", "enemie"})),
    (frozenset({"north", "northern"}), frozenset({"south", "southern"})),
    (frozenset({"east", "eastern"}), frozenset({"west", "western"})),
    (frozenset({"higher"}), frozenset({"lower"})),
    (frozenset({"earlier"}), frozenset({"later"})),
    (frozenset({"abolish"}), frozenset({"restor", "reintroduc"})),
    (frozenset({"legal"}), frozenset({"illegal"})),
]  # fmt: skip


def _titled(text: str) -> dict[str, set[str]]:
    """Named people by their title: {"General": {"Charles Leclerc"}}."""
    found: dict[str, set[str]] = {}
    for match in _TITLED.finditer(text):
        found.setdefault(match.group(1), set()).add(match.group(2))
    return found


def _opposite(claim_words: set[str], fact_words: set[str]) -> str | None:
    for one, other in _OPPOSITES:
        for said, stated in ((one, other), (other, one)):
            hit = claim_words & said
            if hit and fact_words & stated and not fact_words & said:
                return sorted(hit)[0]
    return None


def _names_differ(claim: str, fact: str) -> str | None:
    """A titled name in the claim where the fact names someone else with that title
    ("General Rochambeau" against "General Charles Leclerc")."""
    fact_titled = _titled(fact)
    for title, names in _titled(claim).items():
        others = fact_titled.get(title)
        if not others:
            continue
        for name in names:
            if not any(name in other or other in name for other in others):
                return f"{title} {name}"
    return None


def check_claim(claim: str, sheet: FactSheet) -> ClaimResult:
    fact, share, shared = best_fact(claim, sheet.facts)
    # A short claim ("Conscription came in 1873") may rest on a single shared word.
    needed = 1 if len(set(words(claim))) <= 3 else MIN_SHARED
    if fact is None or shared < needed or share < RELATED_OVERLAP:
        return ClaimResult(claim, "unsupported", None, claim, "no fact in the fact sheet says this")
    fact_text = fact.quote or fact.text
    cited = f"fact [{fact.id}]: {fact_text}"
    claim_years, fact_years = (
        _years(claim),
        _years(fact_text) | ({fact.year} if fact.year is not None else set()),
    )
    claim_spans = _spans(claim)
    fact_spans = _spans(fact_text) + ([(fact.year, fact.year)] if fact.year is not None else [])
    # "The 1850s" agrees with 1855; "1859" does not.
    if claim_spans and fact_spans and not _overlap(claim_spans, fact_spans):
        year = min(start for start, _ in claim_spans)
        term = str(year) if year > 0 else f"{-year} BC"
        return ClaimResult(claim, "contradicted", fact.id, term, f"the year disagrees with {cited}")
    claim_counts, fact_counts = _counts(claim), _counts(fact_text)
    for noun, value in claim_counts.items():
        if noun in fact_counts and fact_counts[noun] != value:
            term = f"{value:g} {noun}"
            return ClaimResult(
                claim, "contradicted", fact.id, term, f"the number disagrees with {cited}"
            )
    person = _names_differ(claim, fact_text)
    if person:
        return ClaimResult(
            claim, "contradicted", fact.id, person, f"the person disagrees with {cited}"
        )
    opposite = _opposite(set(words(claim)), _fact_words(fact))
    if opposite:
        return ClaimResult(
            claim, "contradicted", fact.id, opposite, f"says the opposite of {cited}"
        )
    claim_places, fact_places = _places(claim), _places(fact_text)
    # A different place only contradicts a claim that is otherwise about the same thing:
    # the same year, or most of its words ("built of marble from Makrana" is not "at Agra").
    same_thing = bool(claim_years & fact_years) or share >= SUPPORT_OVERLAP
    if claim_places and fact_places and not claim_places & fact_places and same_thing:
        place = sorted(claim_places)[0]
        return ClaimResult(
            claim, "contradicted", fact.id, place, f"the place disagrees with {cited}"
        )
    if share >= SUPPORT_OVERLAP and _negated(claim) != _negated(fact_text):
        return ClaimResult(claim, "contradicted", fact.id, claim, f"says the opposite of {cited}")
    # One shared word is enough to relate a short claim to a fact, but not to support it:
    # that takes a second shared word or the same year.
    enough = shared >= MIN_SHARED or bool(claim_years & fact_years)
    if share >= SUPPORT_OVERLAP and enough:
        return ClaimResult(claim, "supported", fact.id, claim, cited)
    return ClaimResult(claim, "unsupported", None, claim, f"closest is {cited}")


def check_text(text: str, sheet: FactSheet) -> list[ClaimResult]:
    return [check_claim(claim, sheet) for claim in split_claims(text)]


@dataclass(frozen=True)
class ClaimLine:
    line: int
    speaker: str
    text: str


@dataclass(frozen=True)
class ClaimReport:
    """Every claim's result, and the findings (unsupported and contradicted ones)."""

    results: list[tuple[ClaimLine, ClaimResult]]

    @property
    def claims(self) -> int:
        return len(self.results)

    @property
    def unsupported(self) -> int:
        return sum(1 for _, result in self.results if result.verdict == "unsupported")

    @property
    def unsupported_share(self) -> float:
        return self.unsupported / self.claims if self.claims else 0.0

    @property
    def supported_fact_ids(self) -> dict[int, list[int]]:
        """Line number -> ids of the facts its claims rest on."""
        ids: dict[int, list[int]] = {}
        for line, result in self.results:
            if result.verdict == "supported" and result.fact_id is not None:
                ids.setdefault(line.line, [])
                if result.fact_id not in ids[line.line]:
                    ids[line.line].append(result.fact_id)
        return ids

    def findings(self, origin: Literal["claims", "model"] = "claims") -> list[Finding]:
        return [
            Finding(
                line=line.line,
                speaker=line.speaker,
                kind=result.verdict,
                term=result.term,
                evidence=result.evidence,
                origin=origin,
                fact_id=result.fact_id,
            )
            for line, result in self.results
            if result.verdict != "supported"
        ]


def check_lines(lines: Sequence[ClaimLine], sheet: FactSheet) -> ClaimReport:
    """Offline results for the claims in figures' and narrators' lines (hosts' lines are the
    caller's to leave out)."""
    return ClaimReport(
        [(line, result) for line in lines for result in check_text(line.text, sheet)]
    )


# --- the model judge ---------------------------------------------------------------------


class JudgedClaim(BaseModel):
    claim: int = Field(description="the number of the claim, as given in brackets")
    verdict: Verdict
    fact_id: int | None = Field(description="the fact that supports or contradicts it")
    evidence: str = Field(description="one sentence: why")


class JudgedClaims(BaseModel):
    claims: list[JudgedClaim]


JUDGE_INSTRUCTIONS = (
    "You check a history podcast's claims against its fact sheet. For each numbered claim, "
    "answer 'supported' with the id of the fact that states it, 'contradicted' with the id of "
    "the fact it disagrees with (a different date, number, person or outcome), or "
    "'unsupported' when no fact says it. Judge only by the fact sheet, not by your own "
    "knowledge. Answer every claim exactly once."
)


def judge(writer: Writer, report: ClaimReport, sheet: FactSheet, usage: Usage) -> ClaimReport:
    """A model's verdicts for the same claims. Fact ids the sheet does not have are refused
    (the model is re-asked through the writer's check), and a claim the model leaves out
    keeps its offline verdict."""
    if not report.results:
        return report
    offline = JudgedClaims(
        claims=[
            JudgedClaim(
                claim=index,
                verdict=result.verdict,
                fact_id=result.fact_id,
                evidence=result.evidence,
            )
            for index, (_, result) in enumerate(report.results, start=1)
        ]
    )
    known = {fact.id for fact in sheet.facts}
    prompt = (
        sheet.as_prompt()
        + "\n\nClaims:\n"
        + "\n".join(
            f"[{index}] {result.claim}" for index, (_, result) in enumerate(report.results, start=1)
        )
    )

    def check(answer: JudgedClaims) -> None:
        for item in answer.claims:
            if not 1 <= item.claim <= len(report.results):
                raise ValueError(f"claim {item.claim} was not one of the claims given")
            if item.fact_id is not None and item.fact_id not in known:
                raise ValueError(f"claim {item.claim}: there is no fact {item.fact_id}")
            if item.verdict != "unsupported" and item.fact_id is None:
                raise ValueError(f"claim {item.claim}: a {item.verdict} claim needs a fact_id")

    # The claims' numbers and the sheet's fact ids are closed sets: the schema says so.
    count = len(report.results)
    fact_id: dict[str, Any] = (
        {"anyOf": [{"type": "integer", "enum": sorted(known)}, {"type": "null"}]}
        if known
        else {"type": "null"}
    )
    judged = schemas.obj(
        {
            "claim": {"type": "integer", "enum": list(range(1, count + 1))},
            "verdict": schemas.one_of(["supported", "unsupported", "contradicted"]),
            "fact_id": fact_id,
            "evidence": schemas.text("one sentence: why", max_words=40),
        }
    )
    task: WritingTask[JudgedClaims] = WritingTask(
        name="claim_judge",
        schema=JudgedClaims,
        instructions=JUDGE_INSTRUCTIONS,
        prompt=prompt,
        template=lambda: offline,
        check=check,
        json_schema=schemas.obj({"claims": schemas.array(judged, (0, count))}),
    )
    answer = writer.write(task, usage)
    verdicts = {item.claim: item for item in answer.claims}
    results = []
    for index, (line, result) in enumerate(report.results, start=1):
        item = verdicts.get(index)
        if item is None:
            results.append((line, result))
            continue
        term = result.term if item.verdict == result.verdict else result.claim
        results.append(
            (line, ClaimResult(result.claim, item.verdict, item.fact_id, term, item.evidence))
        )
    return ClaimReport(results)
