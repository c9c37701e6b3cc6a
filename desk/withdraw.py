"""A customer who no longer wants a person, said before anyone took the conversation.

"nvm it just arrived", "actually cancel that, i dont need a person", "can i go back to the
bot": while the handoff is still queued, such a line closes it as ``withdrawn`` and hands
the customer back to the bot, which says so (``utter_handoff_withdrawn``). Before, the line
waited in the queue with the rest, and a customer with nobody online heard nothing back.
Once an agent holds the conversation, the agent decides: the line is in their chat.

The handoff is closed only if it is still queued at that moment (one conditional update),
and the hand-back line's key is the handoff's, so however often the event is delivered,
and on however many desk replicas, the customer is handed back once; a replica that closed
it and stopped before storing the hand-back leaves it to the event's next delivery (the
broker's, or reconciliation's), which stores it for the handoff withdrawn.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from desk.contact import AUTO
from desk.messages import Message, NewMessage
from desk.relay import HAND_BACK_PREFIX
from desk.store import QUEUED, WITHDRAWN, HandoffRecord, SqlHandoffStore

#: A withdrawal in so many words; nothing that goes on to a problem ("never mind, it
#: arrived but it's broken", "cancel that, i want a refund instead") or asks for a person.
_WITHDRAWS = re.compile(
    r"^\W*((ok(ay)?|actually|oh|sorry|ah|no|wait|thanks?)\W+)*"
    r"(nvm|never ?mind|cancel (that|this|the request|my request)|forget (it|that)"
    r"|no need( for (a person|an agent|that))?"
    r"|(i )?(do ?n'?t|do not|no longer) need (a |an |the )?(person|agent|someone|anyone|human"
    r"|help|callback|call back)( any ?more| now)?"
    r"|(i'?ll|ill|i will|let me) go back to the (bot|assistant)"
    r"|(can|could) i go back to the (bot|assistant)"
    r"|(it'?s|its|it has|it) (just )?(arrived|turned up|come|came|here now|been delivered)"
    r"|(i'?ve|ive|i have|i) (just )?(sorted|fixed|found|solved) (it|them|the answer)( myself)?"
    r"|(it'?s|its) (all )?(fine|ok|okay|sorted)( now)?|all good( now)?|wrong button"
    r"|(the )?(parcel|order|it|code|app) (has )?(just )?(turned up|arrived|came|worked|works))"
    r"\b",
    re.IGNORECASE,
)
#: ... unless the rest of the line names a problem or asks for something after all.
_BUT = re.compile(
    r"\b(but|broken|damaged|wrong|missing|still|refund\w*|charged|instead|want|wanna"
    r"|(?<!n't )(?<!dont )(?<!do not )(?<!no longer )need|speak|talk|call me|ring me|phone me"
    r"|how|why|where|what)\b|\?",
    re.IGNORECASE,
)


def withdraws(text: str) -> bool:
    """Whether a customer's line withdraws their request for a person, and says nothing
    more that asks for something ("nvm it just arrived", not "nvm, it arrived but its
    broken")."""
    found = _WITHDRAWS.match(text)
    return found is not None and not _BUT.search(text[found.end():])


async def withdraw(stored: list[Message],
                   open_handoff: Callable[[str, float], Awaitable[HandoffRecord | None]],
                   store: SqlHandoffStore) -> tuple[list[NewMessage], list[HandoffRecord]]:
    """The lines that newly stored customer lines call for by withdrawing a queued handoff
    (its hand-back, a note for the desk), and the handoffs so closed."""
    lines: list[NewMessage] = []
    closed: list[HandoffRecord] = []
    for line in stored:
        if line.speaker != "customer" or line.handoff_id is None or not withdraws(line.text):
            continue
        handoff = await open_handoff(line.conversation_id, line.at)
        if handoff is None or not (handoff.status == QUEUED or handoff.outcome == WITHDRAWN):
            continue
        record = await store.withdraw(handoff.id) if handoff.status == QUEUED else None
        if record is None:  # taken meanwhile, or withdrawn already (another replica, or
            # this one before a crash left the hand-back unstored): the lines, if withdrawn
            record = await store.get(handoff.id)
            if record is None or record.outcome != WITHDRAWN:
                continue
        closed.append(record)
        lines.append(NewMessage(
            key=f"withdrawn:{record.id}", conversation_id=record.conversation_id,
            handoff_id=record.id, speaker="note", author=AUTO,
            text="The customer withdrew the request for a person before anyone took it; "
                 "they are back with the assistant."))
        lines.append(NewMessage(
            key=f"control:{record.id}:close", conversation_id=record.conversation_id,
            handoff_id=record.id, speaker="control", author="customer",
            text=f"{HAND_BACK_PREFIX}{WITHDRAWN}"))
    return lines, closed
