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
    if args.verbose:
        for line in claims.errors:
            print(f"  WRONG {line}")
    ok = guard.recall >= 0.90 and guard.false_positive_rate <= 0.05
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
