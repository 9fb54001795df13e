"""`epochpod script check`: the integrity checks on a plain script file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from epochpod_assets.cli import main

SCRIPT = """# Einstein in 1921

## Introduction

Host: Welcome. Einstein's 1921 Nobel Prize was announced in 1922, and in 1945 the atomic bomb fell.
Albert Einstein: Thank you. In April 1921 I visited New York with Chaim Weizmann.

## The future

Host: What do you fear?
Albert Einstein: Even the atomic bomb will not change my equations.
Albert Einstein: Some 3000 people came to my lecture at Columbia in 1924.
"""

SOURCE = """Albert Einstein in 1921

In April 1921 Einstein visited New York with Chaim Weizmann to raise money for the Hebrew
University. Some 3000 people came to his lecture at Columbia in April 1921.
"""


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["script", "check", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    script = tmp_path / "einstein.md"
    script.write_text(SCRIPT)
    source = tmp_path / "notes.txt"
    source.write_text(SOURCE)
    return script, source


def test_json_findings_with_file_line_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], files: tuple[Path, Path]
) -> None:
    script, source = files
    code, out, _ = run(
        tmp_path, capsys, str(script), "--figure", "Albert Einstein", "--as-of", "1921",
        "--source", str(source), "--json",
    )  # fmt: skip
    assert code == 1
    findings = json.loads(out)["findings"]
    assert set(findings[0]) == {"line", "speaker", "kind", "term", "evidence"}
    summary = [(f["line"], f["kind"], f["term"]) for f in findings]
    # Hosts (lines 5 and 10) look back from today; line 6 is supported by the source.
    assert summary == [
        (11, "anachronism", "atomic bomb"),
        (12, "anachronism", "1924"),
        (12, "contradicted", "1924"),
    ]
    assert "April 1921" in findings[2]["evidence"]


def test_clean_script_passes_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], files: tuple[Path, Path]
) -> None:
    _, source = files
    script = tmp_path / "clean.md"
    script.write_text(
        "# Clean\n\nHost: Welcome back.\n"
        "Albert Einstein: In April 1921 I visited New York with Chaim Weizmann.\n"
    )
    code, out, _ = run(
        tmp_path, capsys, str(script), "--figure", "albert einstein", "--as-of", "1921-06-01",
        "--source", str(source),
    )  # fmt: skip
    assert code == 0
    assert "1 claim(s)" in out and "0 unsupported" in out and "The script passes." in out
    code, out, _ = run(
        tmp_path, capsys, str(script), "--figure", "Albert Einstein", "--as-of", "1921"
    )
    assert code == 0 and "claims not checked (no --source given)" in out


def test_unsupported_claims_block_only_over_the_threshold(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    files: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, source = files
    script = tmp_path / "thin.md"
    script.write_text(
        "Host: Hello.\n"
        "Albert Einstein: In April 1921 I visited New York with Chaim Weizmann.\n"
        "Albert Einstein: Mileva and I divorced in Zurich in 1919.\n"
    )
    args = [str(script), "--figure", "Albert Einstein", "--as-of", "1921", "--source",
            str(source), "--json"]  # fmt: skip
    code, out, _ = run(tmp_path, capsys, *args)
    assert code == 0  # 1 of 2 claims unsupported: 50 %, not above the default 50 %
    assert [f["kind"] for f in json.loads(out)["findings"]] == ["unsupported"]
    monkeypatch.setenv("EPOCHPOD_MAX_UNSUPPORTED_SHARE", "0.4")
    code, _, _ = run(tmp_path, capsys, *args)
    assert code == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.md", "--figure", "X", "--as-of", "1921"], "missing.md: no such file"),
        (
            ["{script}", "--figure", "Albert Einstein", "--as-of", "0"],
            "--as-of: there is no year 0",
        ),
        (
            ["{script}", "--figure", "Marie Curie", "--as-of", "1921"],
            "--figure 'Marie Curie' speaks no line; the speakers are Host, Albert Einstein",
        ),
        (
            ["{script}", "--figure", "Albert Einstein", "--as-of", "1921", "--source", "nope.pdf"],
            "--source nope.pdf: nope.pdf: no such file",
        ),
        (["{bad}", "--figure", "X", "--as-of", "1921"], "bad.md: line 2:"),
        (["{script}", "--as-of", "1921"], "required: --figure"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    files: tuple[Path, Path],
    args: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    script, _ = files
    bad = tmp_path / "bad.md"
    bad.write_text("# T\n# Another title\n")
    args = [a.format(script=script, bad="bad.md") for a in args]
    code, out, err = run(tmp_path, capsys, *args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err


def test_with_a_model_the_model_passes_run_and_are_labelled(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from epochpod_assets_tests.support.fake_openai import FakeOpenAI, responder_by_schema

    script = tmp_path / "confucius.md"
    script.write_text(
        "Host: Welcome.\nConfucius: Buddhist monks will bring new teachings from India.\n"
    )
    seen: list[str] = []

    def guard(body: dict[str, object]) -> str:
        seen.append(str(body["messages"]))
        return json.dumps(
            {
                "findings": [
                    {
                        "line": 2,
                        "term": "Buddhist monks",
                        "evidence": "Buddhism reached China in the 1st century AD",
                    }
                ]
            }
        )

    with FakeOpenAI(api_key="sk-test", responder=responder_by_schema(
        {"ModelAnachronisms": guard}
    )) as server:  # fmt: skip
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("EPOCHPOD_WRITER", "openai")
        code, out, _ = run(
            tmp_path, capsys, str(script), "--figure", "Confucius", "--as-of", "480 BC"
        )
    assert code == 1
    assert "2: Confucius: anachronism 'Buddhist monks'" in out and "[model]" in out
    assert "Model passes: 1 call(s)" in out
    assert "Welcome" not in seen[0]  # only the figure's lines go to the model
