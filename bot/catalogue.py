"""The moments-of-truth catalogue: one YAML file defines every moment.

Each moment is a Rasa intent with metadata (journey stage, severity, handoff policy,
confidence threshold, routing skill, linked articles) and its training examples. The Rasa
domain's intents and the NLU data are generated from it (:mod:`bot.generate`), so they
cannot drift. Loading validates everything and raises :class:`CatalogueError` naming the
file, the moment and the reason.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.yaml_errors import closest, item_lines, safe_load_noting_duplicates, yaml_problem

STAGES = ("onboarding", "ordering", "payment", "delivery", "returns", "billing", "account",
          "subscription", "complaints", "contact")
SEVERITIES = ("low", "medium", "high", "critical")
HANDOFF_POLICIES = ("bot_first", "always_person")
SKILLS = ("general", "orders", "delivery", "returns", "billing", "account", "subscription",
          "complaints")
MIN_EXAMPLES = 20
#: The catalogue's keys, and each moment's.
TOP_KEYS = ("version", "company", "moments")
MOMENT_KEYS = ("id", "title", "description", "stage", "severity", "handoff", "threshold",
               "skill", "articles", "examples")
_ID = re.compile(r"^[a-z][a-z0-9_]{1,60}$")
#: The moment of a customer asking for a person: a request, not a problem to solve.
PERSON_MOMENT = "request_human"
#: Intents that are not moments: conversation mechanics handled by the dialogue.
CONVERSATION_INTENTS = ("greet", "goodbye", "thanks", "affirm", "deny", "out_of_scope", "vague")


class CatalogueError(ValueError):
    """The catalogue file breaks a rule; says where (file, line, moment) and why."""

    def __init__(self, source: str, reason: str, moment: str | None = None,
                 line: int | None = None) -> None:
        self.source, self.moment, self.reason, self.line = source, moment, reason, line
        where = f"{source}:{line}" if line else source
        where = f"{where}: moment {moment!r}" if moment else where
        super().__init__(f"{where}: {reason}")


class CatalogueErrors(CatalogueError):
    """Several problems in the catalogue; holds each one, told one per line."""

    def __init__(self, errors: list[CatalogueError]) -> None:
        self.errors = errors
        self.source, self.moment, self.reason, self.line = errors[0].source, None, "", None
        ValueError.__init__(self, f"{errors[0].source}: {len(errors)} problems:\n"
                            + "\n".join(f"  {error}" for error in errors))

    @classmethod
    def raise_any(cls, errors: list[CatalogueError]) -> None:
        """Raises the one problem, or all of them as one error; nothing when there is none."""
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise cls(errors)


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


def load_catalogue(path: Path, article_ids: Collection[str] | None = None) -> Catalogue:
    """Reads and validates the catalogue file (and, given ``article_ids``, its links).

    Raises:
        CatalogueError: the file cannot be read or parsed, or breaks a rule; a
            :class:`CatalogueErrors` naming every problem (with its line) when several.
    """
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
        data, duplicates = safe_load_noting_duplicates(text)
    except (OSError, UnicodeDecodeError) as error:
        raise CatalogueError(source, f"cannot read: {error}") from error
    except yaml.YAMLError as error:
        line, reason = yaml_problem(error)
        raise CatalogueError(source, f"broken YAML: {reason}", line=line) from error
    errors = [CatalogueError(source, f"{key!r} is given twice; only the last one counts",
                             line=line) for line, key in duplicates]
    try:
        catalogue = parse_catalogue(data, source, item_lines(text, "moments"), article_ids)
    except CatalogueError as error:
        errors += getattr(error, "errors", [error])
    CatalogueErrors.raise_any(sorted(errors, key=lambda e: e.line or 0))
    return catalogue


def parse_catalogue(data: Any, source: str = "<catalogue>",
                    lines: list[int] | None = None,
                    article_ids: Collection[str] | None = None) -> Catalogue:
    """Validates catalogue data already parsed from YAML.

    Args:
        lines: the file line of each entry of ``moments``, to say where a problem is.
        article_ids: the articles there are; a moment linking another is a problem.

    Raises:
        CatalogueError: the problem found, or :class:`CatalogueErrors` with every one.
    """
    if not isinstance(data, dict) or not isinstance(data.get("moments"), list):
        raise CatalogueError(source, "expected a mapping with a 'moments' list")
    lines = lines or []
    errors = [CatalogueError(source, reason) for reason in _unknown_keys(data, TOP_KEYS)]
    if not isinstance(data.get("company", ""), str):
        errors.append(CatalogueError(source, "company must be the company's name (text)"))
    if data.get("version", 1) != 1:
        errors.append(CatalogueError(source, f"version {data.get('version')!r} is not 1, the "
                                             "catalogue format this version reads"))
    moments: list[Moment] = []
    first_line: dict[str, int | None] = {}
    seen_examples: dict[str, str] = {}
    for position, entry in enumerate(data["moments"]):
        line = lines[position] if position < len(lines) else None
        problems: list[CatalogueError] = []
        moment = _parse_moment(entry, source, position, line, problems)
        unknown = [a for a in (moment.articles if moment else ())
                   if article_ids is not None and a not in article_ids]
        if unknown:
            problems.append(CatalogueError(source, f"links unknown article(s) {unknown}",
                                           moment.id if moment else None, line))
        moment_id = moment.id if moment else _entry_id(entry)
        if moment_id in first_line:
            where = f"line {first_line[moment_id]}" if first_line[moment_id] else "before"
            problems.append(CatalogueError(source, f"defined twice (first at {where})",
                                           moment_id, line))
        elif moment_id in CONVERSATION_INTENTS:
            problems.append(CatalogueError(source, "reserved for the dialogue", moment_id, line))
        if moment_id:
            first_line.setdefault(moment_id, line)
        for example in moment.examples if moment else ():
            key = example.lower()
            if key in seen_examples:
                reason = (f"example {example!r} is listed twice" if seen_examples[key] == moment_id
                          else f"example {example!r} also belongs to {seen_examples[key]!r}")
                problems.append(CatalogueError(source, reason, moment_id, line))
            seen_examples.setdefault(key, moment_id)
        errors.extend(problems)
        if moment and not problems:
            moments.append(moment)
    if not data["moments"]:
        errors.append(CatalogueError(source, "defines no moments"))
    CatalogueErrors.raise_any(errors)
    return Catalogue(str(data.get("company", "")), tuple(moments), source)


def _unknown_keys(mapping: dict[Any, Any], known: tuple[str, ...]) -> list[str]:
    """A reason for each key not in ``known`` (a misspelt key was silently ignored)."""
    reasons = []
    for key in sorted(str(k) for k in mapping if k not in known):
        close = closest(key, known)
        hint = f"did you mean {close}?" if close else f"the keys are {', '.join(known)}"
        reasons.append(f"unknown key {key!r} ({hint})")
    return reasons


def _entry_id(entry: Any) -> str:
    return str(entry.get("id", "")) if isinstance(entry, dict) else ""


def _parse_moment(entry: Any, source: str, position: int, line: int | None,
                  problems: list[CatalogueError]) -> Moment | None:
    """The moment of one entry, or None; every problem found is added to ``problems``."""
    if not isinstance(entry, dict):
        problems.append(CatalogueError(source, f"entry {position} is not a mapping", line=line))
        return None
    moment_id = str(entry.get("id", ""))
    if not _ID.match(moment_id):
        problems.append(CatalogueError(
            source, f"entry {position}: id {moment_id!r} must be snake_case", line=line))
        return None
    start = len(problems)

    def problem(reason: str) -> None:
        problems.append(CatalogueError(source, reason, moment_id, line))

    for reason in _unknown_keys(entry, MOMENT_KEYS):
        problem(reason)
    if not isinstance(entry.get("description", ""), str):
        problem("description must be text")

    def choice(name: str, allowed: tuple[str, ...]) -> str:
        value = entry.get(name)
        if value not in allowed:
            problem(f"{name} {value!r} is not one of {list(allowed)}")
        return str(value)

    title = str(entry.get("title") or "").strip()
    if not title:
        problem("title is missing")
    stage, severity = choice("stage", STAGES), choice("severity", SEVERITIES)
    handoff, skill = choice("handoff", HANDOFF_POLICIES), choice("skill", SKILLS)
    threshold = entry.get("threshold")
    if not isinstance(threshold, int | float) or isinstance(threshold, bool) \
            or not 0.0 <= float(threshold) <= 1.0:
        problem(f"threshold {threshold!r} must be a number in 0..1")
        threshold = 0.0
    examples = entry.get("examples") or []
    cleaned: tuple[str, ...] = ()
    if not isinstance(examples, list) or not all(isinstance(e, str) for e in examples):
        problem("examples must be a list of texts")
    else:
        cleaned = tuple(e.strip() for e in examples if e.strip())
        if len(cleaned) < MIN_EXAMPLES:
            problem(f"{len(cleaned)} examples; at least {MIN_EXAMPLES} needed")
    articles = entry.get("articles") or []
    if not isinstance(articles, list) or not all(isinstance(a, str) for a in articles):
        problem("articles must be a list of article ids")
        articles = []
    if len(problems) > start:
        return Moment(id=moment_id, title=title, description="", stage=stage,
                      severity=severity, handoff=handoff, threshold=float(threshold),
                      skill=skill, articles=tuple(articles), examples=cleaned)
    return Moment(
        id=moment_id, title=title, description=str(entry.get("description") or ""),
        stage=stage, severity=severity, handoff=handoff, threshold=float(threshold),
        skill=skill, articles=tuple(articles), examples=cleaned,
    )
