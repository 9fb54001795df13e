"""Scoring the offline checks on the labelled sets in `benchmarks/data/`.

`benchmarks/integrity.py` prints these figures and a test asserts the targets, so both use
this one scoring code. A line labelled "anachronism" counts as found when the time guard
reports at least one finding on it; a "clean" line counts as a false positive when it reports
any. A claim counts as right when the checker's verdict equals the label.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from epochpod_assets.history.dates import parse_date
from epochpod_assets.history.factsheet import Finding
from epochpod_assets.history.timeguard import check_text

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"
TIMEGUARD_SET = DATA / "timeguard_labelled.jsonl"
CLAIMS_SET = DATA / "claims_labelled.jsonl"


def read_jsonl(path: Path) -> list[dict[str, object]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not JSON ({error.msg})") from None
    return rows


@dataclass
class TimeGuardScore:
    lines: int = 0
    figures: int = 0
    anachronisms: int = 0
    clean: int = 0
    found: int = 0
    false_positives: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    missed_by_kind: Counter[str] = field(default_factory=Counter)
    misses: list[str] = field(default_factory=list)
    false_alarms: list[str] = field(default_factory=list)
    # Per batch of the labelled set (see the set's "batch" field): anachronisms, found, clean,
    # false positives.
    batches: dict[int, list[int]] = field(default_factory=dict)

    @property
    def recall(self) -> float:
        return self.found / self.anachronisms if self.anachronisms else 1.0

    @property
    def false_positive_rate(self) -> float:
        return self.false_positives / self.clean if self.clean else 0.0


def score_timeguard(path: Path = TIMEGUARD_SET) -> TimeGuardScore:
    score = TimeGuardScore()
    figures = set()
    for row in read_jsonl(path):
        text, label, kind = str(row["text"]), str(row["label"]), str(row["kind"])
        figures.add(str(row["figure"]))
        findings: list[Finding] = check_text(
            text, parse_date(str(row["as_of"])), role="figure", speaker=str(row["figure"])
        )
        score.lines += 1
        score.by_kind[kind] += 1
        batch = score.batches.setdefault(int(str(row.get("batch", 1))), [0, 0, 0, 0])
        described = f"[{row['id']}] {row['figure']} @ {row['as_of']}: {text}"
        if label == "anachronism":
            score.anachronisms += 1
            batch[0] += 1
            if findings:
                score.found += 1
                batch[1] += 1
            else:
                score.missed_by_kind[kind] += 1
                score.misses.append(f"{described}  ({row.get('note', '')})")
        elif label == "clean":
            score.clean += 1
            batch[2] += 1
            if findings:
                score.false_positives += 1
                batch[3] += 1
                terms = ", ".join(f"{f.term!r} ({f.evidence})" for f in findings)
                score.false_alarms.append(f"{described}  -> {terms}")
        else:
            raise ValueError(f"line {row['id']}: unknown label {label!r}")
    score.figures = len(figures)
    return score


@dataclass
class ClaimScore:
    claims: int = 0
    correct: int = 0
    by_label: Counter[str] = field(default_factory=Counter)
    correct_by_label: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    # Per batch of the labelled set: claims, correct.
    batches: dict[int, list[int]] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        return self.correct / self.claims if self.claims else 1.0


def score_claims(path: Path = CLAIMS_SET) -> ClaimScore:
    """Each row's source goes through the offline research (`extract_facts`) into a fact
    sheet, as an episode's would; the claim is then checked against that sheet."""
    from epochpod_assets.history.claims import check_claim
    from epochpod_assets.history.extract import extract_facts
    from epochpod_assets.history.factsheet import FactSheet

    score = ClaimScore()
    sheets: dict[str, FactSheet] = {}
    for row in read_jsonl(path):
        source, topic = str(row["source"]), str(row["topic"])
        figures = [str(name) for name in row.get("figures", [])]  # type: ignore[attr-defined]
        if source not in sheets:
            facts = extract_facts(source, topic=topic, figures=figures, limit=50, source_id=1)
            sheets[source] = FactSheet(topic=topic, facts=facts)
        result = check_claim(str(row["claim"]), sheets[source])
        label = str(row["label"])
        batch = score.batches.setdefault(int(str(row.get("batch", 1))), [0, 0])
        batch[0] += 1
        batch[1] += result.verdict == label
        score.claims += 1
        score.by_label[label] += 1
        if result.verdict == label:
            score.correct += 1
            score.correct_by_label[label] += 1
        else:
            score.errors.append(
                f"[{row['id']}] {row['claim']}  label {label}, got {result.verdict}"
                f" ({result.evidence})"
            )
    return score
