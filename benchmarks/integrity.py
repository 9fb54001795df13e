"""Offline quality of the integrity checks on the labelled sets in benchmarks/data/.

    .venv/bin/python benchmarks/integrity.py [--verbose]

Prints the time guard's recall and false-positive rate on `timeguard_labelled.jsonl`
(targets: recall >= 90 %, false positives <= 5 %) and the claim check's accuracy on
`claims_labelled.jsonl`. No network, no model: the offline checks only (the model passes add
to them when a model is configured). `--verbose` lists every miss and false alarm.
"""

from __future__ import annotations

import argparse

from epochpod_assets.history.evaluate import score_claims, score_timeguard

# How each batch of the time guard's labelled set came about, so its figures read honestly.
BATCHES = {
    1: "20 figures, written while the guard and lexicon were being built",
    2: "12 more figures, written with the code frozen (first run: recall 25/36 = 69.4 %, "
    "0/35 false positives); the lexicon then grew by ~170 general entries",
    3: "10 more figures, held out (first run: recall 18/30 = 60.0 %, 0/30 false positives); "
    "the lexicon then grew by ~105 major world events and people of the 19th-21st centuries",
    4: "11 more figures, held out (first run: recall 25/34 = 73.5 %, 0/34 false positives); "
    "the lexicon then gained 12 general entries (the compass, 'Byzantine', late-20th-century "
    "events)",
}


CLAIM_BATCHES = {
    1: "6 sources, written while the claim check was being built",
    2: "2 more sources, held out (first run: 18/24 = 75.0 %); then decades compared as spans, "
    "the related-word threshold at a third, and on-topic paragraphs read as context",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="list misses and false alarms")
    args = parser.parse_args()

    guard = score_timeguard()
    print("Time guard (offline: dates + dated lexicon)")
    print(f"  labelled lines        {guard.lines} across {guard.figures} figures")
    print(f"  anachronisms          {guard.anachronisms}   clean lines {guard.clean}")
    print(f"  recall                {guard.recall:6.1%}   (target >= 90 %)")
    print(f"  false-positive rate   {guard.false_positive_rate:6.1%}   (target <= 5 %)")
    kinds = ", ".join(
        f"{kind} {guard.by_kind[kind] - guard.missed_by_kind[kind]}/{guard.by_kind[kind]}"
        for kind in sorted(guard.by_kind)
        if not kind.startswith(("trap", "clean"))
    )
    print(f"  found by kind         {kinds}")
    for number, (anachronisms, found, clean, false) in sorted(guard.batches.items()):
        print(
            f"  batch {number}: {BATCHES.get(number, '')}\n"
            f"      recall {found}/{anachronisms} = {found / max(anachronisms, 1):.1%}, "
            f"false positives {false}/{clean} = {false / max(clean, 1):.1%}"
        )
    if args.verbose:
        for line in guard.misses:
            print(f"  MISS  {line}")
        for line in guard.false_alarms:
            print(f"  FALSE {line}")
    claims = score_claims()
    print("Claim check (offline: facts extracted from each source, then claims matched)")
    print(
        f"  labelled claims       {claims.claims}   "
        + ", ".join(
            f"{label} {claims.correct_by_label[label]}/{count}"
            for label, count in sorted(claims.by_label.items())
        )
    )
    print(f"  accuracy              {claims.accuracy:6.1%}")
    for number, (count, correct) in sorted(claims.batches.items()):
        print(
            f"  batch {number}: {CLAIM_BATCHES.get(number, '')}\n"
            f"      {correct}/{count} = {correct / max(count, 1):.1%}"
        )
    if args.verbose:
        for line in claims.errors:
            print(f"  WRONG {line}")
    ok = guard.recall >= 0.90 and guard.false_positive_rate <= 0.05
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
