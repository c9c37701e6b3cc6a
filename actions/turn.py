"""``action_handle_turn``: runs after every customer message (see bot/data/rules.yml).

Reads the NLU result and the self-service slots, asks :class:`~actions.dialogue.Dialogue`
what to do, and carries it out: offer an article, ask one clarifying question, or hand off
to a person with the full context and pause the bot.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import numpy as np
from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import dialogue as d
from actions.desk_client import DeskClient, DeskUnavailable, HandoffSaved
from actions.handoff import build_packet, entities
from actions.replies import (
    FEEDBACK_BUTTONS,
    PERSON_FIRST_BUTTONS,
    article_message,
    channel_kind,
    clarify_buttons,
    later_buttons,
    wait_phrase,
)
from bot.catalogue import Catalogue, Moment
from bot.clauses import CLAUSES_KEY
from bot.components.moment_classifier import (
    EMBEDDING_ENCODER_KEY,
    EMBEDDING_KEY,
    decode_embedding,
)
from bot.pii import WRITTEN_AS_PHONE, masked_contact
from desk.packet import AGENT_ASKED, AGENT_HELPED, AGENT_UNHELPED
from knowledge.retriever import Retriever

log = logging.getLogger(__name__)

class HandleTurn(Action):
    """The one action behind every customer turn."""

    def __init__(self, catalogue: Catalogue, retriever: Retriever, desk: DeskClient) -> None:
        self.catalogue = catalogue
        self.dialogue = d.Dialogue(catalogue)
        self.retriever = retriever
        self.desk = desk

    def name(self) -> str:
        return "action_handle_turn"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        turn = d.Turn.from_parse(tracker.latest_message or {})
        state = d.State(
            moment=tracker.get_slot("moment"),
            offered=tuple(tracker.get_slot("offered_articles") or ()),
            awaiting_feedback=bool(tracker.get_slot("awaiting_feedback")),
            clarified=bool(tracker.get_slot("clarified")),
            choices=tuple(tracker.get_slot("clarify_choices") or ()),
            asked_anything_else=_last_response(tracker) in d.ANYTHING_ELSE,
            agent_asked=_agent_asked(tracker.get_slot("last_outcome")),
            later=tuple(tracker.get_slot("later_moments") or ()),
            asked_about_later=_last_response(tracker) == d.RESOLVED_ALSO,
        )
        decision = self.dialogue.decide(turn, state)
        log.info("turn %s: intent=%s conf=%.2f -> %s", tracker.sender_id, turn.intent,
                 turn.confidence, type(decision).__name__)
        events = await self._carry_out(dispatcher, tracker, state, decision)
        if state.agent_asked and not any(
                isinstance(e, dict) and e.get("event") == "slot"
                and e.get("name") == "last_outcome" for e in events):
            events.append(SlotSet("last_outcome", None))  # the question lapses unanswered
        if state.asked_about_later and isinstance(decision, d.SmallTalk):
            events.append(SlotSet("later_moments", []))  # "shall we look at ...?" declined
        return events

    async def _carry_out(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                         state: d.State, decision: d.Decision) -> list[EventType]:
        if isinstance(decision, d.AgentRated):
            dispatcher.utter_message(response="utter_agent_helped" if decision.helped
                                     else "utter_agent_did_not_help")
            kind = AGENT_HELPED if decision.helped else AGENT_UNHELPED
            return [SlotSet("last_outcome", f"{kind}:{decision.handoff_id}")]
        if isinstance(decision, d.SmallTalk):
            # "ok ill try that", "hmm": the "did this solve it?" buttons again
            buttons = (FEEDBACK_BUTTONS if decision.response in (d.WILL_TRY, d.ASK_IF_SOLVED)
                       else None)
            dispatcher.utter_message(response=decision.response, buttons=buttons)
            return []
        if isinstance(decision, d.FollowUp):  # a person first: they can answer it
            dispatcher.utter_message(
                response="utter_follow_up_reference" if decision.reference else "utter_follow_up",
                buttons=PERSON_FIRST_BUTTONS,
                moment_title=decision.moment.title)
            return []
        if isinstance(decision, d.Resolved):
            if decision.later is not None:  # "you also mentioned ...: shall we look at it?"
                dispatcher.utter_message(response=d.RESOLVED_ALSO,
                                         buttons=later_buttons(decision.later),
                                         moment_title=decision.later.title)
            else:  # "thanks bye": solved, and no "anything else?" to a customer leaving
                dispatcher.utter_message(response="utter_resolved_goodbye" if decision.goodbye
                                         else "utter_resolved")
            # the moment and its articles stay: "no, it didn't help" after an "ok" taken as
            # solved brings the next solution
            return [SlotSet("awaiting_feedback", False), SlotSet("clarified", False),
                    SlotSet("clarify_choices", []), _outcome("resolved", decision.moment)]
        if isinstance(decision, d.Clarify):
            about = {"company": decision.other_company} if decision.other_company else {}
            response = ("utter_clarify_other_language" if decision.other_language else
                        "utter_clarify_other_company" if about else
                        "utter_clarify_out_of_scope" if decision.out_of_scope else "utter_clarify")
            dispatcher.utter_message(response=response,
                                     buttons=clarify_buttons(decision.choices), **about)
            return [SlotSet("clarified", True), SlotSet("awaiting_feedback", False),
                    SlotSet("clarify_choices", [m.id for m in decision.choices])]
        if isinstance(decision, d.Answer | d.NextArticle):
            return await self._offer(dispatcher, tracker, state, decision)
        return await self._hand_off(dispatcher, tracker, state, decision)

    async def _offer(self, dispatcher: CollectingDispatcher, tracker: Tracker, state: d.State,
                     decision: d.Answer | d.NextArticle) -> list[EventType]:
        moment = decision.moment
        same_moment = state.moment == moment.id
        offered = list(state.offered) if same_moment else []
        rejected = list(tracker.get_slot("rejected_articles") or []) if same_moment else []
        events: list[EventType] = []
        if isinstance(decision, d.NextArticle) and offered:
            rejected.append(offered[-1])
            events.append(_outcome("rejected", moment.id))
        kind = channel_kind(tracker.get_latest_input_channel())
        query = await self._query_vector(tracker, moment.id, taken_up=moment.id in state.later)
        hits = self.retriever.search(query, k=1, moment=moment.id, channel=kind,
                                     exclude=offered)
        also = decision.also
        later = _still_to_come(state, also, moment.id)
        if not hits:
            reason = (d.HandoffReason.ARTICLE_REJECTED if offered else d.HandoffReason.NO_ARTICLE)
            events.append(SlotSet("rejected_articles", rejected))
            return events + await self._hand_off(
                dispatcher, tracker, d.State(moment.id, tuple(offered), False, state.clarified,
                                             later=tuple(later)),
                d.Handoff(reason, moment), rejected=rejected)
        article = hits[0].article
        dispatcher.utter_message(**article_message(
            article, kind, first=not offered, also=tuple(a.title for a in also)))
        if later != list(state.later):
            events.append(SlotSet("later_moments", later))
        return [*events, SlotSet("moment", moment.id),
                SlotSet("offered_articles", [*offered, article.id]),
                SlotSet("rejected_articles", rejected), SlotSet("awaiting_feedback", True),
                SlotSet("clarified", False), SlotSet("clarify_choices", []),
                _outcome("offered", moment.id)]

    async def _query_vector(self, tracker: Tracker, moment: str,
                            taken_up: bool = False) -> np.ndarray:
        """The latest free-text message's embedding: the NLU's, when the weights that made it
        are the knowledge index's (the same fingerprint), else encoded here.

        Button payloads ("/parcel_late") carry no text, so the customer's own words from
        before the clarifying question are used instead. A message of several problems is
        searched with its part about ``moment``; one ``taken_up`` after the others ("yes"
        to "you also mentioned ...") with that part of the message that mentioned it.
        """
        loop = asyncio.get_running_loop()
        for event in reversed(tracker.events):
            if event.get("event") != "user":
                continue
            text = event.get("text") or ""
            if not text or text.startswith("/"):
                continue
            parsed = event.get("parse_data") or {}
            part = next((str(c["text"]) for c in parsed.get(CLAUSES_KEY) or []
                         if isinstance(c, dict) and c.get("name") == moment and c.get("text")),
                        None)
            if part:
                return await loop.run_in_executor(None, self.retriever.encode, part)
            if taken_up:
                continue
            embedded, identity = parsed.get(EMBEDDING_KEY), self.retriever.embedder.identity
            if embedded and identity and parsed.get(EMBEDDING_ENCODER_KEY) == identity:
                return decode_embedding(embedded)
            return await loop.run_in_executor(None, self.retriever.encode, text)
        return await loop.run_in_executor(None, self.retriever.encode, moment.replace("_", " "))

    async def _hand_off(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                        state: d.State, decision: d.Handoff | d.Answer | d.NextArticle,
                        rejected: list[str] | None = None) -> list[EventType]:
        assert isinstance(decision, d.Handoff)
        snapshot_articles = self.retriever.snapshot.articles
        offered = [(a, snapshot_articles[a].title if a in snapshot_articles else a,
                    snapshot_articles[a].version if a in snapshot_articles else 1)
                   for a in state.offered]
        rejected = rejected if rejected is not None else list(
            tracker.get_slot("rejected_articles") or [])
        packet = build_packet(
            catalogue=self.catalogue, conversation_id=tracker.sender_id,
            channel=tracker.get_latest_input_channel() or "", events=tracker.events,
            latest_message=tracker.latest_message or {}, reason=decision.reason.value,
            moment=decision.moment.id if decision.moment else state.moment,
            offered=offered, feedback={a: "rejected" for a in rejected},
            also_mentioned=_still_to_come(state, decision.also, decision.moment.id
                                          if decision.moment else state.moment),
        )
        try:
            receipt = await self.desk.submit(packet)
        except HandoffSaved as error:  # desk down: the outbox retries; the bot stays quiet
            log.error("handoff of %s saved for retry: %s", tracker.sender_id, error)
            dispatcher.utter_message(response="utter_handoff_saved")
            return [*_reset(), SlotSet("last_outcome", "handoff_saved"), ConversationPaused()]
        except DeskUnavailable as error:
            log.error("handoff of %s failed: %s", tracker.sender_id, error)
            dispatcher.utter_message(response="utter_handoff_unavailable")
            return [SlotSet("last_outcome", "handoff_failed")]
        # an e-mail address left with an agent in an earlier handoff is given all the same
        given = _contact_given(entities(tracker.events, to_agents_too=True))
        if not receipt.open and given:
            dispatcher.utter_message(response="utter_team_closed_contact", hours=receipt.hours,
                                     contact=given)
        elif not receipt.open:
            dispatcher.utter_message(response="utter_team_closed", hours=receipt.hours)
        elif receipt.agents_online == 0 and given:
            dispatcher.utter_message(response="utter_no_agent_online_contact", contact=given)
        elif receipt.agents_online == 0:
            dispatcher.utter_message(response="utter_no_agent_online")
        else:
            dispatcher.utter_message(response="utter_handoff_queued",
                                     wait=wait_phrase(receipt.expected_wait_seconds),
                                     position=receipt.position)
        return [*_reset(), SlotSet("handoff_id", receipt.handoff_id),
                SlotSet("last_outcome", f"handoff:{decision.reason.value}"), ConversationPaused()]


def _contact_given(entities: list[dict[str, Any]]) -> str | None:
    """The customer's e-mail address (else phone number) from the conversation, masked, as
    the handoff message names it ("your e-mail address (a•••@example.com)"), so that
    nobody is asked for what they already gave."""
    for kind, what in (("email", "e-mail address"), ("phone", "phone number")):
        value = next((str(e.get("value") or "") for e in entities if e.get("entity") == kind
                      and (kind == "email" or WRITTEN_AS_PHONE.search(str(e.get("value"))))),
                     "")
        if value:
            return f"your {what} ({masked_contact(kind, value)})"
    return None


def _agent_asked(last_outcome: object) -> str | None:
    """The handoff whose agent's help the bot asked about at hand-back, if still unanswered
    (``last_outcome`` is ``agent_asked:<handoff id>``)."""
    kind, _, handoff_id = last_outcome.partition(":") if isinstance(last_outcome, str) else (
        "", "", "")
    return handoff_id if kind == AGENT_ASKED and handoff_id else None


def _last_response(tracker: Tracker) -> str | None:
    """The response the bot last said (``utter_...``), if any."""
    for event in reversed(tracker.events):
        if event.get("event") == "bot":
            return (event.get("metadata") or {}).get("utter_action")
    return None


def _outcome(kind: str, moment: str | None) -> EventType:
    """What self-service did, for the managers' dashboard (desk.insight reads it from the
    event stream): ``offered:<moment>``, ``rejected:<moment>`` or ``resolved:<moment>``."""
    return SlotSet("last_outcome", f"{kind}:{moment}" if moment else kind)


def _still_to_come(state: d.State, also: tuple[Moment, ...], taken: str | None) -> list[str]:
    """The other problems the customer mentioned, those waiting and those just heard, in
    order, without the one ``taken`` up now."""
    return [m for m in dict.fromkeys((*state.later, *(a.id for a in also))) if m != taken]


def _reset() -> list[EventType]:
    return [SlotSet("moment", None), SlotSet("offered_articles", []),
            SlotSet("rejected_articles", []), SlotSet("awaiting_feedback", False),
            SlotSet("clarified", False), SlotSet("clarify_choices", []),
            SlotSet("later_moments", [])]
