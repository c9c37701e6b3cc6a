"""The desk's tables, in one place: SQLite (default) and PostgreSQL run the same schema.

``messages`` is the conversation log: every customer and bot line seen on Rasa's event
stream, every agent reply, internal note and hand-back, each with a unique ``key`` so a
re-delivered event or a re-sent agent message is stored once. Its ``seq`` (autoincrement)
orders a conversation and lets a reconnecting browser ask for "everything after N".
"""

from __future__ import annotations

import logging
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.schema import CreateIndex

log = logging.getLogger(__name__)

metadata = sa.MetaData()

handoffs = sa.Table(
    "handoffs", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("conversation_id", sa.String(200), nullable=False, index=True),
    sa.Column("customer_id", sa.String(200), nullable=False, index=True),
    sa.Column("channel", sa.String(50), nullable=False),
    sa.Column("reason", sa.String(40), nullable=False),
    sa.Column("moment", sa.String(100)),
    sa.Column("skill", sa.String(50), nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("packet", sa.Text, nullable=False),
    sa.Column("assignee_id", sa.String(40)),
    sa.Column("assignee_name", sa.String(100)),
    sa.Column("claimed_at", sa.Float),
    sa.Column("closed_at", sa.Float),
    sa.Column("outcome", sa.String(40)),
)
sa.Index("ix_handoffs_created_at", handoffs.c.created_at)  # insight reads handoffs by time

messages = sa.Table(
    "desk_messages", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(300), nullable=False, unique=True),
    sa.Column("conversation_id", sa.String(200), nullable=False, index=True),
    sa.Column("handoff_id", sa.String(40), index=True),
    # customer | bot | agent | note | control (hand the conversation back to the bot)
    sa.Column("speaker", sa.String(20), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("channel", sa.String(50), nullable=False, default=""),
    sa.Column("author", sa.String(100), nullable=False, default=""),
    sa.Column("at", sa.Float, nullable=False),
    # Outgoing lines only (agent, control): when Rasa took them, and delivery bookkeeping.
    sa.Column("outgoing", sa.Boolean, nullable=False, default=False),
    sa.Column("delivered_at", sa.Float),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("lease_until", sa.Float),
)
sa.Index("ix_desk_messages_pending", messages.c.outgoing, messages.c.delivered_at)

corrections = sa.Table(
    "desk_corrections", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("handoff_id", sa.String(40), nullable=False, index=True),
    sa.Column("conversation_id", sa.String(200), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("predicted", sa.String(100)),
    sa.Column("corrected", sa.String(100), nullable=False),
    sa.Column("agent_id", sa.String(40), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    # pending_review | accepted | rejected: the content staff review these examples.
    sa.Column("status", sa.String(20), nullable=False, default="pending_review"),
)

#: The single customer view: each channel identity (a Rasa channel and its sender id, or a
#: vouched identifier under a reserved "@account" / "@email" / "@phone" channel) -> one
#: customer key. Only strong identities are linked automatically (see desk.identity).
identity_links = sa.Table(
    "desk_identity_links", metadata,
    sa.Column("channel", sa.String(50), primary_key=True),
    sa.Column("sender_id", sa.String(320), primary_key=True),
    sa.Column("customer_key", sa.String(40), nullable=False, index=True),
    # conversation | channel_account | verified_email | verified_phone | agent_confirmed
    sa.Column("source", sa.String(30), nullable=False),
    sa.Column("linked_by", sa.String(40), nullable=False, default=""),  # a user id, or ""
    sa.Column("linked_at", sa.Float, nullable=False),
)

#: E-mails and phone numbers the customer typed in a chat: never linked on their own, only
#: offered to an agent as "possibly the same customer" to confirm.
typed_identifiers = sa.Table(
    "desk_typed_identifiers", metadata,
    sa.Column("kind", sa.String(20), primary_key=True),     # email | phone
    sa.Column("value", sa.String(320), primary_key=True),   # normalised
    sa.Column("channel", sa.String(50), primary_key=True),
    sa.Column("sender_id", sa.String(200), primary_key=True),
    sa.Column("at", sa.Float, nullable=False),
)
sa.Index("ix_desk_typed_identifiers_sender", typed_identifiers.c.channel,
         typed_identifiers.c.sender_id)

#: Who did what to which desk record, written in the same transaction as the change.
audit = sa.Table(
    "desk_audit", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("actor_id", sa.String(40), nullable=False),
    sa.Column("actor_name", sa.String(100), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False, index=True),
    sa.Column("detail", sa.Text, nullable=False, default="{}"),
)

presence = sa.Table(
    "desk_presence", metadata,
    sa.Column("user_id", sa.String(40), primary_key=True),
    sa.Column("replica", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False),
)


#: Insight (the managers' dashboard): what happened per moment, from Rasa's event stream.
#: ``message``: a customer message outside a handoff, its moment and confidence as the NLU
#: saw them and its text with personal data redacted; ``click``: the same for a button the
#: customer pressed (its payload, "/affirm"), kept apart so clicks are not counted as
#: messages; ``offered`` / ``rejected`` /
#: ``resolved``: an article offered for a moment, a "no, that did not help", a "yes,
#: solved". Handoffs are read from ``handoffs``. ``key`` makes storing idempotent.
insight = sa.Table(
    "desk_insight", metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("conversation_id", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("moment", sa.String(100)),
    sa.Column("confidence", sa.Float),
    sa.Column("channel", sa.String(50), nullable=False, default=""),
    sa.Column("text", sa.Text, nullable=False, default=""),
    sa.Column("at", sa.Float, nullable=False),
)
#: Every read of the dashboard (facts of some kinds since a time: their moment, conversation
#: and channel) is answered from this index alone: a 90-day report at 2,000 contacts a day
#: read 845,000 outcome rows in 1.6 s instead of 3.3 s on SQLite (docs/adr/0010-insight.md).
sa.Index("ix_desk_insight_facts", insight.c.kind, insight.c.at, insight.c.moment,
         insight.c.conversation_id, insight.c.channel)
#: The index on (kind, at) it replaced; dropped where found.
_REPLACED_INDEXES = {"desk_insight": ("ix_desk_insight_kind_at",)}

#: Early warnings sent (desk.alerts): one per moment and UTC day, whichever replica is first.
insight_alerts = sa.Table(
    "desk_insight_alerts", metadata,
    sa.Column("moment", sa.String(100), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("contacts", sa.Integer, nullable=False),
)


#: One-off data upgrades already run on this database, by name (:func:`_upgrade_data`).
upgrades = sa.Table(
    "desk_upgrades", metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("at", sa.Float, nullable=False),
)


def make_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and one pooled connection.

    SQLite admits one writer at a time: with several pooled connections, 50 agents
    claiming at once end in "database is locked". One connection queues them in the pool
    instead (PostgreSQL keeps SQLAlchemy's normal pool).
    """
    if not url.startswith("sqlite"):
        return create_async_engine(url, future=True)
    engine = create_async_engine(url, future=True, poolclass=AsyncAdaptedQueuePool,
                                 pool_size=1, max_overflow=0, pool_timeout=120,
                                 connect_args={"timeout": 30})

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _wal(connection: Any, _: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a commit survives the desk process crashing (what "stored before
        # acknowledged" guards against here); power-loss durability is PostgreSQL's job.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


async def open_engine(url: str) -> AsyncEngine:
    """An engine with every desk table created (idempotent)."""
    engine = make_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        await connection.run_sync(_add_missing_columns)
        await connection.run_sync(_upgrade_data)
    return engine


#: Data upgrades, in order: name and statement. Each runs once per database.
_DATA_UPGRADES = (
    # button clicks were stored as messages (and counted as such) before the click kind
    ("insight-clicks", "UPDATE desk_insight SET kind = 'click' "
                       "WHERE kind = 'message' AND text LIKE '/%'"),
)


def _upgrade_data(connection: sa.engine.Connection) -> None:
    """Runs each data upgrade this database has not had yet, and records it.

    Replicas starting together may both run one; each is idempotent, and the record is
    inserted ignoring a duplicate.
    """
    done = set(connection.execute(sa.select(upgrades.c.name)).scalars())
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    for name, statement in _DATA_UPGRADES:
        if name not in done:
            log.info("desk database: upgrading data (%s, once)", name)
            connection.execute(sa.text(statement))
            connection.execute(dialect.insert(upgrades).values(name=name, at=time.time())
                               .on_conflict_do_nothing())


def _add_missing_columns(connection: sa.engine.Connection) -> None:
    """Upgrades a desk database made before issue 4 (handoffs without the agent columns),
    before insight (no index on ``created_at``) or before the dashboard's covering index.

    Only nullable columns were added since, so ``ALTER TABLE ... ADD COLUMN`` suffices on
    both engines; anything bigger gets a real migration tool.
    """
    present = {c["name"] for c in sa.inspect(connection).get_columns("handoffs")}
    for column in handoffs.columns:
        if column.name not in present and column.nullable:
            kind = column.type.compile(dialect=connection.dialect)
            connection.execute(sa.text(f"ALTER TABLE handoffs ADD COLUMN {column.name} {kind}"))
    for table in (handoffs, insight):  # indexes added since (insight reads them by time)
        present = {i["name"] for i in sa.inspect(connection).get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in present:
                log.info("desk database: creating index %s (once; a big table takes a while)",
                         index.name)
                # IF NOT EXISTS: replicas starting together on one PostgreSQL may race
                connection.execute(CreateIndex(index, if_not_exists=True))
        for name in _REPLACED_INDEXES.get(table.name, ()):
            if name in present:
                connection.execute(sa.text(f"DROP INDEX IF EXISTS {name}"))


def insert_ignoring_duplicates(engine: AsyncEngine, table: sa.Table) -> sa.sql.Insert:
    """INSERT ... ON CONFLICT DO NOTHING in the engine's dialect (both support it)."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()  # type: ignore[no-any-return]
