"""``python -m desk corrections export [-o FILE]``: accepted examples as Rasa NLU YAML.

For the catalogue maintainers, who merge the output into ``bot/moments.yml``; the same
file the review page downloads (personal data redacted).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from bot.settings import ConfigError, load_settings
from desk.corrections import CorrectionStore
from desk.nlu_export import LazyRedactor, export_accepted
from desk.tables import open_engine


async def _export(database_url: str) -> tuple[str, int]:
    """(the YAML, how many accepted examples it holds)."""
    engine = await open_engine(database_url)
    try:
        found = await CorrectionStore(engine).list("accepted", limit=100_000)
    finally:
        await engine.dispose()
    return await export_accepted(found, LazyRedactor()), len(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m desk corrections",
                                     description="agent-corrected moment examples")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="the accepted examples as Rasa NLU YAML")
    export.add_argument("-o", "--output", type=Path,
                        help="write to this file (default: standard output)")
    args = parser.parse_args(argv)
    # The redactor's spaCy imports TensorFlow here, which would log to the terminal.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        settings = load_settings()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        text, count = asyncio.run(_export(settings.desk_database_url))
    except ConfigError as error:
        print(f"desk corrections: error: {error}", file=sys.stderr)
        return 2
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as error:
        print(f"desk corrections: error: cannot write {args.output}: {error.strerror}",
              file=sys.stderr)
        return 2
    print(f"wrote {count} accepted example(s) to {args.output}", file=sys.stderr)
    return 0
