"""``python -m knowledge``: the article store from the command line.

    list [--status S] [--text T]      articles and where they stand
    search TEXT                       articles whose text mentions TEXT
    show ID [--version N]             one version as an article file
    validate FILE                     every error and warning, nothing saved
    create FILE                       a new article (a draft) from a file
    import FILE|DIR                   create or update from files (their status applies)
    edit ID FILE [--base-version N]   save FILE as the next version of ID
    publish ID [--version N]          make a version live (default: the latest)
    retire ID                         take an article out of the index
    rollback ID VERSION               publish an old version's content again
    history [ID]                      the audit log
    export DIR                        every article's latest version as files
    preview "QUESTION" [--draft FILE] which articles come back, with scores and why
    gaps                              messages nothing answered, grouped

Changes are made as ``--user NAME`` (default ``$MOT_USER``), who must be a desk user with
the ``content`` role (``python -m desk users add NAME --role content``): the audit log
names them. publish, retire and rollback rebuild the live index, which the running
assistant picks up within a second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

from knowledge.cli_commands import COMMANDS, Context
from knowledge.embedder import Embedder

CHANGES = {"create", "import", "edit", "publish", "retire", "rollback"}


class UsageError(RuntimeError):
    """The command cannot run as asked; the message says what to do."""


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m knowledge", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    main.add_argument("--user", default=os.environ.get("MOT_USER", ""),
                      help="the content staff member making changes (audit log)")
    main.add_argument("--json", action="store_true", help="machine-readable output")
    sub = main.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list")
    listing.add_argument("--status", choices=("draft", "published", "retired"))
    listing.add_argument("--text")
    sub.add_parser("search").add_argument("text")
    show = sub.add_parser("show")
    show.add_argument("id")
    show.add_argument("--version", type=int)
    for name in ("validate", "create", "import"):
        sub.add_parser(name).add_argument("path", type=Path)
    edit = sub.add_parser("edit")
    edit.add_argument("id")
    edit.add_argument("path", type=Path)
    edit.add_argument("--base-version", type=int)
    edit.add_argument("--note", default="")
    publish = sub.add_parser("publish")
    publish.add_argument("id")
    publish.add_argument("--version", type=int)
    sub.add_parser("retire").add_argument("id")
    rollback = sub.add_parser("rollback")
    rollback.add_argument("id")
    rollback.add_argument("version", type=int)
    sub.add_parser("history").add_argument("id", nargs="?")
    sub.add_parser("export").add_argument("directory", type=Path)
    preview = sub.add_parser("preview")
    preview.add_argument("question")
    preview.add_argument("--moment")
    preview.add_argument("--channel")
    preview.add_argument("-k", type=int, default=5)
    preview.add_argument("--draft", type=Path, help="an article file to preview as if live")
    gaps = sub.add_parser("gaps")
    gaps.add_argument("--days", type=float, default=30.0)
    return main


def main(argv: list[str] | None = None,
         embedder_factory: Callable[[], Embedder] | None = None) -> int:
    """Runs one command; returns the exit status (0 ok, 1 refused, 2 usage or input error)."""
    from bot.build import embedding_settings
    from bot.settings import ConfigError, load_settings
    from knowledge.articles import ArticleError
    from knowledge.store import ArticleConflict, ArticleNotFound

    args = parser().parse_args(argv)
    try:
        settings = embedding_settings(load_settings())  # the index `mot up` builds
        return asyncio.run(_run(args, Context.from_settings(settings, embedder_factory)))
    except (ConfigError, ArticleError, UsageError) as error:
        print(f"knowledge: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a file named on the command line cannot be read or written
        verb = "write" if args.command == "export" else "read"
        print(f"knowledge: error: cannot {verb} {error.filename or 'a file'}: "
              f"{error.strerror or error}", file=sys.stderr)
        return 2
    except (ArticleNotFound, ArticleConflict) as error:
        print(f"knowledge: refused: {error}", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace, context: Context) -> int:
    await context.open()
    try:
        if args.command in CHANGES:
            await _check_content_user(context, args.user)
        return await COMMANDS[args.command](context, args)
    finally:
        await context.close()


async def _check_content_user(context: Context, name: str) -> None:
    from desk.users import UserStore

    if not name:
        raise UsageError("say who makes the change: --user NAME or MOT_USER=NAME")
    users = await UserStore.open(context.settings.desk_database_url)
    try:
        user = next((u for u in await users.all() if u.name == name), None)
    finally:
        await users.close()
    if user is None:
        raise UsageError(f"{name!r} is not a desk user; add one with "
                         f"`python -m desk users add {name} --role content`")
    if "content" not in user.roles:
        raise UsageError(f"{name!r} has the role(s) {', '.join(user.roles)}, not content; "
                         "changes to articles are made by content staff")
