"""The context panel's customer: earlier conversations on every channel, and hints.

What an agent sees of the customer's other conversations: every handoff of the linked
customer (channel, date, moment, outcome), with a link only to those their role lets them
read; and "possibly the same customer" hints from e-mails or phone numbers typed in the
chat, which the agent holding the conversation or a supervisor may confirm.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from desk import handling
from desk import state as s
from desk.identity import SameCustomerHint
from desk.store import ASSIGNED, HandoffConflict, HandoffRecord
from desk.users import User
from desk.wire import IdentityConfirmation


@dataclass(frozen=True)
class EarlierConversation:
    id: str
    channel: str
    created_at: float
    moment: str | None
    outcome: str          # the outcome code, or the status while still open
    readable: bool        # the viewer's role lets them open it

    @property
    def date(self) -> str:
        return datetime.fromtimestamp(self.created_at, timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC")

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "channel": self.channel, "created_at": self.created_at,
                "date": self.date, "moment": self.moment, "outcome": self.outcome,
                "readable": self.readable}


@dataclass(frozen=True)
class CustomerView:
    earlier: list[EarlierConversation]
    hints: list[SameCustomerHint]
    may_link: bool        # may confirm a hint

    def view(self) -> dict[str, Any]:
        return {"earlier": [e.view() for e in self.earlier],
                "hints": [h.view() for h in self.hints], "may_link": self.may_link}


def may_link(user: User, record: HandoffRecord) -> bool:
    """Supervisors, and the agent holding the conversation."""
    return handling.sees_all(user) or (record.status == ASSIGNED
                                       and record.assignee_id == user.id)


async def customer_view(app: web.Application, user: User,
                        record: HandoffRecord) -> CustomerView:
    """``record``'s customer as ``user`` may see them (``record`` must be visible to them)."""
    history = await app[s.STORE].history(record.channel, record.customer_id)
    earlier = [EarlierConversation(h.id, h.channel, h.created_at, h.moment,
                                   h.outcome or h.status, handling.may_see(user, h))
               for h in history if h.id != record.id and h.created_at < record.created_at]
    hints = await app[s.IDENTITIES].hints(record.channel, record.customer_id)
    return CustomerView(earlier, hints, may_link(user, record))


async def confirm_same_customer(app: web.Application, user: User, handoff_id: str,
                                confirmation: IdentityConfirmation) -> CustomerView:
    """Links the conversation's customer with a hint's (audited); answers the new view."""
    record = await handling.visible_handoff(app, user, handoff_id)
    if not may_link(user, record):
        raise HandoffConflict(record.id, "only the agent holding it (or a supervisor) may "
                              "confirm it is the same customer")
    await app[s.IDENTITIES].confirm(record.channel, record.customer_id, confirmation.kind,
                                    confirmation.value, user, record.id)
    return await customer_view(app, user, record)
