"""Cutting a message into the parts that could each be about a problem of its own."""

from __future__ import annotations

import pytest

from bot.clauses import MAX_CLAUSES, split_clauses, states_a_problem


@pytest.mark.parametrize(("text", "parts"), [
    ("my parcel is late, also i was charged twice",
     ["my parcel is late", "i was charged twice"]),
    ("cant log in. Also: where is my refund??", ["cant log in", "where is my refund??"]),
    ("order NW-482913 is late, on top of that the promo code didnt work",
     ["order NW-482913 is late", "the promo code didnt work"]),
    ("my order is late, another thing the app keeps crashing",
     ["my order is late", "the app keeps crashing"]),
    ("cant log in btw my order is late too", ["cant log in", "my order is late too"]),
    # one problem: a plain "and", a new sentence, "northwind plus", a part too short
    ("cancelled my order and havent been refunded", []),
    ("my refund hasnt come. i sent it back 3 weeks ago", []),
    ("im cancelling northwind plus, amazon prime is enough", []),
    ("paying for plus and still didnt get next day delivery", []),
    ("my parcel is late, also", []),
    ("hi. also my parcel is late", []),
    ("no, also i was charged twice", ["no", "i was charged twice"]),  # a bare answer
    ("my sofa is late, additionally i was charged twice",
     ["my sofa is late", "i was charged twice"]),
    # "plus" after a comma adds one; the membership does not
    ("need to move my delivery slot to next week, plus my card keeps getting declined",
     ["need to move my delivery slot to next week", "my card keeps getting declined"]),
    ("i pay for northwind plus and my parcel is still late", []),
    ("", []),
])
def test_a_message_is_cut_where_a_second_problem_is_added(text: str,
                                                          parts: list[str]) -> None:
    assert split_clauses(text) == parts


def test_a_long_list_is_read_whole() -> None:
    text = ", also ".join(f"problem number {n} here" for n in range(MAX_CLAUSES + 1))
    assert split_clauses(text) == []


@pytest.mark.parametrize(("part", "problem"), [
    ("i was charged twice", True), ("the sofa has a rip in it", True),
    ("my account has been compromised", True), ("can i change the address", True),
    ("the app keeps crashing", True), ("i have a plus membership", False),
    ("i bought it in march", False), ("i paid by card", False)])
def test_a_part_states_a_problem_or_asks_for_something(part: str, problem: bool) -> None:
    assert states_a_problem(part) is problem
