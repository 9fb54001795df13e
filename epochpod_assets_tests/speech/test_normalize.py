# ruff: noqa: RUF001 - IPA and dashes in these strings are the point
"""The speech normalizer's case table, and the pronunciation lexicon's layers.

Each case is written text -> what the voice is sent. The traps are in the table too: the pronoun
"I", words that are valid Roman numerals ("MIX"), "No." that is not "number", and numbers that
count rather than date ("3,000 soldiers", "1500 men").
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from epochpod_assets.speech import lexicon as lexicon_module
from epochpod_assets.speech.lexicon import (
    Lexicon,
    LexiconError,
    Pronunciation,
    built_in,
    espeak_phonemes,
    for_request,
    load_file,
)
from epochpod_assets.speech.normalize import spoken

CASES: list[tuple[str, str]] = [
    ("After the War I went home.", "After the War I went home."),
    ("Part I think is best.", "Part I think is best."),
    ("Star Wars Episode IV came out.", "Star Wars Episode Four came out."),
    ("Malcolm X spoke in 1964.", "Malcolm X spoke in nineteen sixty-four."),
    ("Pope Leo X was a Medici.", "Pope Leo the Tenth was a Medici."),
    ("Room 101 was feared.", "Room one hundred and one was feared."),
    ("In the 14th and 15th centuries.", "In the fourteenth and fifteenth centuries."),
    ("It lasted 1,000 years.", "It lasted one thousand years."),
    ("Henry V's army was tired.", "Henry the Fifth's army was tired."),
    ("The year 200 CE was quiet.", "The year two hundred C E was quiet."),
    ("Louis XIV ruled France.", "Louis the Fourteenth ruled France."),
    ("Henry VIII had six wives.", "Henry the Eighth had six wives."),
    ("Elizabeth I never married.", "Elizabeth the First never married."),
    ("Henry I was king after William II.", "Henry the First was king after William the Second."),
    ("When Henry I think of it, no.", "When Henry I think of it, no."),
    ("Pope John XXIII opened Vatican II.", "Pope John the Twenty-Third opened Vatican Two."),
    ("World War II ended in 1945.", "World War Two ended in nineteen forty-five."),
    ("World War I began in 1914.", "World War One began in nineteen fourteen."),
    ("Louis XIV's court at Versailles.", "Louis the Fourteenth's court at Versailles."),
    ("Charles V and Philip II of Spain.", "Charles the Fifth and Philip the Second of Spain."),
    ("Ramesses II built Abu Simbel.", "Ramesses the Second built Abu Simbel."),
    ("I think I know.", "I think I know."),
    ("The MIX of cultures.", "The MIX of cultures."),
    ("The CIVIL war.", "The CIVIL war."),
    ("In VI we see.", "In VI we see."),
    ("Apollo XI landed.", "Apollo Eleven landed."),
    ("Part II of the story.", "Part Two of the story."),
    ("Louis-Philippe I was the last king.", "Louis-Philippe the First was the last king."),
    ("Napoleon III lost at Sedan.", "Napoleon the Third lost at Sedan."),
    ("Peter I founded the city.", "Peter the First founded the city."),
    ("In 1066 the Normans came.", "In ten sixty-six the Normans came."),
    ("1066 saw the Normans land.", "ten sixty-six saw the Normans land."),
    ("By 1500 the world had changed.", "By fifteen hundred the world had changed."),
    ("1500 men marched north.", "one thousand five hundred men marched north."),
    ("He led 3,000 soldiers.", "He led three thousand soldiers."),
    ("The year 2005 was hot.", "The year two thousand and five was hot."),
    ("In 1905, Einstein wrote four papers.", "In nineteen oh-five, Einstein wrote four papers."),
    ("Caesar died in 44 BC.", "Caesar died in forty-four B C."),
    (
        "Caesar died in 44 B.C. The republic fell.",
        "Caesar died in forty-four B C. The republic fell.",
    ),
    ("Vesuvius erupted in AD 79.", "Vesuvius erupted in A D seventy-nine."),
    ("Vesuvius erupted in A.D. 79.", "Vesuvius erupted in A D seventy-nine."),
    ("It was built c. 1500.", "It was built circa fifteen hundred."),
    ("It was built ca. 1200.", "It was built circa twelve hundred."),
    ("It was built circa 1500.", "It was built circa fifteen hundred."),
    ("The 1920s roared.", "The nineteen twenties roared."),
    ("In the 1800s, railways spread.", "In the eighteen hundreds, railways spread."),
    ("The '60s were loud.", "The sixties were loud."),
    ("In the 1900s and 2000s.", "In the nineteen hundreds and two thousands."),
    ("The 5th century saw Rome fall.", "The fifth century saw Rome fall."),
    ("A 19th-century novel.", "A nineteenth-century novel."),
    ("The 3rd century BC.", "The third century B C."),
    ("He came 1st and she came 22nd.", "He came first and she came twenty-second."),
    ("The 21st century.", "The twenty-first century."),
    (
        "The war lasted from 1914-1918.",
        "The war lasted from nineteen fourteen to nineteen eighteen.",
    ),
    ("The war of 1914–18.", "The war of nineteen fourteen to nineteen eighteen."),
    (
        "On 14 July 1789 the Bastille fell.",
        "On the fourteenth of July seventeen eighty-nine the Bastille fell.",
    ),
    (
        "On July 14, 1789, the Bastille fell.",
        "On July fourteenth, seventeen eighty-nine, the Bastille fell.",
    ),
    ("Dr. Johnson wrote a dictionary.", "Doctor Johnson wrote a dictionary."),
    ("Mr. and Mrs. Smith.", "Mister and Missus Smith."),
    ("Mrs. Pankhurst marched.", "Missus Pankhurst marched."),
    ("St. Augustine wrote Confessions.", "Saint Augustine wrote Confessions."),
    ("He lived on Baker St. in London.", "He lived on Baker Street in London."),
    ("Rome vs. Carthage.", "Rome versus Carthage."),
    ("Rome vs Carthage.", "Rome versus Carthage."),
    ("Spices, silk, etc. were traded.", "Spices, silk, et cetera were traded."),
    ("They traded spices, silk, etc.", "They traded spices, silk, et cetera."),
    ("Empires, e.g. Rome, fell.", "Empires, for example Rome, fell."),
    ("The capital, i.e. Paris, burned.", "The capital, that is Paris, burned."),
    ("No. 10 Downing Street.", "number ten Downing Street."),
    ("No. I disagree.", "No. I disagree."),
    ("Martin Luther King Jr. spoke.", "Martin Luther King Junior spoke."),
    ("Gen. Grant won.", "General Grant won."),
    ("Capt. Cook sailed.", "Captain Cook sailed."),
    ("About 45% of them died.", "About forty-five percent of them died."),
    ("Growth was 3.5%.", "Growth was three point five percent."),
    ("It cost $5.", "It cost five dollars."),
    ("It cost $1.", "It cost one dollar."),
    ("It cost $2.50.", "It cost two dollars and fifty cents."),
    ("It cost $1.5.", "It cost one dollar and fifty cents."),
    ("It cost £10.", "It cost ten pounds."),
    ("A $3 million deal.", "A three million dollars deal."),
    ("It cost €20.", "It cost twenty euros."),
    ("The meeting at 10:30.", "The meeting at ten thirty."),
    ("The meeting at 10:05 a.m.", "The meeting at ten oh five A M."),
    ("The meeting at 9:00.", "The meeting at nine o'clock."),
    ("He woke at 6 a.m.", "He woke at six A M."),
    ("Half the army, 1/2 of it.", "Half the army, one half of it."),
    ("A quarter, ¼ of the land.", "A quarter, one quarter of the land."),
    ("Pi is 3.14.", "Pi is three point one four."),
    ("There were 12 apostles.", "There were twelve apostles."),
    ("He had 476 ships.", "He had four hundred and seventy-six ships."),
    ("Rome fell in 476.", "Rome fell in four seventy-six."),
    ("Rome fell in 476 AD.", "Rome fell in four seventy-six A D."),
    ("Rome was founded in 753 BC.", "Rome was founded in seven fifty-three B C."),
    ("The pyramids date to 2560 BC.", "The pyramids date to twenty-five sixty B C."),
    ("About 10,000 BC people farmed.", "About ten thousand B C people farmed."),
    (
        "A population of 1,234,567.",
        "A population of one million two hundred and thirty-four thousand"
        " five hundred and sixty-seven.",
    ),
    ("Agent 007.", "Agent zero zero seven."),
    ("Bread & circuses.", "Bread and circuses."),
    ("Item #5 on the list.", "Item number five on the list."),
    ("In the year 1000 people feared.", "In the year one thousand people feared."),
    (
        "Between 1618 and 1648 war raged.",
        "Between sixteen eighteen and sixteen forty-eight war raged.",
    ),
    (
        "He was born in 1564 and died in 1616.",
        "He was born in fifteen sixty-four and died in sixteen sixteen.",
    ),
    ("It has 2000 pages.", "It has two thousand pages."),
    ("2099 was far away.", "twenty ninety-nine was far away."),
    ("There were 1200 horsemen.", "There were one thousand two hundred horsemen."),
    ("In 1492 Columbus sailed.", "In fourteen ninety-two Columbus sailed."),
    ("The 1st Crusade.", "The first Crusade."),
    ("Queen Victoria reigned 63 years.", "Queen Victoria reigned sixty-three years."),
    ("Edward VII was her son.", "Edward the Seventh was her son."),
    ("George III lost America.", "George the Third lost America."),
    ("The Ides of March, 44 BC.", "The Ides of March, forty-four B C."),
    ("The 2nd millennium BC.", "The second millennium B C."),
    ("Louis MMXX is not a king.", "Louis MMXX is not a king."),
    ("Richard III's remains.", "Richard the Third's remains."),
    ("The Henry VIII Bible.", "The Henry the Eighth Bible."),
    ("Catherine II, the Great.", "Catherine the Second, the Great."),
    ("MIX and DIV are words.", "MIX and DIV are words."),
    ("The XIV Corps.", "The XIV Corps."),
    ("Fr. Brown solved it.", "Father Brown solved it."),
    ("Mr. Darcy arrived.", "Mister Darcy arrived."),
    ("Prof. Einstein lectured.", "Professor Einstein lectured."),
    ("He woke at 6 a.m. Then he ate.", "He woke at six A M. Then he ate."),
    ("Rev. King preached.", "Reverend King preached."),
    ("Lt. Bligh lost the Bounty.", "Lieutenant Bligh lost the Bounty."),
    ("The battle of 1805 was at sea.", "The battle of eighteen oh-five was at sea."),
    (
        "From 1939 to 1945 the world burned.",
        "From nineteen thirty-nine to nineteen forty-five the world burned.",
    ),
    ("In 800 Charlemagne was crowned.", "In eight hundred Charlemagne was crowned."),
    ("In 300 days they crossed.", "In three hundred days they crossed."),
    ("He sold 1066 copies.", "He sold one thousand and sixty-six copies."),
    ("The 60s were loud.", "The sixties were loud."),
    ("A 5-year plan.", "A five-year plan."),
    ("She turned 40 in 1940.", "She turned forty in nineteen forty."),
    ("The ratio was 2.5 to 1.", "The ratio was two point five to one."),
    ("Innocent III called a crusade.", "Innocent the Third called a crusade."),
    ("Pius XII was pope.", "Pius the Twelfth was pope."),
    ("Ptolemy I Soter ruled Egypt.", "Ptolemy the First Soter ruled Egypt."),
    ("Louis I think was kind.", "Louis I think was kind."),
    ("Chapter IV begins here.", "Chapter Four begins here."),
    (
        "Mehmed II took Constantinople in 1453.",
        "Mehmed the Second took Constantinople in fourteen fifty-three.",
    ),
]


def test_the_table_has_at_least_a_hundred_cases() -> None:
    assert len(CASES) >= 100
    assert len({written for written, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("written", "said"), CASES, ids=[w for w, _ in CASES])
def test_normalizer_case(written: str, said: str) -> None:
    assert spoken(written) == said


def test_text_without_anything_to_normalize_is_unchanged() -> None:
    text = "Welcome back. Today we meet a philosopher who asked why, again and again."
    assert spoken(text) == text


def test_lexicon_respells_after_normalizing() -> None:
    lexicon = Lexicon({"Louis": "Loo-ee", "Vercingetorix": "Ver-sin-jet-or-ix"})
    assert (
        spoken("Louis XIV met vercingetorix's ghost.", lexicon)
        == "Loo-ee the Fourteenth met ver-sin-jet-or-ix's ghost."
    )
    assert spoken("the ides of March", Lexicon({"Ides": "Eyedz"})) == "the eyedz of March"
    # Whole words only: no respelling inside another word.
    assert spoken("Louisiana", lexicon) == "Louisiana"


def test_multiword_entries_win_over_shorter_ones() -> None:
    lexicon = Lexicon({"Sun": "Sunn", "Sun Tzu": "Soon Dzoo"})
    assert spoken("Sun  Tzu wrote in the sun.", lexicon) == "Soon Dzoo wrote in the sunn."


def test_ipa_goes_to_espeak_as_phonemes_and_the_respelling_to_everyone_else() -> None:
    lexicon = Lexicon({"Cicero": Pronunciation(say="Sisseroh", ipa="ˈsɪsəroʊ")})
    assert spoken("Cicero spoke.", lexicon) == "Sisseroh spoke."
    phonemes = spoken("Cicero spoke.", lexicon, phonemes=True)
    assert phonemes.startswith("[[") and phonemes.endswith("]] spoke.")
    assert phonemes == f"[[{espeak_phonemes('ˈsɪsəroʊ')}]] spoke."
    assert "[" not in phonemes[2:-9] and "]" not in phonemes[2:-9]


def test_layers_override_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "Thucydides" in built_in() and len(built_in()) >= 50
    user = tmp_path / "lexicon.json"
    user.write_text(json.dumps({"Thucydides": "Thoo-SID-ih-deez", "Tlaloc": "Tlah-lock"}))
    monkeypatch.setenv("EPOCHPOD_LEXICON", str(user))
    lexicon_module._cached_user_lexicon.cache_clear()
    merged = for_request({"tlaloc": {"say": "Tla-loke"}})
    assert merged["Thucydides"].say == "Thoo-SID-ih-deez"  # the file beats the built-in
    assert merged["Tlaloc"].say == "Tla-loke"  # the request beats the file
    assert merged["Cicero"] == built_in()["Cicero"]


def test_pls_file(tmp_path: Path) -> None:
    pls = tmp_path / "names.pls"
    pls.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"'
        ' alphabet="ipa" xml:lang="en-GB">\n'
        "  <lexeme><grapheme>Boudicca</grapheme><grapheme>Boadicea</grapheme>"
        "<alias>Boo-dik-uh</alias><phoneme>ˈbuːdɪkə</phoneme></lexeme>\n"
        "  <lexeme><grapheme>Tacitus</grapheme><alias>Tass-ih-tus</alias></lexeme>\n"
        "</lexicon>\n"
    )
    lexicon = load_file(pls)
    assert lexicon["Boadicea"] == Pronunciation(say="Boo-dik-uh", ipa="ˈbuːdɪkə")
    assert spoken("Tacitus on Boudicca.", lexicon) == "Tass-ih-tus on Boo-dik-uh."


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not a valid lexicon"),
        (json.dumps({"Caesar": ""}), "Caesar"),
        (json.dumps({"Caesar": "Kai[sar]"}), "Caesar"),
        (json.dumps({"Caesar": {"say": "Kaisar", "ipa": "!!!"}}), "ipa"),
    ],
)
def test_bad_lexicon_files_name_the_file_and_problem(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(LexiconError, match="EPOCHPOD_LEXICON") as caught:
        load_file(path)
    assert problem in str(caught.value) and str(path) in str(caught.value)


def test_missing_lexicon_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LexiconError, match="cannot read"):
        load_file(tmp_path / "nope.json")
