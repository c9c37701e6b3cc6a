"""What an agent does to a handoff: see, claim, write, transfer, correct, close.

Shared by the JSON API and the WebSocket, so both enforce the same rules: an agent sees
the queues of their skills and what they hold; a supervisor sees everything; only the
holder (or a supervisor) writes to the customer or closes. Every line is stored before the
caller is answered, then announced on the hub and handed to the delivery worker.
"""

from __future__ import annotations

import uuid

from aiohttp import web

from desk import state as s
from desk.corrections import Correction, CorrectionStore
from desk.hub import Hub
from desk.messages import Message, NewMessage
from desk.relay import HAND_BACK_PREFIX
from desk.store import ASSIGNED, CLOSED, HandoffConflict, HandoffNotFound, HandoffRecord
from desk.users import User
from desk.wire import CloseRequest, CorrectionRequest, SendLine, TransferRequest

GENERAL_SKILL = "general"


def sees_all(user: User) -> bool:
    return "supervisor" in user.roles


def skills_of(user: User) -> tuple[str, ...] | None:
    """The queues an agent is routed (None: every queue, for supervisors)."""
    if sees_all(user):
        return None
    return user.skills or (GENERAL_SKILL,)


def may_see(user: User, record: HandoffRecord) -> bool:
    if not user.has_any("agent", "supervisor"):
        return False
    skills = skills_of(user)
    return skills is None or record.skill in skills or record.assignee_id == user.id


async def online_for(app: web.Application, skill: str) -> int:
    """How many agents online can take a handoff of ``skill`` (supervisors take any): a
    customer is promised a wait only by people who will see them in their queue."""
    online = await app[s.PRESENCE].online_ids()
    return sum(1 for user in await app[s.USERS_STORE].all() if user.id in online
               and ((skills := skills_of(user)) is None or skill in skills))


def may_act(user: User, record: HandoffRecord) -> bool:
    return record.status == ASSIGNED and (record.assignee_id == user.id or sees_all(user))


def _refuse_closed(record: HandoffRecord) -> None:
    """A closed conversation is refused as such, not as someone else's."""
    if record.status == CLOSED:
        raise HandoffConflict(record.id, f"this conversation is closed ({record.outcome}): the "
                              "customer is back with the bot")


async def visible_handoff(app: web.Application, user: User, handoff_id: str) -> HandoffRecord:
    """The handoff, or HandoffNotFound when absent *or* hidden (no existence oracle)."""
    record = await app[s.STORE].get(handoff_id)
    if record is None or not may_see(user, record):
        raise HandoffNotFound(handoff_id)
    return record


async def _announce(app: web.Application, record: HandoffRecord, *lines: Message,
                    state_changed: bool = True) -> None:
    """Tells the conversation's viewers; queue pages hear only of state changes (a reply
    must not wake every queue page)."""
    hub = app[s.HUB]
    for line in lines:
        await hub.publish(f"handoff:{record.id}", {"type": "message", "message": line.view()})
    if state_changed:
        await announce_state(hub, record)
    if any(line.speaker in ("agent", "control") for line in lines):
        app[s.RELAY].wake()


async def announce_state(hub: Hub, record: HandoffRecord) -> None:
    """Tells the conversation's viewers its new state, and the queue pages that it moved."""
    await hub.publish(f"handoff:{record.id}", {"type": "handoff", "status": record.status,
                                               "assignee": record.assignee_name,
                                               "outcome": record.outcome,
                                               "status_line": status_line(record)})
    await hub.publish("queue", {"type": "queue"})


async def claim(app: web.Application, user: User, handoff_id: str) -> HandoffRecord:
    record = await visible_handoff(app, user, handoff_id)
    record = await app[s.STORE].claim(record.id, user.id, user.name)
    joined = await app[s.MESSAGES].append([NewMessage(
        # one greeting a claim: taken back after a transfer, it is said again
        key=f"joined:{record.id}:{user.id}:{record.claimed_at}",
        conversation_id=record.conversation_id,
        handoff_id=record.id, speaker="agent", author=user.name,
        text=f"Hi, this is {user.name} from the Northwind Home team. I have everything you "
             "told the assistant; give me a moment to read it.")])
    await _announce(app, record, *joined)
    return record


async def send(app: web.Application, user: User, handoff_id: str, line: SendLine) -> Message:
    """Stores an agent's reply or note (idempotent on ``client_id``); returns the stored line."""
    record = await visible_handoff(app, user, handoff_id)
    if not line.note and not may_act(user, record):
        _refuse_closed(record)
        if record.status == ASSIGNED:
            raise HandoffConflict(record.id, f"{record.assignee_name} holds this conversation: "
                                  "write an internal note, or ask them or a supervisor to "
                                  "transfer it to you")
        raise HandoffConflict(record.id, "claim the conversation before writing to the "
                              "customer")
    key = f"{'note' if line.note else 'agent'}:{user.id}:{line.client_id}"
    stored = await app[s.MESSAGES].append([NewMessage(
        key=key, conversation_id=record.conversation_id, handoff_id=record.id,
        speaker="note" if line.note else "agent", text=line.text, author=user.name)])
    if stored:
        await _announce(app, record, *stored, state_changed=False)
        return stored[0]
    existing = await app[s.MESSAGES].by_key(key)  # a re-send of a stored line: same answer
    if existing is None:
        raise HandoffNotFound(handoff_id)
    return existing


def status_line(record: HandoffRecord) -> str:
    """The status as the conversation page shows it: "assigned (ann)"; once closed, the
    outcome and who held it ("closed: resolved, held by ann"); who closed it is the
    hand-back line's (a supervisor may close an agent's conversation)."""
    if record.status != CLOSED:
        return f"{record.status} ({record.assignee_name})" if record.assignee_name \
            else record.status
    line = f"closed: {record.outcome}" if record.outcome else "closed"
    return f"{line}, held by {record.assignee_name}" if record.assignee_name else line


async def close(app: web.Application, user: User, handoff_id: str,
                request: CloseRequest) -> HandoffRecord:
    """Closes with an outcome and hands the customer back to the bot (delivered in order,
    after every reply the agent sent before)."""
    record = await visible_handoff(app, user, handoff_id)
    if not may_act(user, record):
        _refuse_closed(record)
        raise HandoffConflict(record.id, "only the agent holding it (or a supervisor) may "
                              "close it")
    record = await app[s.STORE].finish(record.id, request.outcome)
    control = await app[s.MESSAGES].append([NewMessage(
        key=f"control:{record.id}:close", conversation_id=record.conversation_id,
        handoff_id=record.id, speaker="control", author=user.name,
        text=f"{HAND_BACK_PREFIX}{request.outcome}")])
    await _announce(app, record, *control)
    return record


async def transfer(app: web.Application, user: User, handoff_id: str,
                   request: TransferRequest) -> HandoffRecord:
    record = await visible_handoff(app, user, handoff_id)
    if not may_act(user, record) and not (record.status == "queued" and sees_all(user)):
        _refuse_closed(record)
        raise HandoffConflict(record.id, "only the agent holding it (or a supervisor) may "
                              "transfer it")
    agent = None
    if request.agent_name is not None:
        target, _ = await app[s.USERS_STORE].password_hash(request.agent_name)
        if target is None or not target.has_any("agent", "supervisor"):
            raise HandoffConflict(record.id, f"no agent named {request.agent_name!r}")
        agent = (target.id, target.name)
    was_talking = record.status == ASSIGNED
    record = await app[s.STORE].transfer(record.id, request.skill, agent)
    key = f"transfer:{record.id}:{uuid.uuid4().hex}"  # each transfer is said, repeats too
    lines = [NewMessage(
        key=f"note:{key}", conversation_id=record.conversation_id, handoff_id=record.id,
        speaker="note", author=user.name,
        text=f"{user.name} transferred this to "
             f"{record.assignee_name or 'the ' + record.skill + ' queue'}.")]
    if was_talking:  # the customer was talking to someone: they hear why the silence
        lines.append(NewMessage(
            key=f"agent:{key}", conversation_id=record.conversation_id, handoff_id=record.id,
            speaker="agent", author=user.name, text=await _passed_on(app, record)))
    stored = await app[s.MESSAGES].append(lines)
    await _announce(app, record, *stored)
    return record


async def _passed_on(app: web.Application, record: HandoffRecord) -> str:
    """What a customer hears of their transfer: to whom, or that nobody of that team is
    there now (then, as at a handoff, they are asked for a contact)."""
    if record.assignee_name:
        return f"I'm passing you to my colleague {record.assignee_name}, who will reply here."
    if await online_for(app, record.skill):
        return ("I'm passing you to a colleague who can help with this; they will reply here "
                "as soon as they can.")
    return ("I'm passing you to a colleague who can help with this. Nobody from that team is "
            "available right now: please leave an e-mail address or phone number here, and "
            "they will get back to you.")


async def correct(app: web.Application, user: User, handoff_id: str,
                  request: CorrectionRequest) -> Correction:
    record = await visible_handoff(app, user, handoff_id)
    correction = await CorrectionStore(app[s.STORE].engine).add(
        record.id, record.conversation_id, request.text, record.moment, request.moment,
        user.id)
    await app[s.STORE].set_moment(record.id, request.moment)
    return correction
