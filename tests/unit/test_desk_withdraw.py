"""Which customer lines withdraw a queued request for a person (desk.withdraw)."""

from __future__ import annotations

import pytest

from desk.withdraw import withdraws


@pytest.mark.parametrize("text", [
    "nvm it just arrived", "actually cancel that i dont need a person", "never mind",
    "can i go back to the bot", "i dont need a person anymore", "its arrived thanks",
    "ok forget it", "no need", "i sorted it myself", "Oh nevermind, found it!",
    # the fifth pass
    "nvm i'll just return it when it comes", "never mind, ill call the store",
    "oh wait its fine the parcel just turned up", "sorry, wrong button, i dont need an agent",
    "actually i found the answer online, dont need a callback anymore",
    "actually its fine, the code worked on the app"])
def test_a_withdrawal(text: str) -> None:
    assert withdraws(text)


@pytest.mark.parametrize("text", [
    "never mind, it arrived but its broken", "cancel that, i want a refund instead",
    "never mind i need to change my address", "its arrived broken", "cancel my order",
    "cancel it", "hello?", "ann@example.com", "nvm, how long will it take?",
    "is anyone there", "forget it, i want to speak to a manager", "never mind, call me please",
    "its fine but i still want a refund"])
def test_not_a_withdrawal(text: str) -> None:
    assert not withdraws(text)
