"""Benchmark (c): re-voicing one of two speakers on a 40-turn script.

Renders the script through rendering's real path (segment cache in media storage, the real
openai client, an OpenAI-compatible server on loopback), then renders it again with the
guest's voice changed, and again unchanged. Prints the speech calls the *server* counted for
each render against what the segment cache must allow: every turn, exactly the re-voiced
speaker's turns, none.

    .venv/bin/python benchmarks/revoice.py [--turns 40]

Exit status 1 if a count differs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the fake server and the script live with the tests

from epochpod_assets.storage import LocalMediaStore  # noqa: E402
from epochpod_assets_tests.audio.test_rendering import render_through, two_speaker_script  # noqa: E402
from epochpod_assets_tests.support.fake_openai import FakeOpenAI  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=40)
    args = parser.parse_args()
    plans = two_speaker_script(args.turns)
    guest_turns = sum(
        line.speaker == "Guest" for plan in plans for s in plan.sections for line in s.lines
    )
    renders = [
        ("first render", {"Host": "alloy", "Guest": "onyx"}, args.turns),
        ("guest re-voiced onyx -> nova", {"Host": "alloy", "Guest": "nova"}, guest_turns),
        ("unchanged re-render", {"Host": "alloy", "Guest": "nova"}, 0),
    ]
    ok = True
    with FakeOpenAI(samples_per_char=100) as server, tempfile.TemporaryDirectory() as folder:
        store = LocalMediaStore(Path(folder))
        for name, cast, expected in renders:
            server.reset()
            hits, misses = render_through(server, store, plans, cast)
            calls = server.stats().calls.get("speech", 0)
            ok &= calls == expected == misses
            print(
                f"{name:30s} TTS calls counted by the server: {calls:3d} | expected "
                f"{expected:3d} | cache hits {hits:3d}, misses {misses:3d} | "
                f"{'OK' if calls == expected else 'MISMATCH'}"
            )
    print(
        f"re-voicing 1 of 2 speakers on a {args.turns}-turn script: TTS calls == that "
        f"speaker's turns ({guest_turns}): {'yes' if ok else 'NO'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
