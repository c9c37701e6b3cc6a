"""Spelling correction before classification: real symspellpy, real English dictionary."""

from __future__ import annotations

from pathlib import Path

from bot.components.spelling import SpellingCorrector, english_words

EXAMPLES = ["my parcel has not arrived", "I was charged twice for one order",
            "where is my parcel", "the courier never arrived", "top up my phone"]


def corrector() -> SpellingCorrector:
    return SpellingCorrector.from_texts(EXAMPLES)


def test_misspelt_words_become_the_training_words() -> None:
    assert corrector().correct("my parcell hasnt arived") == "my parcel hasnt arrived"
    assert corrector().correct("I was chrged twcie") == "I was charged twice"


def test_known_short_capital_and_faraway_words_are_left_alone() -> None:
    # English words, even one edit from a training word ("partial"); apostrophe-free English
    # ("dont"); short chat abbreviations ("otp" is one edit from the training word "top");
    # acronyms ("DHL"); words far from every training word ("bitcoin"); codes.
    speller = corrector()
    for text in ["a partial refund", "I dont know", "otp not received", "bitcoin wallet",
                 "order ORDR-1234", "Herr Müller", "mi paquete no ha llegado", ""]:
        assert speller.correct(text) == text
    assert speller.correct("my DHL parcle") == "my DHL parcel"


def test_the_english_dictionary_includes_apostrophe_free_forms() -> None:
    words = english_words()
    assert {"the", "parcel", "dont", "isnt", "couldnt"} <= words


def test_the_vocabulary_survives_a_save_and_load(tmp_path: Path) -> None:
    corrector().save(tmp_path)
    loaded = SpellingCorrector.load(tmp_path)
    assert loaded is not None and loaded.vocabulary == corrector().vocabulary
    assert loaded.correct("parcell") == "parcel"
    assert SpellingCorrector.load(tmp_path / "nothing") is None
