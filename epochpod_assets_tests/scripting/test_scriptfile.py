"""The plain script format: parse keeps line numbers and names every error's line; render
writes the canonical text back exactly."""

from __future__ import annotations

import pytest

from epochpod_assets.scripting.scriptfile import (
    ScriptChoice,
    ScriptFile,
    ScriptFileError,
    ScriptLine,
    ScriptSection,
    parse,
    render,
)

INTERVIEW = """\
# Einstein on Relativity

## Introduction

Mara Quill: Welcome to Epoch Pod. My guest is Albert Einstein.
Albert Einstein: Thank you. It is 1921, and the clocks of Bern still puzzle me: why?

## Part one: the patent office

Mara Quill: What did you do at 10:30 each morning?
Albert Einstein: I read patents, and thought about light.
"""

ADVENTURE = """\
# Alexandria, 48 BC

## n0: The harbour

Narrator: You stand on the quay as Caesar's ships come in.
-> Board the ship: n1
-> Run to the library: n2

## n1: Aboard

Narrator: The deck rolls under you. The end.

## n2: The library

Narrator: Smoke rises over the scrolls. The end.
"""


def test_interview_parses_with_line_numbers() -> None:
    script = parse(INTERVIEW)
    assert script.kind == "plain"
    assert script.title == "Einstein on Relativity"
    assert script.title_line == 1
    assert [s.title for s in script.sections] == ["Introduction", "Part one: the patent office"]
    assert [s.line for s in script.sections] == [3, 8]
    lines = list(script.spoken_lines())
    assert [line.line for line in lines] == [5, 6, 10, 11]
    assert lines[1].speaker == "Albert Einstein"
    assert lines[1].text.endswith("the clocks of Bern still puzzle me: why?")
    assert lines[2].text == "What did you do at 10:30 each morning?"
    assert script.speakers() == ["Mara Quill", "Albert Einstein"]


@pytest.mark.parametrize("text", [INTERVIEW, ADVENTURE])
def test_render_is_exact_for_canonical_text(text: str) -> None:
    assert render(parse(text)) == text


def test_adventure_nodes_and_choices() -> None:
    script = parse(ADVENTURE)
    assert script.kind == "adventure"
    assert [s.node for s in script.sections] == ["n0", "n1", "n2"]
    assert script.node("n0").choices == [
        ScriptChoice("Board the ship", "n1"),
        ScriptChoice("Run to the library", "n2"),
    ]
    assert [c.line for c in script.node("n0").choices] == [6, 7]
    assert script.node("n2").title == "The library"


def test_messy_text_parses_to_what_its_canonical_form_parses_to() -> None:
    messy = (
        "<!-- Edit the words after each name.\n   Keep the names. -->\n"
        "\n\n#   Einstein on Relativity   \n"
        "## Introduction\n"
        "  Mara Quill :   Welcome to Epoch Pod. My guest is Albert Einstein.  \n"
        "<!-- a note -->\n"
        "Albert Einstein: Thank you. It is 1921, and the clocks of Bern still puzzle me: why?\n"
        "\n\n## Part one: the patent office\n"
        "Mara Quill: What did you do at 10:30 each morning?\n\n"
        "Albert Einstein: I read patents, and thought about light.\n\n\n"
    )
    script = parse(messy)
    assert script == parse(INTERVIEW)
    assert render(script) == INTERVIEW
    assert [line.line for line in script.spoken_lines()] == [7, 9, 13, 15]


def test_every_error_names_its_line() -> None:
    bad = (
        "# Title\n"  # 1
        "## Intro\n"  # 2
        "This line has no speaker\n"  # 3
        "Host:\n"  # 4
        "### Too deep\n"  # 5
        "# Another title\n"  # 6
        "## Empty\n"  # 7
        "## Last\n"  # 8
        "Host: fine\n"  # 9
    )
    with pytest.raises(ScriptFileError) as caught:
        parse(bad)
    assert [n for n, _ in caught.value.errors] == [3, 4, 5, 6, 7]
    message = str(caught.value)
    assert "line 3: expected 'Speaker Name: what they say'" in message
    assert "line 4: Host says nothing" in message
    assert "line 6: a second title; the title is on line 1" in message
    assert "line 7: section 'Empty' has no spoken lines" in message


def test_adventure_errors_name_lines() -> None:
    bad = (
        "## n0: Start\n"  # 1
        "Narrator: Go.\n"  # 2
        "-> Left: n9\n"  # 3
        "-> nowhere\n"  # 4
        "Narrator: too late\n"  # 5
        "## n0: Again\n"  # 6
        "Narrator: dup\n"  # 7
        "## just a title\n"  # 8
        "Narrator: x\n"  # 9
    )
    with pytest.raises(ScriptFileError) as caught:
        parse(bad)
    assert [n for n, _ in caught.value.errors] == [3, 4, 5, 6, 8]
    assert "unknown node 'n9'" in str(caught.value)
    assert "already defined on line 1" in str(caught.value)


def test_cast_is_checked_when_given() -> None:
    with pytest.raises(ScriptFileError, match=r"line 6: unknown speaker 'Albert Einstein'"):
        parse(INTERVIEW, speakers=["Mara Quill", "Einstein"])
    assert parse(INTERVIEW, speakers=["Mara Quill", "Albert Einstein"]).title


def test_plain_heading_with_colon_is_not_a_node_unless_adventure() -> None:
    text = "## n0: Start\nNarrator: Go on.\n"
    assert parse(text).sections[0].title == "n0: Start"
    forced = parse(text, adventure=True)
    assert (forced.sections[0].node, forced.sections[0].title) == ("n0", "Start")
    with pytest.raises(ScriptFileError, match="line 4: choice lines"):
        parse(text + "\n-> Left: n0\n", adventure=False)


def test_lines_before_any_heading_and_empty_file() -> None:
    script = parse("Host: Hello.\nGuest: Hi.\n")
    assert script.title is None and script.sections[0].title is None
    assert render(script) == "Host: Hello.\nGuest: Hi.\n"
    with pytest.raises(ScriptFileError, match="line 1: the script has no spoken lines"):
        parse("")


def test_podcastfy_transcript() -> None:
    text = (
        "<Person1>Welcome to the show.\n  Today: Rome.</Person1>\n"
        "<Person2>Thanks for having me.</Person2>\n\n"
        "<Person1>Let us begin.</Person1>"
    )
    script = parse(text)
    assert script.kind == "podcastfy"
    assert [(line.speaker, line.text, line.line) for line in script.spoken_lines()] == [
        ("Person1", "Welcome to the show. Today: Rome.", 1),
        ("Person2", "Thanks for having me.", 3),
        ("Person1", "Let us begin.", 5),
    ]
    assert render(script) == (
        "Person1: Welcome to the show. Today: Rome.\n"
        "Person2: Thanks for having me.\n"
        "Person1: Let us begin.\n"
    )
    with pytest.raises(ScriptFileError, match="line 2: text outside"):
        parse("<Person1>Hi</Person1>\nstray words\n<Person2>Yo</Person2>")


def test_render_of_built_script_collapses_whitespace_and_round_trips() -> None:
    built = ScriptFile(
        title="A  title",
        kind="adventure",
        sections=[
            ScriptSection(
                title="Start",
                node="n0",
                lines=[ScriptLine("Narrator", "Line one\nstill line one.")],
                choices=[ScriptChoice("Go: left", "n1")],
            ),
            ScriptSection(title="End", node="n1", lines=[ScriptLine("Narrator", "Done.")]),
        ],
    )
    text = render(built, note="Edit freely.")
    assert text.startswith("<!-- Edit freely. -->\n\n# A title\n")
    assert "Narrator: Line one still line one.\n-> Go: left: n1\n" in text
    again = parse(text)
    assert again.node("n0").choices == [ScriptChoice("Go: left", "n1")]
    assert render(again, note="Edit freely.") == text


def test_render_refuses_what_the_format_cannot_say() -> None:
    for speaker in ["Dr: Who", "", "-> x"]:
        bad = ScriptFile(title=None, sections=[ScriptSection("S", [ScriptLine(speaker, "hi")])])
        with pytest.raises(ValueError):
            render(bad)
