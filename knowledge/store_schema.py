"""Tables of the article store and the knowledge-gap log (SQLAlchemy Core, any engine).

Names start with ``kb_`` because they share the desk's database.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

#: One row per article: where it stands.
rows = sa.Table(
    "kb_articles", metadata,
    sa.Column("id", sa.String(100), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("latest_version", sa.Integer, nullable=False),
    sa.Column("live_version", sa.Integer),
    sa.Column("owner", sa.String(200), nullable=False, default=""),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

#: Immutable content of every saved version.
versions = sa.Table(
    "kb_article_versions", metadata,
    sa.Column("article_id", sa.String(100), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("summary", sa.Text, nullable=False, default=""),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("moments", sa.Text, nullable=False),   # JSON list of moment ids
    sa.Column("channels", sa.Text, nullable=False),  # JSON list of channel kinds
    sa.Column("owner", sa.String(200), nullable=False, default=""),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("note", sa.String(500), nullable=False, default=""),
)

#: Who changed what, when; written in the same transaction as the change.
audit = sa.Table(
    "kb_audit", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("article_id", sa.String(100), nullable=False, index=True),
    sa.Column("version", sa.Integer),
    sa.Column("detail", sa.Text, nullable=False, default="{}"),
)

meta = sa.Table(
    "kb_meta", metadata,
    sa.Column("key", sa.String(50), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

#: Customer messages no good article answered (see knowledge.gaps).
gaps = sa.Table(
    "kb_gaps", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("moment", sa.String(100)),
    sa.Column("reason", sa.String(40), nullable=False),
    sa.Column("channel", sa.String(50), nullable=False, default=""),
    sa.Column("article_id", sa.String(100)),
)
