"""Rule entities with spaCy: order numbers, amounts, dates, e-mails, phone numbers, cards.

One spaCy pipeline (blank English by default; the model name is configurable) with an
EntityRuler for token patterns, plus character-level patterns for things the tokenizer
splits (phone numbers, card numbers). Used by the NLU component (entities) and by the PII
redactor (analytics transcripts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class Span:
    label: str
    start: int
    end: int
    text: str


class RuleEntities:
    """Finds rule entities in text; the spaCy pipeline is built once per instance."""

    def __init__(self, spacy_model: str = "blank:en") -> None:
        import spacy

        self.nlp = spacy.load(spacy_model)
        ruler = self.nlp.add_pipe("entity_ruler", config={"overwrite_ents": True})
        ruler.add_patterns(TOKEN_PATTERNS)  # type: ignore[attr-defined]

    def find(self, text: str) -> list[Span]:
        """Non-overlapping spans, by position; token patterns win ties with char patterns."""
        doc = self.nlp(text)
        spans = [Span(e.label_, e.start_char, e.end_char, e.text) for e in doc.ents]
        for label, pattern in CHAR_PATTERNS.items():
            for match in pattern.finditer(text):
                digits = sum(c.isdigit() for c in match.group())
                if label == "phone" and not 7 <= digits <= 15:
                    continue
                candidate = Span(label, match.start(), match.end(), match.group())
                if not any(_overlaps(candidate, s) for s in spans):
                    spans.append(candidate)
        return sorted(spans, key=lambda s: s.start)


def _overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end
