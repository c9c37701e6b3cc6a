"""Contact details left while a handoff waits: which count, and how they are named back."""

from __future__ import annotations

import pytest

from bot.pii import Redactor
from desk.contact import acknowledgement, contact


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor()


@pytest.mark.parametrize(("text", "named"), [
    ("you can reach me at ann.lee@example.com thanks", "a•••@example.com"),
    ("call me on 07700 900123", "••• 123"),
    ("+44 7700 900456 after 5pm", "••• 456"),
    ("my number is (555) 123-4567", "••• 567"),
    ("mail ann@example.com or ring 07700 900123", "a•••@example.com"),  # the first one
])
def test_a_contact_detail_is_found_and_named_in_part(redactor: Redactor, text: str,
                                                     named: str) -> None:
    found = contact(redactor.personal_data(text))
    assert found is not None
    assert f"({named})" in acknowledgement(found)


@pytest.mark.parametrize("text", [
    "order 4829137765 still not here",  # a bare run of digits may be an order number
    "NW-482913",
    "hello? anyone there",
    "my card 4111 1111 1111 1111 was charged twice",  # a card number is not a way to reach us
])
def test_no_contact_detail_is_read_into_other_numbers(redactor: Redactor, text: str) -> None:
    assert contact(redactor.personal_data(text)) is None
