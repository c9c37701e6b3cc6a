"""``action_handle_turn`` replayed on recorded action calls (tests/data/trackers).

The calls were recorded from the running assistant with MOT_RECORD_ACTION_CALLS; here
they run against a deterministic index (hashing embedder) and a recording desk.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from actions.desk_client import RecordingDeskClient
from actions.server import build_executor
from desk.packet import HandoffPacket
from knowledge.embedder import HashingEmbedder
from knowledge.retriever import Retriever
from knowledge.snapshot import build_snapshot
from tests.conftest import REPO

TRACKERS = Path(__file__).resolve().parents[1] / "data" / "trackers"


def recorded(name: str) -> dict:
    return json.loads((TRACKERS / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture
def desk() -> RecordingDeskClient:
    return RecordingDeskClient()


class CountingEmbedder(HashingEmbedder):
    """Counts the texts the action server encodes itself."""

    def __init__(self) -> None:
        super().__init__(384)  # recorded calls carry 384-d message embeddings
        self.encoded: list[str] = []

    def encode(self, texts):  # type: ignore[no-untyped-def]
        self.encoded += list(texts)
        return super().encode(texts)


@pytest.fixture
def embedder() -> CountingEmbedder:
    return CountingEmbedder()


@pytest.fixture
def run(catalogue, articles, desk, embedder):  # type: ignore[no-untyped-def]
    executor = build_executor(catalogue, Retriever(build_snapshot(articles, embedder), embedder),
                              desk)

    async def call(name: str, edited: dict | None = None) -> tuple[list[dict], dict[str, object]]:
        """Runs the recorded call ``name``, or ``edited``, a changed copy of it."""
        result = await executor.run(edited or recorded(name))
        slots = {e["name"]: e["value"] for e in result["events"] if e["event"] == "slot"}
        outcomes = [e["value"] for e in result["events"]
                    if e["event"] == "slot" and e["name"] == "last_outcome"]
        return result["responses"], {**slots, "_events": [e["event"] for e in result["events"]],
                                     "_outcomes": outcomes}

    return call


async def test_confident_moment_offers_its_article_with_feedback_buttons(run) -> None:
    responses, slots = await run("answer-1")
    assert len(responses) == 1
    assert "Did this solve it?" in responses[0]["text"]
    assert [b["payload"] for b in responses[0]["buttons"]] == ["/affirm", "/deny",
                                                               "/request_human"]
    assert slots["moment"] == "parcel_late"
    assert slots["offered_articles"][0] in {"parcel-late-track", "parcel-late-claim"}
    assert slots["awaiting_feedback"] is True
    assert slots["_outcomes"] == ["offered:parcel_late"]  # for the managers' dashboard


@pytest.mark.parametrize(("encoder", "encoded"), [
    ("hashing-384", 0),  # the index's own weights made it: used as it is
    ("0123456789abcdef", 1),  # other weights (say the original's): encoded here
    (None, 1),  # recorded before identities
])
async def test_the_nlus_embedding_is_used_only_when_the_index_weights_made_it(
        run, embedder, encoder: str | None, encoded: int) -> None:
    call = recorded("answer-1")
    message = next(e for e in reversed(call["tracker"]["events"]) if e["event"] == "user")
    assert message["parse_data"]["text_embedding"]
    message["parse_data"]["text_embedding_encoder"] = encoder
    embedder.encoded.clear()
    responses, slots = await run("answer-1", call)
    assert [t.lower() for t in embedder.encoded] == [
        "my parcel is 5 days late, order nw-123456"] * encoded
    assert slots["moment"] == "parcel_late" and "Did this solve it?" in responses[0]["text"]


async def test_a_message_naming_another_company_gets_asked_about_it(run) -> None:
    call = recorded("answer-1")  # "My parcel is 5 days late, order NW-123456", parcel_late
    message = next(e for e in reversed(call["tracker"]["events"]) if e["event"] == "user")
    for parse in (message["parse_data"], call["tracker"]["latest_message"]):
        parse["text"] = "my amazon parcel is 5 days late"
        parse["entities"] = [{"entity": "other_company", "value": "Amazon"}]
    responses, slots = await run("answer-1", call)
    assert responses[0]["response"] == "utter_clarify_other_company"
    assert responses[0]["company"] == "Amazon"
    assert responses[0]["buttons"][0]["payload"] == "/parcel_late"
    assert slots["clarified"] is True


async def test_yes_resolves_and_keeps_the_moment_for_a_change_of_mind(run) -> None:
    responses, slots = await run("answer-2")
    assert responses[0]["response"] == "utter_resolved"
    assert slots["_outcomes"] == ["resolved:parcel_late"] and slots["awaiting_feedback"] is False
    assert "offered_articles" not in slots and "moment" not in slots  # kept as they were


def after_answer(text: str, intent: str, **slots: object) -> dict:
    """The recorded call "answer-2" ("yes that worked thanks", the article question closed),
    its latest message replaced by ``text`` at ``intent``, with these ``slots`` set too."""
    call = recorded("answer-2")
    tracker = call["tracker"]
    tracker["slots"].update({"moment": None, "offered_articles": [], "awaiting_feedback": False,
                             **slots})
    tracker["latest_message"].update(text=text, intent={"name": intent, "confidence": 0.99})
    return call


@pytest.mark.parametrize(("text", "response"), [
    ("how long does that take?", "utter_follow_up"), ("NW-482913", "utter_follow_up_reference"),
    ("ok ill try that", "utter_will_try"), ("hmm", "utter_ask_if_solved")])
async def test_a_reply_that_is_no_answer_keeps_the_question_open(run, text: str,
                                                                 response: str) -> None:
    call = after_answer(text, "affirm", moment="parcel_late",
                        offered_articles=["parcel-late-track"], awaiting_feedback=True)
    responses, slots = await run("answer-2", call)
    assert responses[0]["response"] == response
    payloads = [b["payload"] for b in responses[0]["buttons"]]
    assert sorted(payloads) == ["/affirm", "/deny", "/request_human"]
    if response.startswith("utter_follow_up"):  # a person first: they can answer it
        assert payloads[0] == "/request_human"
        assert responses[0]["moment_title"] == "Where is my order / parcel late"
    assert slots["_outcomes"] == [] and "awaiting_feedback" not in slots  # still open


async def test_solved_with_a_goodbye_is_recorded_and_asks_nothing_more(run) -> None:
    call = after_answer("thanks bye", "thanks", moment="parcel_late",
                        offered_articles=["parcel-late-track"], awaiting_feedback=True)
    responses, slots = await run("answer-2", call)
    assert responses[0]["response"] == "utter_resolved_goodbye"
    assert slots["_outcomes"] == ["resolved:parcel_late"]


async def test_no_to_anything_else_says_goodbye_rather_than_handing_off(run, desk) -> None:
    call = after_answer("no", "deny")  # after the bot asked "anything else?"
    tracker = call["tracker"]
    tracker["events"].append({"event": "bot", "timestamp": tracker["latest_event_time"] + 1,
                              "text": "Glad that sorted it. Is there anything else I can "
                                      "help with?",
                              "metadata": {"utter_action": "utter_resolved"}})
    responses, _ = await run("answer-2", call)
    assert responses[0]["response"] == "utter_goodbye" and not desk.packets


#: An agent has just closed handoff h-7 as resolved and the bot asked "did we sort it out?".
ASKED = {"last_outcome": "agent_asked:h-7"}


async def test_a_second_problem_is_promised_then_offered_once_the_first_is_solved(
        run, catalogue, embedder) -> None:  # type: ignore[no-untyped-def]
    call = recorded("answer-1")  # "My parcel is 5 days late, order NW-123456", parcel_late
    message = next(e for e in reversed(call["tracker"]["events"]) if e["event"] == "user")
    for parse in (message["parse_data"], call["tracker"]["latest_message"]):
        parse["moment_clauses"] = [
            {"text": "My parcel is 5 days late", "name": "parcel_late", "confidence": 0.97},
            {"text": "i was charged twice", "name": "charged_twice", "confidence": 0.95}]
    responses, slots = await run("answer-1", call)
    title = catalogue["charged_twice"].title
    assert responses[0]["text"].startswith(f"You also mentioned “{title}”")
    assert slots["moment"] == "parcel_late" and slots["later_moments"] == ["charged_twice"]

    solved = recorded("answer-2")  # "yes that worked thanks" to the parcel_late article
    solved["tracker"]["slots"]["later_moments"] = ["charged_twice"]
    responses, slots = await run("answer-2", solved)
    assert responses[0]["response"] == "utter_resolved_also"
    assert responses[0]["moment_title"] == title
    assert [b["payload"] for b in responses[0]["buttons"]] == ["/charged_twice", "/deny"]
    assert slots["_outcomes"] == ["resolved:parcel_late"]
    domain = yaml.safe_load((REPO / "bot" / "domain" / "core.yml").read_text(encoding="utf-8"))
    assert "{moment_title}" in domain["responses"]["utter_resolved_also"][0]["text"]
    assert domain["slots"]["later_moments"]["type"] == "list"

    taken_up = after_answer("yes", "affirm", later_moments=["charged_twice"])
    tracker = taken_up["tracker"]
    tracker["slots"]["moment"] = "parcel_late"
    first = next(e for e in tracker["events"] if e["event"] == "user")
    first["parse_data"] = {**(first.get("parse_data") or {}), "moment_clauses": [
        {"text": "i was charged twice", "name": "charged_twice", "confidence": 0.97}]}
    tracker["events"].append({"event": "bot", "timestamp": tracker["latest_event_time"] + 1,
                              "text": "Glad that sorted it. You also mentioned ...",
                              "metadata": {"utter_action": "utter_resolved_also"}})
    embedder.encoded.clear()
    responses, slots = await run("answer-2", taken_up)
    assert "Did this solve it?" in responses[0]["text"] and slots["moment"] == "charged_twice"
    assert slots["later_moments"] == [] and embedder.encoded == ["i was charged twice"]

    declined = after_answer("no thats all", "deny", later_moments=["charged_twice"])
    tracker = declined["tracker"]
    tracker["events"].append({"event": "bot", "timestamp": tracker["latest_event_time"] + 1,
                              "text": "Glad that sorted it. You also mentioned ...",
                              "metadata": {"utter_action": "utter_resolved_also"}})
    responses, slots = await run("answer-2", declined)
    assert responses[0]["response"] == "utter_goodbye" and slots["later_moments"] == []


@pytest.mark.parametrize(("intent", "response", "outcome"), [
    ("affirm", "utter_agent_helped", "agent_helped:h-7"),
    ("deny", "utter_agent_did_not_help", "agent_unhelped:h-7")])
async def test_the_customers_answer_about_the_agents_help_is_recorded(
        run, desk, intent: str, response: str, outcome: str) -> None:
    responses, slots = await run("answer-2", after_answer("/" + intent, intent, **ASKED))
    assert [r["response"] for r in responses] == [response] and not desk.packets
    assert slots["_outcomes"] == [outcome]


async def test_the_question_about_the_agents_help_lapses_with_any_other_message(run) -> None:
    responses, slots = await run("answer-2", after_answer("hello", "greet", **ASKED))
    assert responses[0]["response"] == "utter_greet"
    assert slots["_outcomes"] == [None]  # a later "yes" is no longer about the agent


async def test_no_offers_the_next_article_of_the_same_moment(run) -> None:
    responses, slots = await run("deny-2")
    assert "Let's try something else" in responses[0]["text"]
    assert slots["offered_articles"] == ["charged-twice-refund", "charged-twice-pending"]
    assert slots["rejected_articles"] == ["charged-twice-refund"]
    assert slots["_outcomes"] == ["rejected:charged_twice", "offered:charged_twice"]


async def test_no_more_articles_hands_off_with_the_full_context(run, desk) -> None:
    responses, slots = await run("deny-3")
    assert responses[0]["response"] == "utter_handoff_queued"
    assert "pause" in slots["_events"]
    assert slots["_outcomes"] == ["rejected:charged_twice", "handoff:article_rejected"]
    packet: HandoffPacket = desk.packets[0]
    assert packet.reason == "article_rejected" and packet.moment == "charged_twice"
    assert packet.skill == "billing" and packet.priority == 3
    assert [(a.id, a.feedback) for a in packet.articles_offered] == [
        ("charged-twice-refund", "rejected"), ("charged-twice-pending", "rejected")]
    assert [line.speaker for line in packet.transcript][:2] == ["customer", "bot"]
    # the agent sees what the customer could choose from: "no" means something beside it
    assert packet.transcript[1].text.endswith(
        "[buttons: Yes, solved · No, still stuck · Talk to a person]")
    assert packet.top_moments[0].id == "charged_twice"
    HandoffPacket.from_json(packet.to_json())  # valid against the wire schema


async def test_a_promised_second_problem_reaches_the_agent(run, desk) -> None:  # type: ignore[no-untyped-def]
    call = recorded("deny-3")  # no article left for charged_twice: a person
    call["tracker"]["slots"]["later_moments"] = ["parcel_late"]
    responses, slots = await run("deny-3", call)
    assert responses[0]["response"] == "utter_handoff_queued"
    packet: HandoffPacket = desk.packets[0]
    assert packet.moment == "charged_twice"
    assert packet.metadata == {"also_mentioned": ["parcel_late"]}
    assert slots["later_moments"] == []  # the person takes both
    HandoffPacket.from_json(packet.to_json())


async def test_unsure_asks_one_clarifying_question(run) -> None:
    responses, slots = await run("unsure-1")
    assert responses[0]["response"] == "utter_clarify"
    payloads = [b["payload"] for b in responses[0]["buttons"]]
    assert len(payloads) == 4 and payloads[-1] == "/request_human"
    assert slots["clarified"] is True
    assert slots["clarify_choices"] == [p[1:] for p in payloads[:-1]]


async def test_a_message_about_none_of_the_moments_hears_what_the_bot_can_do(run) -> None:
    call = recorded("unsure-1")
    for parse in (call["tracker"]["latest_message"],
                  next(e for e in reversed(call["tracker"]["events"])
                       if e["event"] == "user")["parse_data"]):
        parse["text"] = "what can you do?"
        parse["intent"] = {"name": "out_of_scope", "confidence": 0.9}
        parse["intent_ranking"] = [parse["intent"], {"name": "parcel_late", "confidence": 0.02}]
    responses, slots = await run("unsure-1", call)
    assert responses[0]["response"] == "utter_clarify_out_of_scope"
    assert [b["payload"] for b in responses[0]["buttons"]] == ["/parcel_late", "/request_human"]
    assert slots["clarified"] is True


async def test_a_chosen_moment_uses_the_customers_own_words(run) -> None:
    responses, slots = await run("unsure-2")
    assert slots["moment"] == "parcel_late" and "Did this solve it?" in responses[0]["text"]


async def test_policy_handoff_for_an_always_person_moment(run, desk) -> None:
    responses, _ = await run("hacked-1")
    assert responses[0]["response"] == "utter_handoff_queued"
    assert desk.packets[0].reason == "policy" and desk.packets[0].priority == 4


async def test_desk_down_is_said_honestly(catalogue, articles) -> None:
    embedder = HashingEmbedder(384)
    executor = build_executor(catalogue, Retriever(build_snapshot(articles, embedder), embedder),
                              RecordingDeskClient(fail=True))
    result = await executor.run(recorded("hacked-1"))
    assert result["responses"][0]["response"] == "utter_handoff_unavailable"
    assert not any(e["event"] == "pause" for e in result["events"])


async def test_no_agent_online_tells_the_customer_and_asks_for_a_contact(catalogue,
                                                                         articles) -> None:
    embedder = HashingEmbedder(384)
    desk = RecordingDeskClient(agents_online=0)
    executor = build_executor(catalogue, Retriever(build_snapshot(articles, embedder), embedder),
                              desk)
    result = await executor.run(recorded("hacked-1"))
    assert result["responses"][0]["response"] == "utter_no_agent_online"
    assert desk.packets and any(e["event"] == "pause" for e in result["events"])


@pytest.mark.parametrize(("entities", "open_", "response", "contact"), [
    ([{"entity": "email", "value": "ann.smith@example.com"}], True,
     "utter_no_agent_online_contact", "your e-mail address (a•••@example.com)"),
    ([{"entity": "phone", "value": "+44 7700 900123"}], False,
     "utter_team_closed_contact", "your phone number (••• 123)"),
    ([{"entity": "phone", "value": "12345678"}], True,  # a digit run, not written as a phone
     "utter_no_agent_online", None)])
async def test_a_contact_already_given_is_not_asked_for_again(  # type: ignore[no-untyped-def]
        catalogue, articles, entities, open_, response, contact) -> None:
    embedder = HashingEmbedder(384)
    desk = RecordingDeskClient(agents_online=0, open=open_, hours="mon-fri 08:00-18:00")
    executor = build_executor(catalogue, Retriever(build_snapshot(articles, embedder), embedder),
                              desk)
    tracker = recorded("hacked-1")
    last_user = next(e for e in reversed(tracker["tracker"]["events"]) if e["event"] == "user")
    last_user["parse_data"]["entities"] = entities
    said = (await executor.run(tracker))["responses"][0]
    assert said["response"] == response and said.get("contact") == contact


async def test_out_of_hours_the_customer_hears_the_hours(catalogue, articles) -> None:
    embedder = HashingEmbedder(384)
    desk = RecordingDeskClient(agents_online=0, open=False,
                               hours="mon-fri 08:00-18:00, Europe/Berlin time")
    executor = build_executor(catalogue, Retriever(build_snapshot(articles, embedder), embedder),
                              desk)
    result = await executor.run(recorded("hacked-1"))
    response = result["responses"][0]
    assert response["response"] == "utter_team_closed"
    assert response["hours"] == "mon-fri 08:00-18:00, Europe/Berlin time"
    assert desk.packets and any(e["event"] == "pause" for e in result["events"])


async def test_desk_down_with_an_outbox_keeps_the_handoff(catalogue, articles,
                                                          tmp_path: Path) -> None:
    from actions.outbox import Outbox, OutboxDeskClient

    embedder = HashingEmbedder(384)
    outbox = Outbox(tmp_path / "outbox.db")
    client = OutboxDeskClient(RecordingDeskClient(fail=True), outbox)
    executor = build_executor(catalogue, Retriever(build_snapshot(articles, embedder), embedder),
                              client)
    result = await executor.run(recorded("hacked-1"))
    assert result["responses"][0]["response"] == "utter_handoff_saved"
    assert any(e["event"] == "pause" for e in result["events"])


def test_a_later_handoff_is_about_what_the_customer_told_the_bot(catalogue) -> None:  # type: ignore[no-untyped-def]
    """Lines written to an agent during an earlier handoff (the conversation paused) neither
    set the next handoff's moment nor its entities; the agent's own lines show as the
    agent's; an unsure guess does not route the handoff."""
    from actions.handoff import build_packet

    def said(text: str, intent: str, confidence: float, **entity: str) -> dict:
        return {"event": "user", "text": text, "timestamp": 1.0, "input_channel": "rest",
                "parse_data": {"text": text, "intent_ranking": [
                    {"name": intent, "confidence": confidence}],
                    "entities": [{"entity": k, "value": v} for k, v in entity.items()]}}

    events = [said("my parcel is late", "parcel_late", 0.9), {"event": "pause"},
              {"event": "bot", "text": "Hi, this is Ann", "timestamp": 2.0,
               "metadata": {"mot_desk_key": "k1", "agent": "ann"}},
              said("can they deliver tomorrow morning? bob@example.com", "delivery_slot_booking",
                   0.94, date="tomorrow", email="bob@example.com"),
              {"event": "resume"}]
    latest = said("I want a person", "request_human", 0.6)
    packet = build_packet(catalogue=catalogue, conversation_id="c", channel="rest",
                          events=[*events, latest], latest_message=latest["parse_data"],
                          reason="customer_asked", moment=None, offered=[], feedback={})
    assert packet.moment == "parcel_late" and packet.entities == []
    # ... though an e-mail address left with the agent is not asked for again
    from actions.handoff import entities
    assert {"entity": "email", "value": "bob@example.com"} in entities(
        [*events, latest], to_agents_too=True)
    assert [line.speaker for line in packet.transcript] == [
        "customer", "agent", "customer", "customer"]
    guess = said("whats the weather", "personal_data_request", 0.0008)
    unsure = build_packet(catalogue=catalogue, conversation_id="c", channel="rest",
                          events=[guess], latest_message=guess["parse_data"],
                          reason="low_confidence", moment=None, offered=[], feedback={})
    assert unsure.moment is None and unsure.skill == "general"
    # nor by a guess under the moment's own threshold ("put me through to customer service"
    # read as an escalation at 0.74, under 0.84): not the complaints queue at priority 4
    person = said("put me through to customer service", "escalation", 0.739)
    asked = build_packet(catalogue=catalogue, conversation_id="c", channel="rest",
                         events=[person], latest_message=person["parse_data"],
                         reason="customer_asked", moment=None, offered=[], feedback={})
    assert asked.moment is None and asked.skill == "general"
