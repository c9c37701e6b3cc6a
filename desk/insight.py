"""Insight: what happens per moment of truth, for service managers (ARCHITECTURE flow 5).

Facts arrive on Rasa's event stream through the desk's :class:`~desk.events.Ingestor`, so
all three ways in (the embedded broker, RabbitMQ, reconciliation) feed it, idempotently:

* every customer message outside a handoff, with the moment and confidence the NLU gave
  it, and its text with personal data redacted (:mod:`bot.pii`);
* what self-service did, which the turn action records in the slot ``last_outcome``:
  ``offered:<moment>`` (an article), ``rejected:<moment>`` ("no, that did not help") and
  ``resolved:<moment>`` ("yes, solved").
* what customers said when asked, after an agent closed their handoff as solved, whether
  it was: ``agent_helped:<handoff id>`` or ``agent_unhelped:<handoff id>`` (the moment is
  the handoff's, as corrected by the time of the report).

Handoffs, their reasons and how agents closed them are the desk's own ``handoffs`` rows.
:func:`summarise` turns both into per-moment figures over a window of days, with a daily
trend and early warnings; it is pure, so it is tested without a database.

A **contact** is a conversation in which a moment was handled (an article offered for it,
or a handoff carrying it), counted once per moment and window (per day in the trend).

Figures can be narrowed to one **channel** (Rasa's input channel: ``rest``, ``socketio``,
``telegram`` ...): a conversation belongs to the channel its customer's messages came on
(a sender id is one channel's), a handoff to the channel recorded in it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, NamedTuple, TypeGuard

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.catalogue import Catalogue
from desk.nlu_export import LazyRedactor
from desk.packet import AGENT_HELPED, AGENT_UNHELPED
from desk.store import RESOLVING
from desk.tables import (
    corrections,
    handoffs,
    insert_ignoring_duplicates,
    insight,
    insight_alerts,
)

log = logging.getLogger(__name__)

MESSAGE = "message"
#: A button the customer pressed (its payload, "/affirm"): like a message, never counted
#: as one.
CLICK = "click"
OUTCOMES = ("offered", "rejected", "resolved")
#: Answers to "did we sort it out?" after an agent's help: stored like outcomes, with the
#: handoff's id where outcomes keep their moment.
AGENT_RATINGS = (AGENT_HELPED, AGENT_UNHELPED)
OUTCOME_SLOT = "last_outcome"
DAY = 86_400.0
MAX_DAYS = 90
PRUNE_SECONDS = 3600.0
#: The trend shows at least this many days, whatever the window.
TREND_DAYS = 14
#: Early warning: the last 24 hours' contacts of a moment against the daily mean of the
#: BASELINE_DAYS before; raised when at least SPIKE_MIN and this unlikely under Poisson.
BASELINE_DAYS = 14
SPIKE_MIN = 5
SPIKE_P = 0.001
#: A quiet moment's baseline is never taken as below this many contacts a day.
BASELINE_FLOOR = 0.1
#: No early warnings before the log holds this many whole days before the last 24 hours: on a
#: new deployment "none before" means nothing recorded yet, not a quiet moment.
MIN_BASELINE_DAYS = 3
NO_MOMENT = "(no moment)"
NO_MOMENT_TITLE = "Not recognised: handed to a person unsure"
LOW_CONFIDENCE = "low_confidence"
#: A channel's name as Rasa's input channels are named (the ``channel`` columns hold 50).
CHANNEL_NAME = re.compile(r"[A-Za-z0-9_.-]{1,50}")


@dataclass(frozen=True)
class Fact:
    """One thing that happened, as stored for insight."""

    key: str
    conversation_id: str
    kind: str  # message | click | offered | rejected | resolved | agent_helped | agent_unhelped
    moment: str | None  # for agent_helped / agent_unhelped: the handoff's id
    at: float
    confidence: float | None = None
    channel: str = ""
    text: str = ""

    @classmethod
    def parse(cls, data: Any, sender_id: str | None = None) -> Fact | None:
        """A ``user`` event or a ``last_outcome`` slot event; None for anything else."""
        if not isinstance(data, dict):
            return None
        sender, at = data.get("sender_id") or sender_id, data.get("timestamp")
        if not isinstance(sender, str) or not plausible_time(at):
            return None
        if data.get("event") == "user":
            text = data.get("text")
            if not isinstance(text, str) or not text:
                return None
            parsed = data.get("parse_data")
            intent = (parsed.get("intent") if isinstance(parsed, dict) else None) or {}
            name, confidence = intent.get("name"), intent.get("confidence")
            return cls(
                key=user_event_key(sender, data),
                conversation_id=sender, kind=CLICK if text.startswith("/") else MESSAGE,
                at=float(at),
                moment=name if isinstance(name, str) else None,
                confidence=float(confidence) if isinstance(confidence, int | float) else None,
                channel=str(data.get("input_channel") or ""), text=text)
        if data.get("event") == "slot" and data.get("name") == OUTCOME_SLOT:
            value = data.get("value")
            kind, _, moment = value.partition(":") if isinstance(value, str) else ("", "", "")
            if kind not in (*OUTCOMES, *AGENT_RATINGS) or not moment:
                return None
            return cls(key=f"rasa:s:{sender}:{float(at)!r}:{value}", conversation_id=sender,
                       kind=kind, moment=moment, at=float(at))
        return None


#: The latest event time the desk takes (2100-01-01): a time beyond it (1e300, Infinity) is
#: garbage that would sit in every window and never age out.
LATEST_EVENT = 4_102_444_800.0


def plausible_time(value: Any) -> TypeGuard[float]:
    """An event's ``timestamp``: seconds since 1970, from 0 up to LATEST_EVENT."""
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and 0 <= value <= LATEST_EVENT)


def user_event_key(sender: str, data: dict[str, Any]) -> str:
    """A customer message's unique key: Rasa's message id, else its timestamp."""
    return f"rasa:u:{sender}:{data.get('message_id') or repr(float(data['timestamp']))}"


class InsightLog:
    """Stores facts once each; message texts are redacted before they are written."""

    def __init__(self, engine: AsyncEngine, redactor: LazyRedactor) -> None:
        self._engine, self._redactor = engine, redactor

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    async def record(self, facts: Sequence[Fact]) -> None:
        if not facts:
            return
        texts = await self._redactor.redact([f.text for f in facts])
        rows = [{**asdict(f), "text": text} for f, text in zip(facts, texts, strict=True)]
        async with self._engine.begin() as connection:
            await connection.execute(insert_ignoring_duplicates(self._engine, insight), rows)

    async def prune(self, before: float) -> int:
        """Deletes the facts (and warnings sent) older than ``before``; returns how many
        facts."""
        async with self._engine.begin() as connection:
            deleted = await connection.execute(sa.delete(insight).where(insight.c.at < before))
            await connection.execute(sa.delete(insight_alerts)
                                     .where(insight_alerts.c.at < before))
        return int(deleted.rowcount or 0)

    async def keep_pruning(self, retention_days: int, every: float = PRUNE_SECONDS) -> None:
        """Deletes facts older than ``retention_days`` now and then every ``every`` seconds
        (handoffs are the desk's records and stay)."""
        while True:
            try:
                deleted = await self.prune(time.time() - retention_days * DAY)
                if deleted:
                    log.info("insight: deleted %d facts older than %d days", deleted,
                             retention_days)
            except Exception:
                log.exception("insight: pruning failed; will retry")
            await asyncio.sleep(every)

    async def examples(self, moment: str, since: float, limit: int = 3,
                       channel: str | None = None) -> list[str]:
        """The latest redacted customer messages the NLU gave ``moment`` (on ``channel``),
        each text once (buttons left out)."""
        latest = sa.func.max(insight.c.at)
        query = (sa.select(insight.c.text, latest)
                 .where(insight.c.kind == MESSAGE, insight.c.moment == moment,
                        insight.c.at >= since, ~insight.c.text.startswith("/"))
                 .group_by(insight.c.text).order_by(latest.desc()).limit(limit))
        if channel is not None:
            query = query.where(insight.c.channel == channel)
        async with self._engine.connect() as connection:  # each text once
            return [row.text for row in await connection.execute(query)]

    async def load(self, since: float, window_start: float, channel: str | None = None) -> Facts:
        """Outcome facts and handoffs since ``since``; messages per moment in the window;
        with ``channel``, only that channel's (module docstring). Messages per channel are
        every channel's."""
        outcomes = (sa.select(insight.c.conversation_id, insight.c.kind, insight.c.moment,
                              insight.c.at)
                    .where(insight.c.kind.in_((*OUTCOMES, *AGENT_RATINGS)),
                           insight.c.at >= since))
        corrected = sa.exists().where(corrections.c.handoff_id == handoffs.c.id)
        handed = (sa.select(handoffs.c.conversation_id, handoffs.c.moment, handoffs.c.reason,
                            handoffs.c.created_at, handoffs.c.closed_at, handoffs.c.outcome,
                            corrected.label("corrected"), handoffs.c.id)
                  .where(handoffs.c.created_at >= since))
        messages = (sa.select(insight.c.moment, insight.c.channel, sa.func.count())
                    .where(insight.c.kind == MESSAGE, insight.c.at >= window_start)
                    .group_by(insight.c.moment, insight.c.channel))
        # every outcome answers a message a moment before it (an article offered for it,
        # "yes" or "no" to it), so the conversations with messages on the channel from a day
        # earlier on are all that the outcomes since ``since`` can belong to; filtered here,
        # not by ``IN (subquery)``, which PostgreSQL ran as a subplan per row (28 days at
        # 2,000 contacts a day: 133 s)
        on_channel = None
        if channel is not None:
            on_channel = (sa.select(insight.c.conversation_id).distinct()
                          .where(insight.c.kind.in_((MESSAGE, CLICK)),
                                 insight.c.at >= since - DAY,
                                 insight.c.channel == channel))
            handed = handed.where(handoffs.c.channel == channel)
        # .all(): iterating an aiosqlite result row by row is quadratic in SQLAlchemy 1.4
        # (each fetchone pops the head of a list); 131,000 rows took 1.6 s against 0.5 s.
        async with self._engine.connect() as connection:
            found: Iterable[Outcome] = map(Outcome._make,
                                           (await connection.execute(outcomes)).all())
            if on_channel is not None:
                ours = set((await connection.execute(on_channel)).scalars())
                found = (o for o in found if o.conversation_id in ours)
            facts = Facts(
                outcomes=list(found),
                handoffs=[HandoffFact(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7])
                          for r in (await connection.execute(handed)).all()])
            per_moment: Counter[str | None] = Counter()
            per_channel: Counter[str] = Counter()
            for moment, on, count in (await connection.execute(messages)).all():
                per_channel[on or ""] += count
                if channel is None or on == channel:
                    per_moment[moment] += count
            facts.first_at = (await connection.execute(  # the facts index: one seek
                sa.select(sa.func.min(insight.c.at)).where(insight.c.kind == MESSAGE))).scalar()
        facts.messages = dict(per_moment)
        facts.channels = dict(sorted(per_channel.items(), key=lambda c: (-c[1], c[0])))
        return facts


class Outcome(NamedTuple):  # tuples: a 28-day window reads a row per article and answer
    conversation_id: str
    kind: str
    moment: str
    at: float


class HandoffFact(NamedTuple):
    conversation_id: str
    moment: str | None
    reason: str
    created_at: float
    closed_at: float | None = None
    outcome: str | None = None
    corrected: bool = False  # an agent set the moment
    id: str = ""

    @property
    def known_moment(self) -> str | None:
        """The moment, unless it is only the classifier's guess below its threshold (a
        low-confidence handoff the agent did not correct): that counts as no moment."""
        if self.reason == LOW_CONFIDENCE and not self.corrected:
            return None
        return self.moment


@dataclass
class Facts:
    outcomes: list[Outcome]
    handoffs: list[HandoffFact]
    messages: dict[str | None, int] = field(default_factory=dict)
    channels: dict[str, int] = field(default_factory=dict)  # messages per channel, most first
    first_at: float | None = None  # the earliest message stored; None: unknown, long ago


@dataclass
class MomentFigures:
    """One moment's figures over the window (rates are None where nothing was counted)."""

    moment: str
    title: str
    stage: str
    contacts: int = 0
    previous_contacts: int = 0
    offered: int = 0          # contacts in which an article was offered
    solved_by_bot: int = 0    # contacts the customer said an article solved
    handed_off: int = 0       # contacts handed to a person
    reasons: dict[str, int] = field(default_factory=dict)
    yes: int = 0              # "did this solve it?" answered yes ...
    no: int = 0               # ... and no
    agent_yes: int = 0        # "did we sort it out?" after an agent's help: yes ...
    agent_no: int = 0         # ... and no
    messages: int = 0         # customer messages the NLU gave this moment
    trend: list[int] = field(default_factory=list)  # contacts a day, oldest first
    resolutions: list[float] = field(default_factory=list, repr=False)  # seconds each

    @property
    def containment(self) -> float | None:
        return 1 - self.handed_off / self.contacts if self.contacts else None

    @property
    def handoff_rate(self) -> float | None:
        return self.handed_off / self.contacts if self.contacts else None

    @property
    def median_resolution_seconds(self) -> float | None:
        return statistics.median(self.resolutions) if self.resolutions else None

    @property
    def helped(self) -> float | None:
        """Satisfaction with self-service: the share of answers that said it solved it."""
        return self.yes / (self.yes + self.no) if self.yes + self.no else None

    @property
    def agent_helped(self) -> float | None:
        """Satisfaction with agents: the share of answers that said the agent solved it."""
        asked = self.agent_yes + self.agent_no
        return self.agent_yes / asked if asked else None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["resolutions"]
        return {**data, "containment": self.containment, "handoff_rate": self.handoff_rate,
                "helped": self.helped, "agent_helped": self.agent_helped,
                "median_resolution_seconds": self.median_resolution_seconds}

    @classmethod
    def total(cls, stage: str, rows: Sequence[MomentFigures]) -> MomentFigures:
        """A journey stage's figures: its moments' counts added up (a conversation about
        two of its moments counts twice), the median over all their resolutions."""
        reasons: Counter[str] = Counter()
        for figures in rows:
            reasons.update(figures.reasons)
        resolutions = [seconds for figures in rows for seconds in figures.resolutions]
        added = {name: sum(getattr(f, name) for f in rows) for name in (
            "contacts", "previous_contacts", "offered", "solved_by_bot", "handed_off", "yes",
            "no", "agent_yes", "agent_no", "messages")}
        return cls(
            stage, stage, stage, **added, reasons=dict(reasons),
            trend=[sum(day) for day in zip(*(f.trend for f in rows), strict=True)],
            resolutions=resolutions)


@dataclass(frozen=True)
class EarlyWarning:
    moment: str
    title: str
    last_day: int
    expected: float
    p_value: float
    examples: tuple[str, ...] = ()


@dataclass
class Report:
    days: int
    until: float
    moments: list[MomentFigures]
    warnings: list[EarlyWarning]
    messages: int
    out_of_scope_messages: int
    channel: str | None = None          # the figures are this channel's; None: all
    channels: dict[str, int] = field(default_factory=dict)  # messages per channel, window
    baseline_days: int = BASELINE_DAYS  # whole days of history warnings compared against

    @property
    def contacts(self) -> int:
        return sum(m.contacts for m in self.moments)

    @property
    def containment(self) -> float | None:
        contacts = self.contacts
        return 1 - sum(m.handed_off for m in self.moments) / contacts if contacts else None

    def by_stage(self) -> list[tuple[MomentFigures, list[MomentFigures]]]:
        """Journey stages in catalogue order, each with its total and its moments that had
        contacts, most contacts first."""
        stages: dict[str, list[MomentFigures]] = defaultdict(list)
        for figures in self.moments:
            if figures.contacts:
                stages[figures.stage].append(figures)
        return [(MomentFigures.total(stage, rows), sorted(rows, key=lambda m: -m.contacts))
                for stage, rows in stages.items()]

    def to_json(self) -> dict[str, Any]:
        return {"days": self.days, "until": self.until, "channel": self.channel,
                "channels": self.channels, "baseline_days": self.baseline_days,
                "contacts": self.contacts,
                "containment": self.containment, "messages": self.messages,
                "out_of_scope_messages": self.out_of_scope_messages,
                "stages": [total.to_json() for total, _ in self.by_stage()],
                "moments": [m.to_json() for m in self.moments if m.contacts or m.messages],
                "warnings": [asdict(w) for w in self.warnings]}


def summarise(facts: Facts, catalogue: Catalogue, now: float, days: int) -> Report:
    """Per-moment figures over the ``days`` before ``now``, a trend and early warnings."""
    start = now - days * DAY
    trend_days = max(days, TREND_DAYS)
    figures = {m.id: MomentFigures(m.id, m.title, m.stage) for m in catalogue.moments}

    def row(moment: str | None) -> MomentFigures:
        key = moment or NO_MOMENT
        if key not in figures:  # a moment since removed from the catalogue, or none
            figures[key] = MomentFigures(key, NO_MOMENT_TITLE if moment is None else key,
                                         "other")
        return figures[key]

    # Each contact of the trend: (moment, conversation, day); day 0 is the last 24 hours.
    contacts: set[tuple[str, str, int]] = set()

    def touch(moment: str, conversation: str, at: float) -> None:
        contacts.add((moment, conversation, int((now - at) // DAY)))

    first_offer: dict[tuple[str, str], float] = {}
    window: dict[str, set[str]] = defaultdict(set)
    offered: dict[str, set[str]] = defaultdict(set)
    solved: dict[str, set[str]] = defaultdict(set)
    handed: dict[str, set[str]] = defaultdict(set)
    durations: dict[str, list[float]] = defaultdict(list)
    answers: dict[tuple[str, str], Outcome] = {}  # the last "did this solve it?" answer
    ratings: dict[str, str] = {}  # handoff id -> the customer's last answer about it
    for o in sorted(facts.outcomes, key=lambda o: o.at):
        if o.at > now:
            continue
        if o.kind in AGENT_RATINGS:
            ratings[o.moment] = o.kind
            continue
        touch(o.moment, o.conversation_id, o.at)
        if o.at < start:
            continue
        window[o.moment].add(o.conversation_id)
        first_offer.setdefault((o.moment, o.conversation_id), o.at)
        if o.kind == "offered":
            offered[o.moment].add(o.conversation_id)
        elif o.kind in ("rejected", "resolved"):
            figures_ = row(o.moment)
            previous = answers.get((o.moment, o.conversation_id))
            if o.kind == "rejected" and previous is not None and previous.kind == "resolved":
                figures_.yes -= 1  # "ok" taken as solved, then "no, it didn't help": taken back
            figures_.yes += o.kind == "resolved"
            figures_.no += o.kind == "rejected"
            answers[o.moment, o.conversation_id] = o
    for (moment, conversation), answer in answers.items():
        if answer.kind == "resolved":  # solved by the bot unless the customer took it back
            solved[moment].add(conversation)
            durations[moment].append(answer.at - first_offer[moment, conversation])
    for h in facts.handoffs:
        moment = h.known_moment or NO_MOMENT
        if h.created_at > now:
            continue
        touch(moment, h.conversation_id, h.created_at)
        if h.created_at < start:
            continue
        window[moment].add(h.conversation_id)
        handed[moment].add(h.conversation_id)
        figures_ = row(h.known_moment)
        figures_.reasons[h.reason] = figures_.reasons.get(h.reason, 0) + 1
        rating = ratings.get(h.id)
        figures_.agent_yes += rating == AGENT_HELPED
        figures_.agent_no += rating == AGENT_UNHELPED
        if h.outcome in RESOLVING and h.closed_at is not None:
            began = min(h.created_at, first_offer.get((moment, h.conversation_id), h.created_at))
            durations[moment].append(h.closed_at - began)

    per_day: dict[str, Counter[int]] = defaultdict(Counter)
    for (moment, _, day) in contacts:
        per_day[moment][day] += 1
    for moment in set(per_day) | set(window):
        f = row(None if moment == NO_MOMENT else moment)
        f.contacts = len(window[moment])
        f.offered, f.solved_by_bot = len(offered[moment]), len(solved[moment])
        f.handed_off = len(handed[moment])
        f.previous_contacts = sum(per_day[moment][d] for d in range(days, 2 * days))
        f.trend = [per_day[moment][d] for d in reversed(range(trend_days))]
        f.resolutions = durations[moment]
    for name, count in facts.messages.items():
        if name in figures:
            figures[name].messages = count
    baseline = baseline_days(facts.first_at, now)
    warnings = [] if baseline < MIN_BASELINE_DAYS else [
        w for w in (spike(f, per_day[f.moment], baseline) for f in figures.values()) if w]
    total = sum(facts.messages.values())
    return Report(days, now, list(figures.values()), warnings, total,
                  facts.messages.get("out_of_scope", 0), channels=facts.channels,
                  baseline_days=baseline)


def baseline_days(first_at: float | None, now: float) -> int:
    """Whole days of history before the last 24 hours, at most BASELINE_DAYS."""
    if first_at is None:
        return BASELINE_DAYS
    return max(0, min(BASELINE_DAYS, int((now - DAY - first_at) // DAY)))


def spike(figures: MomentFigures, per_day: Counter[int],
          baseline: int = BASELINE_DAYS) -> EarlyWarning | None:
    """A warning when the last 24 hours' contacts are far above the moment's daily mean over
    the ``baseline`` days before."""
    last = per_day[0]
    if last < SPIKE_MIN:
        return None
    expected = max(sum(per_day[d] for d in range(1, baseline + 1)) / baseline, BASELINE_FLOOR)
    p = poisson_tail(last, expected)
    if p >= SPIKE_P:
        return None
    return EarlyWarning(figures.moment, figures.title, last, round(expected, 2), p)


def poisson_tail(count: int, mean: float) -> float:
    """P(X >= count) for X ~ Poisson(mean), summed upwards (no cancellation)."""
    if count <= 0:
        return 1.0
    term = math.exp(-mean + count * math.log(mean) - math.lgamma(count + 1))
    total, k = 0.0, count
    while term > 0 and (k <= mean or term > total * 1e-16):
        total += term
        k += 1
        term *= mean / k
    return min(total, 1.0)


async def report(log: InsightLog, catalogue: Catalogue, now: float, days: int,
                 channel: str | None = None) -> Report:
    """The figures the dashboard shows (with ``channel``, that channel's), with example
    messages for each warning and the window's messages per channel."""
    since = now - max(2 * days, BASELINE_DAYS + 1, TREND_DAYS) * DAY
    window_start = now - days * DAY
    result = summarise(await log.load(since, window_start, channel), catalogue, now, days)
    result.warnings = [
        replace(w, examples=tuple(await log.examples(w.moment, now - DAY, channel=channel)))
        for w in result.warnings]
    result.channel = channel
    return result


def days_param(raw: str | None, default: int = 7) -> int:
    """The ``days`` query parameter: a whole number from 1 to MAX_DAYS."""
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
        raise ValueError(f"days must be a whole number from 1 to {MAX_DAYS}, got {raw!r}")
    return int(raw)


def channel_param(raw: str | None) -> str | None:
    """The ``channel`` query parameter: None (every channel) when absent or empty."""
    if not raw:
        return None
    if not CHANNEL_NAME.fullmatch(raw):
        raise ValueError(f"channel must be a channel's name (letters, digits, '_', '.', '-', "
                         f"at most 50), got {raw[:60]!r}")
    return raw


def sparkline(values: Iterable[int], width: int = 120, height: int = 24) -> str:
    """SVG polyline points for a trend (the page draws it; no script needed)."""
    values = list(values)
    if not values:
        return ""
    top = max(max(values), 1)
    step = width / max(len(values) - 1, 1)
    return " ".join(f"{n * step:.1f},{height - v / top * (height - 2) - 1:.1f}"
                    for n, v in enumerate(values))
