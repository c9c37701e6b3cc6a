"""Articles: ready-made solutions written by content staff.

An article file is Markdown with a YAML front matter block::

    ---
    id: parcel-late-track
    title: "Your parcel is late: track it"
    moments: [parcel_late]
    channels: [web, api, telegram, whatsapp, messenger, slack, sms]
    status: published
    version: 1
    owner: delivery-content@northwind.example
    summary: Most late parcels arrive within 2 working days.
    ---
    Body with numbered steps.

Parsing never guesses: a file that breaks a rule raises :class:`ArticleError`
naming the file, the field and the reason, so a bad article stops the build.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.yaml_errors import closest, safe_load_unique, yaml_problem
from channels.guard import unreadable

STATUSES = ("draft", "published", "retired")
#: The front matter's fields, in the order files are written.
FIELDS = ("id", "title", "moments", "channels", "status", "version", "owner", "summary")
CHANNELS = ("web", "api", "telegram", "whatsapp", "messenger", "slack", "sms")
MAX_TITLE_CHARS = 200
MAX_BODY_CHARS = 20_000
_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,80}$")
FRONT_MATTER = re.compile(r"\A---\s*\n(?P<meta>.*?)\n---\s*\n(?P<body>.*)\Z", re.DOTALL)


class ArticleError(ValueError):
    """An article breaks the format; says where and why."""

    def __init__(self, source: str, reason: str, field_name: str | None = None) -> None:
        self.source = source
        self.field_name = field_name
        self.reason = reason
        where = f"{source}: {field_name}" if field_name else source
        super().__init__(f"{where}: {reason}")

    @classmethod
    def of(cls, source: str, problems: Sequence[tuple[str | None, str]]) -> ArticleError:
        """The error for (field, reason) problems: the one, or every one on one line."""
        if len(problems) == 1:
            name, reason = problems[0]
            return cls(source, reason, name)
        return cls(source, f"{len(problems)} errors: " + "; ".join(
            f"{name}: {reason}" if name else reason for name, reason in problems))


class ArticleErrors(ArticleError):
    """Several article files are bad; holds each file's error, one per line."""

    def __init__(self, errors: list[ArticleError]) -> None:
        self.errors = errors
        ValueError.__init__(self, f"{len(errors)} article files are bad:\n"
                            + "\n".join(f"  {error}" for error in errors))
        self.source, self.field_name = errors[0].source, None
        self.reason = str(self)


@dataclass(frozen=True)
class Article:
    """One version of a ready-made solution."""

    id: str
    title: str
    body: str
    moments: tuple[str, ...]
    channels: tuple[str, ...] = CHANNELS
    status: str = "published"
    version: int = 1
    owner: str = ""
    summary: str = ""
    source: str = field(default="", compare=False)

    @property
    def is_published(self) -> bool:
        return self.status == "published"

    def content_hash(self) -> str:
        """Hash of what the index embeds; changes whenever the searchable text changes."""
        text = "\x1f".join(
            [self.id, str(self.version), self.title, self.summary, self.body, *self.moments,
             *self.channels, self.status]
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def steps(self) -> list[str]:
        """The numbered steps of the body, in order."""
        return [m.group(1).strip() for m in re.finditer(r"^\s*\d+[.)]\s+(.+)$", self.body, re.M)]


def parse_article(text: str, source: str = "<string>") -> Article:
    """Parses one article file's text.

    Raises:
        ArticleError: broken front matter, missing or invalid fields (every one, when
            several), or an oversized body.
    """
    meta, body = split_front_matter(text, source)
    return article_from_fields(meta, body, source)


def split_front_matter(text: str, source: str = "<string>") -> tuple[dict[str, Any], str]:
    """The front matter's fields and the stripped body of an article file's text.

    Raises:
        ArticleError: no front matter, YAML that does not parse (with the file's line and
            column), or front matter that is not a mapping.
    """
    match = FRONT_MATTER.match(text.removeprefix("\ufeff").replace("\r\n", "\n"))
    if not match:
        raise ArticleError(source, "no front matter: the file must start with '---', a YAML "
                                   "block, and a closing '---' line")
    try:
        meta = safe_load_unique(match.group("meta"))
    except yaml.YAMLError as error:
        line, reason = yaml_problem(error, first_line=2)  # the opening '---' is line 1
        where = f"line {line}: " if line else ""
        raise ArticleError(source, f"broken front matter: {where}{reason}") from error
    if not isinstance(meta, dict):
        raise ArticleError(source, "front matter must be a mapping of fields")
    return meta, match.group("body").strip()


def article_from_fields(meta: dict[str, Any], body: str, source: str) -> Article:
    """Builds a validated article from front-matter fields and a body.

    Raises:
        ArticleError: the problem :func:`field_problems` finds, or all of them at once.
    """
    problems = field_problems(meta, body)
    if problems:
        raise ArticleError.of(source, problems)
    return Article(
        id=str(meta["id"]).strip(), title=str(meta["title"]).strip(), body=body.strip(),
        moments=tuple(_as_list(meta.get("moments"))),
        channels=tuple(_as_list(meta.get("channels", list(CHANNELS)))),
        status=meta.get("status", "draft"), version=meta.get("version", 1),
        owner=str(meta.get("owner") or ""), summary=str(meta.get("summary") or "").strip(),
        source=source,
    )


def field_problems(meta: dict[str, Any], body: str) -> list[tuple[str, str]]:
    """Every problem of an article's fields, as (field, reason) pairs in field order.

    Collecting them all lets an editor fix a draft in one pass instead of one error at a time.
    """
    problems = [*_text_problems(meta, "id"), *_text_problems(meta, "title")]
    article_id = str(meta.get("id") or "").strip()
    if article_id and not _ID_PATTERN.match(article_id):
        problems.append(("id", f"{article_id!r} must be lowercase letters, digits and '-'"))
    if len(str(meta.get("title") or "").strip()) > MAX_TITLE_CHARS:
        problems.append(("title", f"longer than {MAX_TITLE_CHARS} characters"))
    if not body.strip():
        problems.append(("body", "the body is empty"))
    elif len(body) > MAX_BODY_CHARS:
        problems.append(("body", f"{len(body)} characters, more than {MAX_BODY_CHARS}"))
    moments = meta.get("moments")
    if not _is_name_list(moments):
        problems.append(("moments", "must be a list of names"))
    elif not _as_list(moments):
        problems.append(("moments", "name at least one moment this article solves"))
    channels = meta.get("channels", list(CHANNELS))
    if not _is_name_list(channels):
        problems.append(("channels", "must be a list of names"))
    elif sorted(set(_as_list(channels)) - set(CHANNELS)):
        unknown = sorted(set(_as_list(channels)) - set(CHANNELS))
        problems.append(("channels", f"unknown channel(s) {unknown}; known: {list(CHANNELS)}"))
    status = meta.get("status", "draft")
    if status not in STATUSES:
        problems.append(("status", f"{status!r} is not one of {list(STATUSES)}"))
    version = meta.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        shown = version if isinstance(version, int | float | str) else str(version)
        problems.append(("version", f"{shown!r} must be a whole number from 1"))
    for name in ("owner", "summary"):
        value = meta.get(name)
        if value is not None and not isinstance(value, str):
            problems.append((name, f"must be text, got {type(value).__name__}"))
    for name, text in (("title", meta.get("title")), ("summary", meta.get("summary")),
                       ("owner", meta.get("owner")), ("body", body)):
        if isinstance(text, str) and unreadable(text, allowed="\n\t" if name == "body" else ""):
            problems.append((name, "contains control characters"))
    for name in sorted(set(meta) - set(FIELDS)):
        close = closest(str(name), FIELDS)
        hint = f" (did you mean {close}?)" if close else f"; the fields are {', '.join(FIELDS)}"
        problems.append((str(name), f"unknown field{hint}"))
    return problems


def load_articles(directory: Path, known_moments: Iterable[str] | None = None) -> list[Article]:
    """Loads every ``*.md`` article under ``directory``, sorted by id.

    Raises:
        ArticleError: every bad file (a :class:`ArticleErrors` when more than one), a
            duplicate id, or a moment the catalogue lacks.
    """
    if not directory.is_dir():
        reason = "not a directory" if directory.exists() else "no such directory"
        raise ArticleError(str(directory), f"{reason} (the articles' folder)")
    articles: list[Article] = []
    errors: list[ArticleError] = []
    seen: dict[str, str] = {}
    moments = set(known_moments) if known_moments is not None else None
    for path in sorted(directory.glob("*.md")):
        try:
            article = _load_file(path, moments)
            if article.id in seen:
                raise ArticleError(str(path), f"duplicate id, also in {seen[article.id]}", "id")
        except ArticleError as error:
            errors.append(error)
            continue
        seen[article.id] = str(path)
        articles.append(article)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ArticleErrors(errors)
    return articles


def _load_file(path: Path, moments: set[str] | None) -> Article:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ArticleError(source, f"not UTF-8 text ({error.reason})") from error
    except OSError as error:
        raise ArticleError(source, f"cannot read: {error.strerror or error}") from error
    article = parse_article(text, source)
    if path.stem != article.id:
        raise ArticleError(source, f"id {article.id!r} differs from the file name", "id")
    if moments is not None:
        missing = sorted(set(article.moments) - moments)
        if missing:
            raise ArticleError(source, f"unknown moment(s) {missing}", "moments")
    return article


def render_article(article: Article) -> str:
    """The file text of an article: the inverse of :func:`parse_article`."""
    meta = {
        "id": article.id, "title": article.title, "moments": list(article.moments),
        "channels": list(article.channels), "status": article.status,
        "version": article.version, "owner": article.owner, "summary": article.summary,
    }
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=100)
    return f"---\n{front}---\n{article.body}\n"


def _text_problems(meta: dict[str, Any], name: str) -> list[tuple[str, str]]:
    value = meta.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return [(name, "missing")]
    if not isinstance(value, str | int) or isinstance(value, bool):
        return [(name, f"must be text, got {type(value).__name__}")]
    return []


def _is_name_list(value: Any) -> bool:
    if value is None or isinstance(value, str):
        return value is None or bool(value)
    return isinstance(value, list | tuple) and all(isinstance(v, str) and v for v in value)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)
