"""Rule entities with spaCy: order numbers, amounts, dates, e-mails, phone numbers, cards,
and company names (ours and others').

One spaCy pipeline (blank English by default; the model name is configurable) with an
EntityRuler for token patterns and for company names (lists, matched as whole words in any
case; the longest match wins, so "Disney Plus" is another company's, "Plus" ours), plus
character-level patterns for things the tokenizer splits (phone numbers, card numbers).
Used by the NLU component (entities) and by the PII redactor (analytics transcripts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december", "jan", "feb", "mar", "apr", "jun",
          "jul", "aug", "sep", "sept", "oct", "nov", "dec"]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
        "yesterday", "today", "tomorrow"]
CURRENCY_WORDS = ["eur", "euro", "euros", "usd", "dollar", "dollars", "gbp", "pound", "pounds",
                  "quid", "bucks"]

TOKEN_PATTERNS: list[dict[str, Any]] = [
    {"label": "order_number", "pattern": [{"TEXT": {"REGEX": r"(?i)^NW-?\d{5,8}$"}}]},
    {"label": "email", "pattern": [{"LIKE_EMAIL": True}]},
    {"label": "amount", "pattern": [{"ORTH": {"IN": ["€", "$", "£"]}}, {"LIKE_NUM": True}]},
    {"label": "amount", "pattern": [{"LIKE_NUM": True}, {"ORTH": {"IN": ["€", "$", "£"]}}]},
    {"label": "amount", "pattern": [{"LIKE_NUM": True}, {"LOWER": {"IN": CURRENCY_WORDS}}]},
    {"label": "date", "pattern": [{"TEXT": {"REGEX": r"^\d{1,2}[/.-]\d{1,2}([/.-]\d{2,4})?$"}}]},
    {"label": "date", "pattern": [{"TEXT": {"REGEX": r"^\d{4}-\d{2}-\d{2}$"}}]},
    {"label": "date", "pattern": [{"TEXT": {"REGEX": r"^\d{1,2}(st|nd|rd|th)?$"}},
                                  {"LOWER": "of", "OP": "?"}, {"LOWER": {"IN": MONTHS}}]},
    {"label": "date", "pattern": [{"LOWER": {"IN": MONTHS}},
                                  {"TEXT": {"REGEX": r"^\d{1,2}(st|nd|rd|th)?$"}}]},
    {"label": "date", "pattern": [{"LOWER": {"IN": ["last", "next", "this"]}, "OP": "?"},
                                  {"LOWER": {"IN": DAYS}}]},
]
CHAR_PATTERNS: dict[str, re.Pattern[str]] = {
    # 13-19 digits in groups: card numbers (PII, never an order number).
    "card_number": re.compile(r"\b(?:\d[ -]?){12,18}\d\b"),
    "iban": re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"),
    "phone": re.compile(r"(?<![\w-])(?:\+\d{1,3}[ .-]?)?(?:\(?\d{2,5}\)?[ .-]?){2,4}\d{2,4}(?!\w)"),
}


OUR_COMPANY, OTHER_COMPANY = "our_company", "other_company"
#: A bank, card issuer, e-wallet or pay-later service: another company's only when nothing
#: in the message is about shopping with us (actions/dialogue.py).
PAYMENT_PROVIDER = "payment_provider"
#: Shortest other company's name looked for misspelt (shorter ones, "asda", "ebay", are one
#: edit from too many words and names).
MISSPELT_NAME_LENGTH = 5


@dataclass(frozen=True)
class CompanyNames:
    """What to match (lower case) → the name to show, for us, for other companies and for
    the banks and payment services customers pay us with."""

    ours: dict[str, str]
    others: dict[str, str]
    payments: dict[str, str] = field(default_factory=dict)


def load_company_names(path: str | Path) -> CompanyNames:
    """The ``ours:``, ``others:`` and (optional) ``payments:`` lists of a YAML file; each
    entry a name, or ``{name: ..., match: [...]}``.

    Raises:
        ValueError: the file is missing or malformed, naming the file and the entry.
    """
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"{path}: cannot read the company names: {error}") from error
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected the lists 'ours', 'others' and 'payments'")
    return CompanyNames(*(_names(path, key, data.get(key, []))
                          for key in ("ours", "others", "payments")))


def _names(path: str | Path, key: str, entries: object) -> dict[str, str]:
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a list under '{key}'")
    names: dict[str, str] = {}
    for number, entry in enumerate(entries, start=1):
        name, matches = (entry, [entry]) if isinstance(entry, str) else (
            (entry.get("name"), entry.get("match")) if isinstance(entry, dict) else (None, None))
        if not (isinstance(name, str) and name.strip() and isinstance(matches, list)
                and matches and all(isinstance(m, str) and m.strip() for m in matches)):
            raise ValueError(f"{path}: {key} entry {number} ({entry!r}) is neither a name "
                             "nor {name: ..., match: [...]}")
        names.update({m.strip().lower(): name.strip() for m in matches})
    return names


@dataclass(frozen=True)
class Span:
    label: str
    start: int
    end: int
    text: str
    value: str | None = None  # a canonical value, where it differs from the text


class RuleEntities:
    """Finds rule entities in text; the spaCy pipeline is built once per instance."""

    def __init__(self, spacy_model: str = "blank:en",
                 company_names: CompanyNames | None = None) -> None:
        import spacy

        self.nlp = spacy.load(spacy_model)
        # Phrase patterns (the names) compare lower-cased tokens; token patterns as written.
        ruler = self.nlp.add_pipe("entity_ruler", config={"overwrite_ents": True,
                                                          "phrase_matcher_attr": "LOWER"})
        ruler.add_patterns(TOKEN_PATTERNS)  # type: ignore[attr-defined]
        names = company_names or CompanyNames({}, {})
        tables = ((OUR_COMPANY, names.ours), (OTHER_COMPANY, names.others),
                  (PAYMENT_PROVIDER, names.payments))
        ruler.add_patterns([  # type: ignore[attr-defined]
            {"label": label, "pattern": match, "id": name}
            for label, table in tables for match, name in table.items()])
        # Misspelt one-word names ("netflx", "barclys"): see _misspelt_others
        self._one_word_others = {m: (label, n) for label, table in tables[1:]
                                 for m, n in table.items()
                                 if m.isalpha() and len(m) >= MISSPELT_NAME_LENGTH}
        self._names_speller = None
        if self._one_word_others:
            from bot.components.spelling import SpellingCorrector

            self._names_speller = SpellingCorrector(dict.fromkeys(self._one_word_others, 1),
                                                    long_word_edits=1)

    def find(self, text: str) -> list[Span]:
        """Non-overlapping spans, by position; token patterns win ties with char patterns."""
        doc = self.nlp(text)
        spans = [Span(e.label_, e.start_char, e.end_char, e.text, e.ent_id_ or None)
                 for e in doc.ents]
        for label, pattern in CHAR_PATTERNS.items():
            for match in pattern.finditer(text):
                digits = sum(c.isdigit() for c in match.group())
                if label == "phone" and not 7 <= digits <= 15:
                    continue
                candidate = Span(label, match.start(), match.end(), match.group())
                if not any(_overlaps(candidate, s) for s in spans):
                    spans.append(candidate)
        spans += self._misspelt_others(doc, spans)
        return sorted(spans, key=lambda s: s.start)

    def _misspelt_others(self, doc: Any, spans: list[Span]) -> list[Span]:
        """Other companies' and payment services' one-word names misspelt by one edit,
        found the way message words are corrected for the classifier
        (bot/components/spelling.py): only words of 5 letters or more that are not English
        words. Two edits turned "deliverd" into "Deliveroo"."""
        if self._names_speller is None:
            return []
        found = []
        for token in doc:
            word = token.text
            if len(word) < MISSPELT_NAME_LENGTH or not word.isalpha():
                continue
            corrected = self._names_speller.correct(word)
            if corrected != word and corrected in self._one_word_others:
                label, name = self._one_word_others[corrected]
                candidate = Span(label, token.idx, token.idx + len(word), word, name)
                if not any(_overlaps(candidate, s) for s in spans):
                    found.append(candidate)
        return found


def _overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end
