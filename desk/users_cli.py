"""``python -m desk users add NAME --role agent [--role content] [--skill delivery ...]``.

The password comes from ``MOT_NEW_PASSWORD`` or an interactive prompt, never from the
command line (it would land in the shell history and the process list).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys

from bot.catalogue import SKILLS
from bot.settings import ConfigError, load_settings
from desk.users import ROLES, UserInvalid, UserStore, create_user, hash_password

#: The shortest password the command accepts for a new user.
MIN_PASSWORD_CHARS = 8


def _password() -> str:
    given = os.environ.get("MOT_NEW_PASSWORD")
    if given is None:
        if not sys.stdin.isatty():
            raise UserInvalid("no password given: set MOT_NEW_PASSWORD (there is no terminal "
                              "to ask on)")
        given = getpass.getpass("Password: ")
        if given != getpass.getpass("Again: "):
            raise UserInvalid("the passwords differ")
    if len(given) < MIN_PASSWORD_CHARS:
        where = "MOT_NEW_PASSWORD" if "MOT_NEW_PASSWORD" in os.environ else "the password"
        raise UserInvalid(f"{where} has {len(given)} characters; use at least "
                          f"{MIN_PASSWORD_CHARS}")
    return given


async def _list(url: str) -> None:
    store = await UserStore.open(url)
    try:
        for user in await store.all():
            print(f"{user.name}\troles={','.join(user.roles)}\tskills={','.join(user.skills)}")
    finally:
        await store.close()


async def _change(url: str, command: str, name: str) -> int:
    """``remove`` or ``passwd`` for the user named ``name``; 1 when there is none."""
    password = hash_password(_password()) if command == "passwd" else ""
    store = await UserStore.open(url)
    try:
        done = (await store.remove(name) if command == "remove"
                else await store.set_password(name, password))
    finally:
        await store.close()
    if not done:
        print(f"desk users: no user named {name!r} (see `python -m desk users list`)")
        return 1
    print(f"removed {name}" if command == "remove"
          else f"new password set for {name}; their sessions have ended")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m desk users",
                                     description="manage the desk's users")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="create a user")
    add.add_argument("name")
    add.add_argument("--role", action="append", choices=ROLES, required=True)
    add.add_argument("--skill", action="append", default=[], choices=SKILLS,
                     help="routing skill (repeat); see the moments' skills in bot/moments.yml")
    commands.add_parser("list", help="list the users")
    remove = commands.add_parser("remove", help="delete a user (their sessions end)")
    remove.add_argument("name")
    passwd = commands.add_parser("passwd", help="set a user's password (ends their sessions)")
    passwd.add_argument("name")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if args.command == "list":
            asyncio.run(_list(settings.desk_database_url))
            return 0
        if args.command in ("remove", "passwd"):
            return asyncio.run(_change(settings.desk_database_url, args.command, args.name))
        user = asyncio.run(create_user(settings.desk_database_url, args.name, _password(),
                                       tuple(args.role), tuple(args.skill)))
    except (ConfigError, UserInvalid) as error:
        print(f"desk users: error: {error}")
        return 2
    print(f"created {user.name} (roles {', '.join(user.roles)}; "
          f"skills {', '.join(user.skills) or 'none'})")
    return 0
