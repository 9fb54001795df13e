"""The offline writer's phrase book: deterministic, template-based prose.

It exists so a new user hears a whole episode with no API key. It is not a language model and
says so in every materialization's metadata; the same request always gives the same words.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

from epochpod_assets.formats.base import Line, count_words

# A few figures the demo and the tests use, so the offline outlines read sensibly.
KNOWN_FIGURES: dict[str, tuple[str, str]] = {
    "albert einstein": ("theoretical physicist", "early twentieth century"),
    "marie curie": ("physicist and chemist", "turn of the twentieth century"),
    "cleopatra": ("last active ruler of Ptolemaic Egypt", "first century BC"),
    "julius caesar": ("Roman general and statesman", "first century BC"),
    "abraham lincoln": ("sixteenth president of the United States", "nineteenth century"),
    "leonardo da vinci": ("painter, engineer and inventor", "Italian Renaissance"),
    "ada lovelace": ("mathematician and writer on computing", "nineteenth century"),
    "isaac newton": ("mathematician and physicist", "seventeenth century"),
    "galileo galilei": ("astronomer and physicist", "early seventeenth century"),
    "charles darwin": ("naturalist", "nineteenth century"),
    "socrates": ("philosopher", "fifth century BC"),
    "aristotle": ("philosopher", "fourth century BC"),
    "nikola tesla": ("inventor and electrical engineer", "late nineteenth century"),
    "thomas edison": ("inventor and businessman", "late nineteenth century"),
}


def figure_facts(name: str) -> tuple[str, str]:
    return KNOWN_FIGURES.get(name.casefold(), ("figure from history", "their own time"))


def seeded(*parts: object) -> random.Random:
    """A random generator that depends only on its inputs, so the writer is deterministic."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


QUESTIONS = (
    "What first drew you to {topic}?",
    "How did the people around you react when you spoke about {focus}?",
    "What did you get wrong along the way, and what did it teach you?",
    "Which moment in {focus} do you remember most clearly?",
    "How did the world of the {era} shape the way you thought about {topic}?",
    "If you could explain {focus} to a listener today, where would you begin?",
    "What do you think people still misunderstand about {topic}?",
    "Who helped you most, and who stood in your way?",
)
ANSWERS = (
    "When I think about {focus}, I remember how little of it seemed certain at the time.",
    "People imagine a single flash of inspiration, but {focus} was years of stubborn work.",
    "In the {era}, you could not simply look things up; you argued, you wrote letters, you waited.",
    "I made mistakes, of course, and some of them were more useful than my successes.",
    "My friends were curious, my critics were loud, and both of them kept me honest.",
    "What mattered most was asking a question that nobody around me thought worth asking.",
    "I would begin with the simplest picture, because every deep idea starts as a simple one.",
    "There were evenings when I was sure it was all nonsense, and mornings when it seemed obvious.",
    "The tools we had were crude, so we had to be careful and a little bit brave.",
    "If there is a lesson in {topic}, it is that the world is stranger than our habits allow.",
    "I owe a great deal to teachers and rivals alike; ideas grow in company, not alone.",
    "Some called it dangerous, others pointless; history has been kinder to it than they were.",
    "Remember how the {era} looked: new machines, old certainties, and a great deal of noise.",
    "I still find it remarkable that such a small idea could travel so far.",
)
HOST_FOLLOW_UPS = (
    "That is a striking way to put it.",
    "Our listeners will find that surprising.",
    "Let me stay on that point for a moment.",
    "So the doubt was part of the work.",
    "That tells us a lot about the {era}.",
)
ARGUMENTS = (
    "My position is simple: {position}, and the evidence of history supports it.",
    "Consider what actually happened, rather than what we wish had happened.",
    "Every society that ignored this question paid for it later.",
    "I do not dismiss my opponent's concerns, but they confuse the symptom with the cause.",
    "The strongest argument for my view is the plain experience of ordinary people.",
    "We should judge {topic} by its results, and the results are clear.",
    "My colleague paints a tidy picture, but the past was never tidy.",
    "If we take my opponent's view to its end, we arrive somewhere none of us wants to be.",
    "I have changed my mind on many things, but not on this.",
    "Let us be precise about terms, because half of this quarrel is about words.",
)
MODERATOR_PROMPTS = (
    "Let us turn to the next question: {question}",
    "A direct response, please, to what we have just heard.",
    "Our listeners will want to know where you two actually agree.",
    "Time is short; make your strongest point.",
)
NARRATION = (
    "The air smells of smoke and salt, and somewhere a bell is ringing.",
    "Voices rise around {protagonist}, some friendly, most of them not.",
    "Every choice here will be remembered, whether {protagonist} likes it or not.",
    "Lanterns sway in the wind, throwing long shadows across the stones.",
    "A stranger watches from a doorway, saying nothing, missing nothing.",
    "News travels fast in {setting}, and tonight the news is about {protagonist}.",
    "The road ahead forks, and neither path looks safe.",
    "Somewhere behind, footsteps quicken and then stop.",
    "History is being made tonight, and {protagonist} is standing in the middle of it.",
    "A letter, sealed in red wax, changes hands without a word.",
)


def fill(template: str, **slots: str) -> str:
    return template.format(**slots)


def speech_until(rng: random.Random, bank: Sequence[str], words: int, **slots: str) -> str:
    """Sentences from a bank, without repeats until the bank runs out, up to `words` words."""
    sentences: list[str] = []
    pool: list[str] = []
    total = 0
    while total < words:
        if not pool:
            pool = list(bank)
            rng.shuffle(pool)
        sentence = fill(pool.pop(), **slots)
        n = count_words(sentence)
        # Stop short rather than overshoot by more than we would undershoot.
        if sentences and total + n - words > words - total:
            break
        sentences.append(sentence)
        total += n
    return " ".join(sentences)


def conversation_until(
    rng: random.Random,
    words: int,
    first: tuple[str, Sequence[str]],
    second: tuple[str, Sequence[str]],
    turn_words: int,
    **slots: str,
) -> list[Line]:
    """Alternate two speakers from their banks until the section has `words` words."""
    lines: list[Line] = []
    total = 0
    speakers = [first, second]
    i = 0
    while total < words:
        speaker, bank = speakers[i % 2]
        budget = min(turn_words if i % 2 else max(12, turn_words // 3), words - total)
        text = speech_until(rng, bank, max(budget, 8), **slots)
        lines.append(Line(speaker=speaker, text=text))
        total += count_words(text)
        i += 1
    return lines
