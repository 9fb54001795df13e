"""Quality targets of the offline checks on the labelled sets (not a timing test).

The same scoring prints the figures in `benchmarks/integrity.py`."""

from __future__ import annotations

from epochpod_assets.history.evaluate import score_claims, score_timeguard


def test_time_guard_meets_its_targets_on_the_labelled_set() -> None:
    score = score_timeguard()
    # The set is what the issue asks for: enough lines, figures, anachronisms and clean traps.
    assert score.lines >= 150 and score.figures >= 10
    assert score.anachronisms >= 60 and score.clean >= 60
    for kind in (
        "year",
        "date",
        "decade",
        "century",
        "invention",
        "event",
        "institution",
        "term",
        "person",
        "trap-number",
        "trap-past-year",
        "trap-existed",
    ):
        assert score.by_kind[kind] > 0, kind
    assert score.recall >= 0.90, "\n".join(score.misses)
    assert score.false_positive_rate <= 0.05, "\n".join(score.false_alarms)


def test_claim_check_accuracy_on_the_labelled_set() -> None:
    score = score_claims()
    assert score.claims >= 60
    assert set(score.by_label) == {"supported", "unsupported", "contradicted"}
    # No target is set by the issue; this keeps the figure from sliding unnoticed.
    assert score.accuracy >= 0.85, "\n".join(score.errors)
