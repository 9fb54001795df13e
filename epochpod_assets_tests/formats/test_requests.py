"""Bad requests get a clear error naming the field, and nothing is written."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import sqlalchemy as sa

from epochpod_assets import RequestError, enqueue
from epochpod_assets.catalog.schema import episodes
from epochpod_assets.intake import open_catalog

INTERVIEW = {"format": "interview", "guest_name": "Marie Curie", "topic": "radioactivity"}
DEBATE = {
    "format": "debate",
    "topic": "free trade",
    "participants": [
        {"name": "Adam Smith", "position": "markets make nations rich"},
        {"name": "Friedrich List", "position": "young industries need protection"},
    ],
}
ADVENTURE = {"format": "adventure", "setting": "Alexandria, 48 BC"}


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    request = dict(base)
    for key, value in changes.items():
        if value is ...:
            request.pop(key)
        else:
            request[key] = value
    return request


def _participants(*names: str) -> list[dict[str, str]]:
    return [{"name": n, "position": f"{n} is right"} for n in names]


BAD_REQUESTS: list[tuple[str, Any, str]] = [
    ("not an object", [1, 2], "request: must be an object"),
    ("unknown format", {"format": "podcast"}, "format: must be one of"),
    ("missing format", {"guest_name": "x"}, "format: must be one of"),
    ("invalid JSON text", "{guest_name:", "request: is not valid JSON"),
    ("invalid UTF-8", b'{"format": "interview", "topic": "\xff"}', "request: is not valid UTF-8"),
    ("oversized JSON", json.dumps(_with(INTERVIEW, topic="x" * 20_000)), "larger than 16384 bytes"),
    ("guest missing", _with(INTERVIEW, guest_name=...), "guest_name: is required"),
    ("topic missing", _with(INTERVIEW, topic=...), "topic: is required"),
    ("empty guest", _with(INTERVIEW, guest_name=""), "guest_name: must not be blank"),
    ("blank topic", _with(INTERVIEW, topic="   "), "topic: must not be blank"),
    (
        "guest too long",
        _with(INTERVIEW, guest_name="x" * 121),
        "guest_name: String should have at most 120",
    ),
    ("topic too long", _with(INTERVIEW, topic="x" * 301), "topic: String should have at most 300"),
    ("number as topic", _with(INTERVIEW, topic=42), "topic: Input should be a valid string"),
    (
        "null byte",
        _with(INTERVIEW, guest_name="Marie\x00Curie"),
        "guest_name: contains a control character (U+0000)",
    ),
    (
        "escape sequence",
        _with(INTERVIEW, topic="\x1b[31mred"),
        "topic: contains a control character (U+001B)",
    ),
    (
        "bidi override",
        _with(INTERVIEW, topic="abc\u202edef"),
        "topic: contains a control character (U+202E)",
    ),
    ("unknown voice", _with(INTERVIEW, host_voice="darth"), "host_voice: unknown voice 'darth'"),
    (
        "same voices",
        _with(INTERVIEW, host_voice="echo", guest_voice="echo"),
        "guest_voice must differ",
    ),
    ("guest is host", _with(INTERVIEW, guest_name="The Epoch Host"), "guest_name must differ"),
    ("unknown field", _with(INTERVIEW, guset_name="typo"), "guset_name: is not a known field"),
    (
        "too short",
        _with(INTERVIEW, target_minutes=0.5),
        "target_minutes: Input should be greater than or equal to 1",
    ),
    (
        "too long",
        _with(INTERVIEW, target_minutes=600),
        "target_minutes: Input should be less than or equal to 60",
    ),
    (
        "minutes as text",
        _with(INTERVIEW, target_minutes="ten"),
        "target_minutes: Input should be a valid number",
    ),
    (
        "one participant",
        _with(DEBATE, participants=_participants("A")),
        "participants: List should have at least 2",
    ),
    (
        "five participants",
        _with(DEBATE, participants=_participants(*"ABCDE")),
        "participants: List should have at most 4",
    ),
    (
        "participants not a list",
        _with(DEBATE, participants="A and B"),
        "participants: Input should be a valid list",
    ),
    (
        "participant without position",
        _with(DEBATE, participants=[{"name": "A"}, {"name": "B", "position": "p"}]),
        "participants.0.position: is required",
    ),
    (
        "duplicate participants",
        _with(DEBATE, participants=_participants("A", "A")),
        "must all have different names",
    ),
    (
        "participant bad voice",
        _with(
            DEBATE,
            participants=[
                {"name": "A", "position": "p", "voice": "bob"},
                {"name": "B", "position": "q"},
            ],
        ),
        "participants.0.voice: unknown voice 'bob'",
    ),
    (
        "participant shares moderator voice",
        _with(
            DEBATE,
            participants=[
                {"name": "A", "position": "p", "voice": "alloy"},
                {"name": "B", "position": "q"},
            ],
        ),
        "different voice",
    ),
    (
        "too many rounds",
        _with(DEBATE, rounds=20),
        "rounds: Input should be less than or equal to 6",
    ),
    (
        "rounds do not fit",
        _with(DEBATE, rounds=3, target_minutes=1),
        "rounds: 3 rounds with 2 participants do not fit in 1 minutes; use at most 1 rounds",
    ),
    (
        "adventure too deep",
        _with(ADVENTURE, depth=9),
        "depth: Input should be less than or equal to 4",
    ),
    (
        "adventure no depth",
        _with(ADVENTURE, depth=0),
        "depth: Input should be greater than or equal to 1",
    ),
    (
        "adventure one choice",
        _with(ADVENTURE, choices=1),
        "choices: Input should be greater than or equal to 2",
    ),
    (
        "adventure many choices",
        _with(ADVENTURE, choices=5),
        "choices: Input should be less than or equal to 3",
    ),
    ("adventure no setting", _with(ADVENTURE, setting=...), "setting: is required"),
    (
        "adventure bad narrator",
        _with(ADVENTURE, narrator_voice="HAL"),
        "narrator_voice: unknown voice 'HAL'",
    ),
]


def _row_count() -> int:
    with open_catalog().engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(episodes)).scalar_one())


@pytest.mark.parametrize(
    ("case", "request_", "message"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS]
)
def test_bad_request_is_rejected_with_its_reason_and_nothing_is_written(
    case: str, request_: Any, message: str
) -> None:
    with pytest.raises(RequestError) as raised:
        enqueue(request_)
    assert message in str(raised.value)
    assert _row_count() == 0


@pytest.mark.parametrize(
    "request_", [INTERVIEW, DEBATE, ADVENTURE], ids=["interview", "debate", "adventure"]
)
def test_good_request_is_queued_pending_with_progress_zero(request_: dict[str, Any]) -> None:
    episode_id = enqueue(request_)
    row = open_catalog().get(episode_id)
    assert row is not None
    assert (row["generation_status"], row["generation_progress"], row["status"]) == (
        "PENDING",
        0,
        "DRAFT",
    )
    assert row["type"] == request_["format"].upper()
    assert row["request"]["format"] == request_["format"]


def test_debate_participants_without_voices_get_distinct_ones() -> None:
    episode_id = enqueue(_with(DEBATE, participants=_participants("A", "B", "C")))
    request = open_catalog().get(episode_id)["request"]  # type: ignore[index]
    voices = [request["moderator_voice"]] + [p["voice"] for p in request["participants"]]
    assert len(set(voices)) == 4


def _cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "epochpod_assets.cli", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
    )


def test_cli_enqueue_prints_the_id_and_json_prints_the_row() -> None:
    done = _cli(
        "enqueue", "interview", "--guest", "Ada Lovelace", "--topic", "the analytical engine"
    )
    assert done.returncode == 0, done.stderr
    episode_id = done.stdout.decode().strip()
    assert episode_id.startswith("ep-")
    done = _cli(
        "enqueue",
        "debate",
        "--topic",
        "empire",
        "--participant",
        "Gandhi=non-violence",
        "--participant",
        "Churchill=the empire=ash",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    assert row["generation_status"] == "PENDING"
    assert [p["voice"] for p in row["request"]["participants"]][1] == "ash"
    assert _row_count() == 2


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["enqueue", "interview", "--topic", "x"], None, "guest_name: is required"),
        (
            ["enqueue", "interview", "--guest", "A", "--topic", "t", "--host-voice", "bogus"],
            None,
            "unknown voice 'bogus'",
        ),
        (["enqueue", "debate", "--topic", "x", "--participant", "Only=one"], None, "at least 2"),
        (["enqueue", "adventure", "--setting", "Troy", "--depth", "7"], None, "depth:"),
        (["enqueue", "json", "-"], b"\xff\xfe", "not valid UTF-8"),
        (
            ["enqueue", "json", "-"],
            b'{"format": "interview", "guest_name": "\\u0007", "topic": "t"}',
            "control character",
        ),
    ],
)
def test_cli_rejects_bad_requests_with_exit_code_2(
    args: list[str], stdin: bytes | None, message: str
) -> None:
    done = _cli(*args, stdin=stdin)
    assert done.returncode == 2
    assert message in done.stderr.decode()
    assert _row_count() == 0
