"""Rule entities and PII redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.entities import (
    OTHER_COMPANY,
    OUR_COMPANY,
    PAYMENT_PROVIDER,
    RuleEntities,
    load_company_names,
)
from bot.pii import Redactor
from tests.conftest import REPO


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


@pytest.fixture(scope="module")
def with_others() -> RuleEntities:
    return RuleEntities("blank:en", load_company_names(REPO / "bot/company_names.yml"))


@pytest.mark.parametrize(("text", "shown"), [
    ("how do i cancel my Spotify", "Spotify"), ("DISNEY PLUS took money twice", "Disney+"),
    ("my amazon prime delivery isnt free", "Amazon Prime"), ("ebay parcel late", "eBay"),
    ("whatsapp code not coming", "WhatsApp"), ("b&q sent the wrong item", "B&Q"),
    ("forgot my netflx password", "Netflix"), ("my shien order", "Shein"),  # one edit
])
def test_other_companies_are_found_and_named_as_listed(with_others: RuleEntities, text: str,
                                                       shown: str) -> None:
    found = [(s.label, s.value) for s in with_others.find(text)]
    assert found == [(OTHER_COMPANY, shown)]


def test_our_names_are_found_and_the_longest_name_wins(with_others: RuleEntities) -> None:
    found = [(s.label, s.value) for s in with_others.find(
        "cancel my northwind plus, disney plus is enough")]
    assert found == [(OUR_COMPANY, "Northwind Plus"), (OTHER_COMPANY, "Disney+")]


@pytest.mark.parametrize("text", [
    "paid with google pay and got charged twice", "my dpd parcel is late",
    "paypal payment declined", "the hinge on my wardrobe broke", "zara here, my sofa is late",
    "no code in my gmail", "royal mail lost it",
    "tracking says deliverd", "the chair is amazing", "kallax shelf missing screws"])
def test_carriers_payment_providers_and_common_words_are_not_other_companies(
        with_others: RuleEntities, text: str) -> None:
    assert [s for s in with_others.find(text) if s.label == OTHER_COMPANY] == []


@pytest.mark.parametrize(("text", "shown"), [
    ("barclays blocked my card", "Barclays"), ("barclys wont let me log in", "Barclays"),
    ("paid with paypal", "PayPal"), ("cant get into my online banking", "your bank"),
    ("my tesco bank card", "Tesco Bank"), ("amex declined", "American Express")])
def test_banks_and_payment_services_are_found_apart_from_other_companies(
        with_others: RuleEntities, text: str, shown: str) -> None:
    assert [(s.label, s.value) for s in with_others.find(text)] == [(PAYMENT_PROVIDER, shown)]


@pytest.mark.parametrize(("content", "message"), [
    ("others: netflix", "expected a list under 'others'"),
    ("others: [netflix, {name: Disney+}]", "others entry 2 .* is neither a name nor"),
    ("ours: [Northwind, '  ']", "ours entry 2"),
    ("- netflix", "expected the lists 'ours', 'others' and 'payments'"),
    ("payments: [{match: [paypal]}]", "payments entry 1"),
    ("others: [unclosed", "cannot read"),
])
def test_a_bad_company_names_file_is_refused_naming_the_file_and_entry(
        tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "names.yml"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as error:
        load_company_names(path)
    assert str(path) in str(error.value)


def test_plain_text_has_no_entities(rules: RuleEntities) -> None:
    assert rules.find("my parcel is late and nobody answers") == []


def test_redaction_hides_contact_and_card_details_but_keeps_orders(rules: RuleEntities) -> None:
    text = ("Order NW-482913: card 4111 1111 1111 1111 was charged, "
            "write to jo@example.com or +44 7700 900123")
    redacted = Redactor(rules).redact(text)
    assert redacted == ("Order NW-482913: card [CARD] was charged, write to [EMAIL] or [PHONE]")


def test_config_naming_a_missing_company_names_file_fails_when_built(tmp_path: Path) -> None:
    from bot.components.rule_entities import RuleEntityExtractor

    with pytest.raises(ValueError, match=r"RuleEntityExtractor in config.yml: .*nope\.yml"):
        RuleEntityExtractor({"company_names": str(tmp_path / "nope.yml")})
