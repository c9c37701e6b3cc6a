"""Contact details left while a handoff waits: acknowledged once, so nobody wonders.

With nobody online, or out of hours, the assistant asks the customer to leave an e-mail
address or phone number and keeps the bot paused. A customer who then leaves one heard
nothing back and could not tell whether it had arrived. While a handoff is still queued
(no agent has taken it), the first customer line holding an e-mail address or a phone
number gets one automatic line back, naming it in part ("a•••@example.com", "••• 123")
so that a typo shows. The line's key is the handoff's, so however often the event is
delivered, and on however many desk replicas, it is stored, and sent, once.

A phone number counts only when written as one (with +, a leading 0 or bracket, or
spaces, dots or dashes between groups): a bare run of digits is as likely an order
number.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.entities import Span
from bot.pii import WRITTEN_AS_PHONE, masked_contact
from desk.messages import Message, NewMessage
from desk.store import QUEUED, HandoffRecord

#: The speaker of lines the desk sends by itself (desk.messages.SPEAKERS).
AUTO = "auto"
#: Finds each text's personal data (desk.nlu_export.LazyRedactor.personal_data).
PersonalData = Callable[[list[str]], Awaitable[list[list[Span]]]]


def contact(spans: list[Span]) -> Span | None:
    """The first e-mail address or phone number written as one, if any."""
    return next((s for s in spans if s.label == "email" or (
        s.label == "phone" and WRITTEN_AS_PHONE.search(s.text.strip()))), None)


def masked(span: Span) -> str:
    """Enough of a contact detail to recognise it, not to read it out."""
    return masked_contact(span.label, span.text)


def acknowledgement(span: Span) -> str:
    what = "e-mail address" if span.label == "email" else "phone number"
    return (f"Thank you, we have your {what} ({masked(span)}). Someone from our team will "
            "reply here, or contact you there, as soon as they can.")


async def acknowledge(stored: list[Message],
                      open_handoff: Callable[[str, float], Awaitable[HandoffRecord | None]],
                      personal_data: PersonalData) -> list[NewMessage]:
    """The automatic lines that newly stored customer lines call for (at most one a
    handoff, keyed by it)."""
    waiting: list[tuple[Message, HandoffRecord]] = []
    for line in stored:
        if line.speaker != "customer" or line.handoff_id is None:
            continue
        # the handoff the line was tagged with, as the ingestor found it
        handoff = await open_handoff(line.conversation_id, line.at)
        if handoff is not None and handoff.status == QUEUED:
            waiting.append((line, handoff))
    if not waiting:
        return []
    found = await personal_data([line.text for line, _ in waiting])
    replies: dict[str, NewMessage] = {}
    for (line, handoff), spans in zip(waiting, found, strict=True):
        detail = contact(spans)
        if detail is not None and handoff.id not in replies:
            replies[handoff.id] = NewMessage(
                key=f"contact-noted:{handoff.id}", conversation_id=line.conversation_id,
                handoff_id=handoff.id, speaker=AUTO, text=acknowledgement(detail),
                channel=line.channel)
    return list(replies.values())
