"""The turn decision, flow by flow (ARCHITECTURE.md: flows that must always work)."""

from __future__ import annotations

import pytest

from actions import dialogue as d


@pytest.fixture
def dialogue(catalogue) -> d.Dialogue:
    return d.Dialogue(catalogue)


def turn(intent: str | None, confidence: float, text: str = "text",
         ranking: tuple[tuple[str, float], ...] = ()) -> d.Turn:
    return d.Turn(text, intent, confidence, ranking)


def test_confident_moment_gets_an_article(dialogue: d.Dialogue) -> None:
    decision = dialogue.decide(turn("parcel_late", 0.93), d.State())
    assert isinstance(decision, d.Answer) and decision.moment.id == "parcel_late"


def test_always_person_moment_hands_off_by_policy(dialogue: d.Dialogue) -> None:
    decision = dialogue.decide(turn("account_hacked", 0.95), d.State())
    assert isinstance(decision, d.Handoff) and decision.reason is d.HandoffReason.POLICY


def test_unsure_asks_once_with_top_moments_then_hands_off(dialogue: d.Dialogue) -> None:
    ranking = (("parcel_late", 0.3), ("request_human", 0.2), ("parcel_missing", 0.2),
               ("greet", 0.1), ("charged_twice", 0.1), ("refund_not_received", 0.05))
    first = dialogue.decide(turn("parcel_late", 0.3, ranking=ranking), d.State())
    assert isinstance(first, d.Clarify)
    assert [m.id for m in first.choices] == ["parcel_late", "parcel_missing", "charged_twice"]
    second = dialogue.decide(turn("out_of_scope", 0.4), d.State(clarified=True))
    assert isinstance(second, d.Handoff)
    assert second.reason is d.HandoffReason.LOW_CONFIDENCE


@pytest.mark.parametrize("text", ["human please", "can I talk to a real person",
                                  "I want an agent", "get me an operator!!"])
def test_asking_for_a_person_works_at_any_point(dialogue: d.Dialogue, text: str) -> None:
    state = d.State(moment="parcel_late", offered=("parcel-late-track",), awaiting_feedback=True)
    decision = dialogue.decide(turn("deny", 0.9, text=text), state)
    assert isinstance(decision, d.Handoff)
    assert decision.reason is d.HandoffReason.CUSTOMER_ASKED


def test_feedback_yes_resolves_and_no_tries_the_next_article(dialogue: d.Dialogue) -> None:
    state = d.State(moment="parcel_late", offered=("parcel-late-track",), awaiting_feedback=True)
    assert isinstance(dialogue.decide(turn("affirm", 0.9), state), d.Resolved)
    next_article = dialogue.decide(turn("deny", 0.9), state)
    assert isinstance(next_article, d.NextArticle)
    assert next_article.moment.id == "parcel_late"


def test_small_talk_is_answered_without_counting_as_unsure(dialogue: d.Dialogue) -> None:
    assert dialogue.decide(turn("greet", 0.9), d.State()) == d.SmallTalk("utter_greet")


def test_out_of_scope_leads_to_clarify_not_a_wrong_solution(dialogue: d.Dialogue) -> None:
    ranking = (("out_of_scope", 0.8), ("parcel_late", 0.1))
    decision = dialogue.decide(turn("out_of_scope", 0.8, ranking=ranking), d.State())
    assert isinstance(decision, d.Clarify)


def test_vague_message_asks_which_moment_of_its_topic(dialogue: d.Dialogue) -> None:
    ranking = (("vague", 0.9), ("parcel_late", 0.04), ("out_of_scope", 0.02),
               ("parcel_missing", 0.02), ("parcel_damaged", 0.01))
    decision = dialogue.decide(turn("vague", 0.9, text="my parcel", ranking=ranking), d.State())
    assert isinstance(decision, d.Clarify)
    assert [m.id for m in decision.choices] == ["parcel_late", "parcel_missing",
                                                "parcel_damaged"]
