"""Accepted agent corrections as Rasa NLU training data, with personal data redacted.

The catalogue maintainers merge the file into ``bot/moments.yml``; it goes into the
repository, so the customer's e-mails, phone numbers, card numbers and IBANs are replaced
by placeholders (:mod:`bot.pii`) here, not left for a reviewer to spot. spaCy (under the
redactor) takes a second to load, so it is loaded once, on first use, off the event loop.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timezone

import yaml
from aiohttp import web

from bot.pii import LazyRedactor
from desk.corrections import Correction

REDACTOR = web.AppKey("redactor", LazyRedactor)


class _Literal(str):
    """A string dumped as a YAML block (``|``), the way Rasa writes ``examples``."""


class _NluDumper(yaml.SafeDumper):
    pass


_NluDumper.add_representer(_Literal, lambda dumper, text: dumper.represent_scalar(
    "tag:yaml.org,2002:str", text, style="|"))


def one_line(text: str) -> str:
    """An example is one line of a YAML list item: whitespace runs become one space."""
    return re.sub(r"\s+", " ", text).strip()


def nlu_yaml(examples: Iterable[tuple[str, str]], now: datetime | None = None) -> str:
    """``version: "3.1"`` NLU data from (moment, redacted text) pairs.

    Intents sorted by name, examples deduplicated in their first order.
    """
    by_moment: dict[str, dict[str, None]] = defaultdict(dict)
    for moment, text in examples:
        line = one_line(text)
        if line:
            by_moment[moment][line] = None
    data = {"version": "3.1", "nlu": [
        {"intent": moment, "examples": _Literal("".join(f"- {t}\n" for t in texts))}
        for moment, texts in sorted(by_moment.items())]}
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    header = (f"# Agent-corrected examples accepted in the desk's review, exported {stamp}.\n"
              "# Personal data is redacted. Merge into bot/moments.yml (the moments' "
              "examples).\n")
    return header + yaml.dump(data, Dumper=_NluDumper, sort_keys=False, allow_unicode=True,
                              width=1000)


async def export_accepted(corrections: Iterable[Correction], redactor: LazyRedactor) -> str:
    """The accepted ones among ``corrections``, as NLU YAML."""
    accepted = [c for c in corrections if c.status == "accepted"]
    texts = await redactor.redact([c.text for c in accepted])
    return nlu_yaml((c.corrected, text) for c, text in zip(accepted, texts, strict=True))
