"""Single customer view: one customer behind several channel identities.

Each handoff's conversation identity (its Rasa channel and sender id) gets a *customer key*
in ``desk_identity_links``; so do the identifiers its channel vouches for (the packet's
``identity``: a signed-in account id, a verified e-mail or phone), under the reserved
channels ``@account``, ``@email`` and ``@phone``. Conversations sharing any of them share
a key, so the agent sees the customer's earlier conversations on every channel.

Only strong identifiers link on their own. An e-mail or phone number the customer *typed*
proves nothing (anyone can type someone else's address and would then read their
history), so it is only kept in ``desk_typed_identifiers`` and offered to the agent as a
hint, "possibly the same customer", which the agent holding the conversation or a
supervisor may confirm (audited). Two different signed-in accounts are never merged: when
a shared browser session turns up under a second account, the session moves to it.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from desk import audit
from desk.packet import HandoffPacket
from desk.tables import handoffs, identity_links, insert_ignoring_duplicates, typed_identifiers
from desk.users import User
from desk.wire import RequestInvalid

ACCOUNT, EMAIL, PHONE = "@account", "@email", "@phone"
TYPED_KINDS = {"email": EMAIL, "phone": PHONE}
HINT_LABELS = {"email": "possibly the same customer (e-mail typed in chat)",
               "phone": "possibly the same customer (phone number typed in chat)"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: (channel, sender id, source) of one identity to link.
Identity = tuple[str, str, str]


def normal_email(text: str) -> str | None:
    value = text.strip().lower()
    return value if _EMAIL.match(value) and len(value) <= 320 else None


def normal_phone(text: str) -> str | None:
    """Digits with a leading '+' kept: "+44 20 7946-0958" and "+442079460958" match."""
    digits = re.sub(r"\D", "", text)
    if not 7 <= len(digits) <= 20:
        return None
    return ("+" if text.strip().startswith("+") else "") + digits


def strong_identities(packet: HandoffPacket) -> list[Identity]:
    """The conversation's own identity first, then what its channel vouches for."""
    found: list[Identity] = [(packet.channel, packet.customer_id, "conversation")]
    vouched = packet.identity
    if vouched is None:
        return found
    if vouched.customer_key:
        found.append((ACCOUNT, vouched.customer_key.strip(), "channel_account"))
    email = normal_email(vouched.verified_email or "")
    if email:
        found.append((EMAIL, email, "verified_email"))
    phone = normal_phone(vouched.verified_phone or "")
    if phone:
        found.append((PHONE, phone, "verified_phone"))
    return found


def typed_in_chat(packet: HandoffPacket) -> list[tuple[str, str]]:
    """(kind, normalised value) of each e-mail and phone entity the customer typed."""
    found: dict[tuple[str, str], None] = {}
    for entity in packet.entities:
        kind, raw = entity.get("entity"), str(entity.get("value") or "")
        value = (normal_email(raw) if kind == "email"
                 else normal_phone(raw) if kind == "phone" else None)
        if kind in TYPED_KINDS and value:
            found[(str(kind), value)] = None
    return list(found)


@dataclass(frozen=True)
class SameCustomerHint:
    """Another customer the agent may confirm as this one."""

    kind: str                          # email | phone
    value: str                         # normalised, as the customer typed it
    customer_keys: tuple[str, ...]
    conversations: int                 # their handoffs, every channel

    @property
    def label(self) -> str:
        return HINT_LABELS[self.kind]

    def view(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value, "label": self.label,
                "conversations": self.conversations}


class IdentityLinks:
    """The links in the desk database (SQLite or PostgreSQL, same code)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def link_packet(self, packet: HandoffPacket) -> str:
        """Links the packet's strong identities; records what was typed; returns the key.

        Concurrent handoffs (two desk replicas) may race on a new identity; a second pass
        then finds both keys and merges them.
        """
        identities = strong_identities(packet)
        account = next((v for c, v, _ in identities if c == ACCOUNT), None)
        typed = [{"kind": k, "value": v, "channel": packet.channel,
                  "sender_id": packet.customer_id, "at": time.time()}
                 for k, v in typed_in_chat(packet)]
        async with self._engine.begin() as connection:
            key = await _link(connection, identities, account, "")
            if typed:
                await connection.execute(
                    insert_ignoring_duplicates(self._engine, typed_identifiers), typed)
        async with self._engine.connect() as connection:
            raced = len({r.customer_key for r in await _rows(connection, identities)}) > 1
        if raced:  # or two accounts, which the second pass leaves apart again
            async with self._engine.begin() as connection:
                key = await _link(connection, identities, account, "")
        return key

    async def key_of(self, channel: str, sender_id: str) -> str | None:
        async with self._engine.connect() as connection:
            return await _key_of(connection, channel, sender_id)

    async def hints(self, channel: str, sender_id: str) -> list[SameCustomerHint]:
        """Other customers sharing an e-mail or phone this conversation's customer typed."""
        async with self._engine.connect() as connection:
            return await _hints(connection, channel, sender_id)

    async def confirm(self, channel: str, sender_id: str, kind: str, value: str,
                      actor: User, handoff_id: str) -> str:
        """Joins this conversation's customer with the hint's (an agent's judgement).

        Raises:
            RequestInvalid: no such hint for this conversation (nothing is changed).
        """
        async with self._engine.begin() as connection:
            hint = next((h for h in await _hints(connection, channel, sender_id)
                         if (h.kind, h.value) == (kind, value)), None)
            if hint is None:
                raise RequestInvalid(f"no 'possibly the same customer' hint for {kind} "
                                     f"{value!r} in this conversation")
            own = await _key_of(connection, channel, sender_id)
            key = await _link(connection, [(channel, sender_id, "agent_confirmed")], None,
                              actor.id) if own is None else own
            await _merge(connection, key, set(hint.customer_keys))
            await audit.write(connection, actor, "identity.confirm", f"handoff:{handoff_id}",
                              {"kind": kind, "channel": channel, "sender_id": sender_id,
                               "customer_key": key, "merged": sorted(hint.customer_keys)})
        return key


async def _rows(connection: AsyncConnection, identities: Sequence[Identity]) -> list[Any]:
    wanted = sa.or_(*(sa.and_(identity_links.c.channel == c, identity_links.c.sender_id == s)
                      for c, s, _ in identities))
    return list((await connection.execute(sa.select(identity_links).where(wanted))).all())


async def _accounts(connection: AsyncConnection, keys: Iterable[str]) -> dict[str, str]:
    """customer key -> its signed-in account id, for those that have one."""
    rows = (await connection.execute(sa.select(identity_links).where(
        identity_links.c.channel == ACCOUNT,
        identity_links.c.customer_key.in_(list(keys))))).all()
    return {r.customer_key: r.sender_id for r in rows}


async def _key_of(connection: AsyncConnection, channel: str, sender_id: str) -> str | None:
    return (await connection.execute(sa.select(identity_links.c.customer_key).where(
        identity_links.c.channel == channel,
        identity_links.c.sender_id == sender_id))).scalar_one_or_none()


async def _link(connection: AsyncConnection, identities: Sequence[Identity],
                account: str | None, linked_by: str) -> str:
    """Gives every identity one key, merging keys unless they hold different accounts."""
    rows = sorted(await _rows(connection, identities),
                  key=lambda r: (r.linked_at, r.customer_key))
    accounts = await _accounts(connection, {r.customer_key for r in rows})
    target = _target(rows, accounts, account, identities[0])
    await _merge(connection, target, {k for k in {r.customer_key for r in rows}
                                      if accounts.get(k) in (None, accounts.get(target))})
    own = identities[0][:2]
    for row in rows:  # a shared session seen under another account now: it moves
        if account and (row.channel, row.sender_id) == own and accounts.get(
                row.customer_key) not in (None, account):
            await connection.execute(identity_links.update().where(
                identity_links.c.channel == row.channel,
                identity_links.c.sender_id == row.sender_id).values(customer_key=target))
    present = {(r.channel, r.sender_id) for r in rows}
    missing = [{"channel": c, "sender_id": s, "customer_key": target, "source": source,
                "linked_by": linked_by, "linked_at": time.time()}
               for c, s, source in identities if (c, s) not in present]
    if missing:
        await connection.execute(
            insert_ignoring_duplicates(connection.engine, identity_links), missing)
    return target


def _target(rows: Sequence[Any], accounts: dict[str, str], account: str | None,
            own: Identity) -> str:
    """The key to keep: the account's; else the oldest one that holds no other account."""
    if account is None and len(set(accounts.values())) == 1:
        account = next(iter(accounts.values()))
    if account is not None:
        for key, holder in accounts.items():
            if holder == account:
                return key
        rows = [r for r in rows if r.customer_key not in accounts]
    elif accounts:  # several accounts, never merged: keep the conversation's own key
        rows = [r for r in rows if (r.channel, r.sender_id) == own[:2]] or rows[:1]
    return str(rows[0].customer_key) if rows else uuid.uuid4().hex


async def _merge(connection: AsyncConnection, target: str, keys: set[str]) -> None:
    others = sorted(keys - {target})
    if others:
        await connection.execute(identity_links.update().where(
            identity_links.c.customer_key.in_(others)).values(customer_key=target))


async def _hints(connection: AsyncConnection, channel: str,
                 sender_id: str) -> list[SameCustomerHint]:
    own = await _key_of(connection, channel, sender_id)
    typed = (await connection.execute(sa.select(typed_identifiers).where(
        typed_identifiers.c.channel == channel,
        typed_identifiers.c.sender_id == sender_id))).all()
    found: list[SameCustomerHint] = []
    for entry in typed:
        keys = await _keys_for(connection, entry.kind, entry.value) - {own}
        accounts = await _accounts(connection, keys | ({own} if own else set()))
        if own in accounts:  # a signed-in customer is not merged with another account
            keys = {k for k in keys if accounts.get(k) in (None, accounts[own])}
        if keys:
            found.append(SameCustomerHint(entry.kind, entry.value, tuple(sorted(keys)),
                                          await _conversations(connection, keys)))
    return found


async def _keys_for(connection: AsyncConnection, kind: str, value: str) -> set[str]:
    """Keys of customers who verified ``value``, or typed it in another conversation."""
    verified = sa.select(identity_links.c.customer_key).where(
        identity_links.c.channel == TYPED_KINDS[kind], identity_links.c.sender_id == value)
    typed_by = sa.select(identity_links.c.customer_key).select_from(identity_links.join(
        typed_identifiers, sa.and_(identity_links.c.channel == typed_identifiers.c.channel,
                                   identity_links.c.sender_id == typed_identifiers.c.sender_id))
    ).where(typed_identifiers.c.kind == kind, typed_identifiers.c.value == value)
    rows = (await connection.execute(sa.union(verified, typed_by))).all()
    return {r[0] for r in rows}


async def _conversations(connection: AsyncConnection, keys: set[str]) -> int:
    joined = handoffs.join(identity_links, sa.and_(
        identity_links.c.channel == handoffs.c.channel,
        identity_links.c.sender_id == handoffs.c.customer_id))
    return int((await connection.execute(sa.select(sa.func.count()).select_from(joined).where(
        identity_links.c.customer_key.in_(sorted(keys))))).scalar_one())
