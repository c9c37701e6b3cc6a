"""The moments-of-truth catalogue: one YAML file defines every moment.

Each moment is a Rasa intent with metadata (journey stage, severity, handoff policy,
confidence threshold, routing skill, linked articles) and its training examples. The Rasa
domain's intents and the NLU data are generated from it (:mod:`bot.generate`), so they
cannot drift. Loading validates everything and raises :class:`CatalogueError` naming the
file, the moment and the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

STAGES = ("onboarding", "ordering", "payment", "delivery", "returns", "billing", "account",
          "subscription", "complaints", "contact")
SEVERITIES = ("low", "medium", "high", "critical")
HANDOFF_POLICIES = ("bot_first", "always_person")
SKILLS = ("general", "orders", "delivery", "returns", "billing", "account", "subscription",
          "complaints")
MIN_EXAMPLES = 20
_ID = re.compile(r"^[a-z][a-z0-9_]{1,60}$")
#: The moment of a customer asking for a person: a request, not a problem to solve.
PERSON_MOMENT = "request_human"
#: Intents that are not moments: conversation mechanics handled by the dialogue.
CONVERSATION_INTENTS = ("greet", "goodbye", "thanks", "affirm", "deny", "out_of_scope", "vague")


class CatalogueError(ValueError):
    """The catalogue file breaks a rule; says where and why."""

    def __init__(self, source: str, reason: str, moment: str | None = None) -> None:
        self.source, self.moment, self.reason = source, moment, reason
        where = f"{source}: moment {moment!r}" if moment else source
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Moment:
    """A known situation where the company must come through."""

    id: str
    title: str
    description: str
    stage: str
    severity: str
    handoff: str
    threshold: float
    skill: str
    articles: tuple[str, ...]
    examples: tuple[str, ...]

    @property
    def always_person(self) -> bool:
        return self.handoff == "always_person"


@dataclass(frozen=True)
class Catalogue:
    """All moments of one company, in file order."""

    company: str
    moments: tuple[Moment, ...]
    source: str = ""

    def __getitem__(self, moment_id: str) -> Moment:
        for moment in self.moments:
            if moment.id == moment_id:
                return moment
        raise KeyError(moment_id)

    def get(self, moment_id: str | None) -> Moment | None:
        return next((m for m in self.moments if m.id == moment_id), None)

    def __contains__(self, moment_id: object) -> bool:
        return any(m.id == moment_id for m in self.moments)

    @property
    def ids(self) -> list[str]:
        return [m.id for m in self.moments]


def load_catalogue(path: Path) -> Catalogue:
    """Reads and validates the catalogue file."""
    source = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise CatalogueError(source, f"cannot read: {error}") from error
    except yaml.YAMLError as error:
        raise CatalogueError(source, f"broken YAML: {error}") from error
    return parse_catalogue(data, source)


def parse_catalogue(data: Any, source: str = "<catalogue>") -> Catalogue:
    """Validates catalogue data already parsed from YAML."""
    if not isinstance(data, dict) or not isinstance(data.get("moments"), list):
        raise CatalogueError(source, "expected a mapping with a 'moments' list")
    moments: list[Moment] = []
    seen_examples: dict[str, str] = {}
    for position, entry in enumerate(data["moments"]):
        moment = _parse_moment(entry, source, position)
        if moment.id in {m.id for m in moments}:
            raise CatalogueError(source, "defined twice", moment.id)
        if moment.id in CONVERSATION_INTENTS:
            raise CatalogueError(source, "reserved for the dialogue", moment.id)
        for example in moment.examples:
            key = example.lower()
            if key in seen_examples:
                raise CatalogueError(source, f"example {example!r} also belongs to "
                                             f"{seen_examples[key]!r}", moment.id)
            seen_examples[key] = moment.id
        moments.append(moment)
    if not moments:
        raise CatalogueError(source, "defines no moments")
    return Catalogue(str(data.get("company", "")), tuple(moments), source)


def _parse_moment(entry: Any, source: str, position: int) -> Moment:
    if not isinstance(entry, dict):
        raise CatalogueError(source, f"entry {position} is not a mapping")
    moment_id = str(entry.get("id", ""))
    if not _ID.match(moment_id):
        raise CatalogueError(source, f"entry {position}: id {moment_id!r} must be snake_case")

    def choice(name: str, allowed: tuple[str, ...]) -> str:
        value = entry.get(name)
        if value not in allowed:
            raise CatalogueError(source, f"{name} {value!r} is not one of {list(allowed)}",
                                 moment_id)
        return str(value)

    threshold = entry.get("threshold")
    if not isinstance(threshold, int | float) or not 0.0 <= float(threshold) <= 1.0:
        raise CatalogueError(source, f"threshold {threshold!r} must be a number in 0..1",
                             moment_id)
    examples = entry.get("examples") or []
    if not isinstance(examples, list) or not all(isinstance(e, str) for e in examples):
        raise CatalogueError(source, "examples must be a list of texts", moment_id)
    cleaned = tuple(e.strip() for e in examples if e.strip())
    if len(cleaned) < MIN_EXAMPLES:
        raise CatalogueError(source, f"{len(cleaned)} examples; at least {MIN_EXAMPLES} needed",
                             moment_id)
    articles = entry.get("articles") or []
    if not isinstance(articles, list) or not all(isinstance(a, str) for a in articles):
        raise CatalogueError(source, "articles must be a list of article ids", moment_id)
    title = str(entry.get("title") or "").strip()
    if not title:
        raise CatalogueError(source, "title is missing", moment_id)
    return Moment(
        id=moment_id, title=title, description=str(entry.get("description") or ""),
        stage=choice("stage", STAGES), severity=choice("severity", SEVERITIES),
        handoff=choice("handoff", HANDOFF_POLICIES), threshold=float(threshold),
        skill=choice("skill", SKILLS), articles=tuple(articles), examples=cleaned,
    )
