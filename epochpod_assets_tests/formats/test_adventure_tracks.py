"""An adventure's tracks match their words: node nK is track K, its file is nK.mp3, its tag is
TRCK K/total, and every "go to track N" in the narration names one of the node's choices."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from epochpod_assets.audio.espeak import EspeakVoice
from epochpod_assets.audio.rendering import render_tracks
from epochpod_assets.audio.segments import SegmentCache
from epochpod_assets.audio.trackcheck import check_folder, track_number
from epochpod_assets.formats.adventure import AdventureFormat, AdventureScript, NodeScript
from epochpod_assets.providers.base import Usage
from epochpod_assets.requests import parse_request
from epochpod_assets.speech.lexicon import Lexicon
from epochpod_assets.storage import LocalMediaStore, episode_key

REQUEST = {"format": "adventure", "setting": "Alexandria, 48 BC", "depth": 3, "choices": 2}


def test_narration_track_numbers_match_the_node_files() -> None:
    fmt = AdventureFormat()
    request = parse_request(REQUEST)
    outline = fmt.outline_task(request).template()
    script = fmt.script_task(request, outline).template()
    plans = fmt.tracks(request, outline, script)

    assert [plan.key for plan in plans] == [f"n{k}" for k in range(1, 8)]
    by_key = {node.id: node for node in outline.nodes}
    for plan, node in zip(plans, script.nodes, strict=True):
        assert plan.key == node.id
        said = [int(n) for n in re.findall(r"go to track (\d+)", node.narration)]
        targets = [c.next for c in by_key[node.id].choices]
        assert said == [int(t.removeprefix("n")) for t in targets]
        assert said == [[p.key for p in plans].index(t) + 1 for t in targets]


def test_a_script_that_names_the_wrong_track_is_sent_back() -> None:
    fmt = AdventureFormat()
    request = parse_request(REQUEST)
    outline = fmt.outline_task(request).template()
    task = fmt.script_task(request, outline)
    script = task.template()
    assert task.check is not None
    task.check(script)
    first = script.nodes[0]
    wrong = first.narration.replace("go to track 2", "go to track 4")
    bad = AdventureScript(
        nodes=[NodeScript(id=first.id, title=first.title, narration=wrong), *script.nodes[1:]]
    )
    with pytest.raises(ValueError, match="sends the listener to track 4"):
        task.check(bad)


def test_rendered_adventure_tracks_carry_their_numbers(tmp_path: Path) -> None:
    fmt = AdventureFormat()
    request = parse_request({**REQUEST, "depth": 2})
    outline = fmt.outline_task(request).template()
    script = fmt._offline_script(request, outline, budget=25)
    plans = fmt.tracks(request, outline, script)
    store = LocalMediaStore(tmp_path)
    cache = SegmentCache(EspeakVoice(), store, Usage(), Lexicon())
    render_tracks(
        "ep", plans, fmt.cast(request), "Epoch Pod", "d", cache, store, 2, lambda d, t: None
    )
    for number, plan in enumerate(plans, start=1):
        mp3 = store.get(episode_key("ep", f"audio/{plan.key}.mp3"))
        assert plan.key == f"n{number}"
        assert track_number(mp3) == f"{number}/{len(plans)}"
    problems, counts = check_folder(tmp_path)
    assert problems == [] and counts["tracks"] == counts["numbered"] == 3
