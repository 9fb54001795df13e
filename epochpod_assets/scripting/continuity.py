"""Does a script read as one conversation? Checks for the seams of section-parallel writing.

Parts written concurrently tend to each open like a new show ("Welcome back", "Thank you for
having me"), re-introduce the guest, sign off twice, or call a speaker by another name. These
checks find that in any script (one-call scripts too) and name the line. Used by the script
writer (a joined script that fails is rejected like any invalid script) and by the
`script_reads_as_one_conversation` asset check (defs/assets/continuity.py). No Dagster here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from epochpod_assets.formats.base import Section
from epochpod_assets.providers.base import ContinuityRejected

GREETING = re.compile(
    r"\b(welcome (back )?to\b|welcome,? everyone|hello,? (and welcome|everyone|listeners)|"
    r"good (morning|evening|afternoon),? (everyone|listeners)|thank(s| you) for having me|"
    r"(it is|it's) a pleasure to be (here|asked))",
    re.IGNORECASE,
)
INTRODUCTION = re.compile(
    r"\b(my guest (today|tonight)? ?is|i'?m your host|my name is|joining (me|us) (today|tonight)"
    r"|with me (today|tonight) (is|are)|let me introduce)",
    re.IGNORECASE,
)
SIGN_OFF = re.compile(
    r"\b(you'?ve been listening to|thank(s| you) for listening|until next time|that is all our "
    r"time|that's all (our|the) time)",
    re.IGNORECASE,
)
# Words that may precede a surname without being a different first name.
_TITLES = {"mr", "mrs", "ms", "miss", "dr", "doctor", "professor", "sir", "madame", "lady", "lord"}
_TITLES |= {"the", "a", "an", "and", "of", "to", "with", "by", "as", "that", "this", "our", "dear"}


def continuity_problems(
    sections: Sequence[Section], cast: Mapping[str, str] | Iterable[str]
) -> list[str]:
    """Every seam found, as readable lines; empty when the script reads as one conversation."""
    names = list(cast)
    lines = [(si, li, line) for si, s in enumerate(sections) for li, line in enumerate(s.lines)]
    if not lines:
        return ["the script has no lines"]
    last_section = len(sections) - 1
    problems: list[str] = []

    def where(si: int, li: int) -> str:
        return f"{sections[si].title!r} line {li + 1}"

    greetings = [(si, li) for si, li, line in lines if GREETING.search(line.text)]
    for si, li in greetings:
        if si != 0:
            problems.append(f"a greeting outside the opening, at {where(si, li)}")
    if sum(1 for si, _ in greetings if si == 0) > 2:  # host welcomes, guest thanks: two
        problems.append("the opening greets more than twice")
    intros = [(si, li) for si, li, line in lines if INTRODUCTION.search(line.text)]
    for si, li in intros[1:]:
        problems.append(f"a second introduction, at {where(si, li)}")
    for si, li, line in lines:
        if SIGN_OFF.search(line.text) and si != last_section:
            problems.append(f"a sign-off before the closing, at {where(si, li)}")
    for name in names:
        problems += _name_variants(name, lines, where)
    return problems


def _name_variants(name: str, lines: Sequence[tuple[int, int, object]], where: object) -> list[str]:
    """`Charles Babbage` called `Edward Babbage`: the surname with a different first name."""
    words = name.split()
    if len(words) < 2:
        return []
    first, surname = words[0], words[-1]
    pattern = re.compile(rf"\b([A-Z][\w'-]*) {re.escape(surname)}\b")
    found = []
    for si, li, line in lines:
        text = getattr(line, "text", "")
        for match in pattern.finditer(text):
            given = match.group(1)
            if given != first and given.casefold() not in _TITLES and given not in words:
                found.append(
                    f"{name!r} is called {match.group(0)!r} at "
                    f"{where(si, li) if callable(where) else (si, li)}"
                )
    return found


def check_continuity(sections: Sequence[Section], cast: Mapping[str, str] | Iterable[str]) -> None:
    """Raise ValueError naming the seams, if there are any."""
    problems = continuity_problems(sections, cast)
    if problems:
        shown = "; ".join(problems[:5]) + (
            f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        )
        raise ContinuityRejected(f"the script does not read as one conversation: {shown}")
