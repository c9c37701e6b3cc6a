"""Rule entities and PII redaction."""

from __future__ import annotations

import pytest

from bot.entities import RuleEntities
from bot.pii import Redactor


@pytest.fixture(scope="module")
def rules() -> RuleEntities:
    return RuleEntities("blank:en")


@pytest.mark.parametrize(
    ("text", "label", "value"),
    [
        ("where is order NW-482913?", "order_number", "NW-482913"),
        ("order nw482913 is late", "order_number", "nw482913"),
        ("you took €49.99 twice", "amount", "€49.99"),
        ("charged 20 euros extra", "amount", "20 euros"),
        ("it was due on 12/03", "date", "12/03"),
        ("ordered on 3rd of March", "date", "3rd of March"),
        ("it was promised last friday", "date", "last friday"),
        ("mail me at jo.doe@example.com", "email", "jo.doe@example.com"),
        ("call +44 7700 900123 please", "phone", "+44 7700 900123"),
    ],
)
def test_finds_rule_entities(rules: RuleEntities, text: str, label: str, value: str) -> None:
    assert (label, value) in [(s.label, s.text) for s in rules.find(text)]


def test_plain_text_has_no_entities(rules: RuleEntities) -> None:
    assert rules.find("my parcel is late and nobody answers") == []


def test_redaction_hides_contact_and_card_details_but_keeps_orders(rules: RuleEntities) -> None:
    text = ("Order NW-482913: card 4111 1111 1111 1111 was charged, "
            "write to jo@example.com or +44 7700 900123")
    redacted = Redactor(rules).redact(text)
    assert redacted == ("Order NW-482913: card [CARD] was charged, write to [EMAIL] or [PHONE]")
