"""``mot``: the command line of MoT Assist.

    mot up          build what is stale (Rasa files, model, knowledge index), start everything
    mot train       generate the Rasa files from the catalogue and train if inputs changed
    mot index       build the knowledge index if the articles changed
    mot generate    write the catalogue-generated Rasa files (--check: fail if stale)
    mot validate    check the catalogue and articles, report every problem with its place
"""

from __future__ import annotations

import argparse
import signal
import sys
import time

from bot.build import BuildError, generate, load_content, train
from bot.catalogue import CatalogueError
from bot.rasa_config import write_rasa_files
from bot.settings import ConfigError, Settings, load_settings
from bot.supervisor import ProcessDied, Supervisor, services
from knowledge.articles import ArticleError


def say(message: str) -> None:
    print(f"mot: {message}", flush=True)


def build_index(settings: Settings) -> None:
    """Builds the snapshot of the article store's published articles if it is stale.

    The article files seed the store on the first start; after that the store is the
    source of truth (content staff edit it through the desk or ``python -m knowledge``).
    """
    import asyncio

    from knowledge.embedder import SentenceTransformerEmbedder
    from knowledge.service import live_snapshot

    catalogue, _ = load_content(settings)
    started = time.perf_counter()
    snapshot = asyncio.run(live_snapshot(
        settings.desk_database_url, settings.articles_dir, catalogue.ids,
        settings.knowledge_dir, lambda: SentenceTransformerEmbedder(settings.embedding_model),
        settings.embedding_model, progress=say))
    say(f"knowledge index {snapshot.key}: {len(snapshot.articles)} published articles, "
        f"{len(snapshot.passages)} passages ({time.perf_counter() - started:.1f} s)")


def command_generate(settings: Settings, check: bool) -> int:
    catalogue, _ = load_content(settings)
    paths = generate(catalogue, check=check)
    if check and paths:
        say("generated files are stale; run `mot generate`: " + ", ".join(map(str, paths)))
        return 1
    say("generated files are up to date" if not paths else
        "wrote " + ", ".join(map(str, paths)))
    return 0


def command_train(settings: Settings, force: bool = False) -> int:
    catalogue, _ = load_content(settings)
    generate(catalogue)
    say(f"catalogue: {len(catalogue.moments)} moments")
    train(settings, say, force=force)
    return 0


def command_up(settings: Settings) -> int:
    started = time.perf_counter()
    catalogue, articles = load_content(settings)
    generate(catalogue)
    say(f"catalogue: {len(catalogue.moments)} moments, {len(articles)} articles")
    model = train(settings, say)
    build_index(settings)
    endpoints, credentials = write_rasa_files(settings)
    supervisor = Supervisor(settings, services(settings, model, endpoints, credentials), say)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    try:
        supervisor.start()
        say(f"ready in {time.perf_counter() - started:.0f} s. Talk to it:")
        print(f"""
  customer, REST:      curl -s {settings.rasa_url}/webhooks/rest/webhook \\
                         -d '{{"sender": "me", "message": "my parcel is late"}}'
  customer, web chat:  socket.io at {settings.rasa_url} (path /socket.io; rasa-webchat
                       socketUrl "{settings.rasa_url}")
  agent desk:          {settings.desk_url}/desk
  content staff:       {settings.desk_url}/content
                       (users: python -m desk users add NAME --role agent|supervisor|content)
  desk API:            {settings.desk_url}/api/handoffs
                       (Authorization: Bearer <{settings.data_dir}/secrets/desk-token>)
  logs:                {settings.data_dir}/logs/

Press Ctrl-C to stop.""", flush=True)
        supervisor.watch()
        say("stopping")
        return 0
    except ProcessDied as died:
        say(str(died))
        return 1
    finally:
        supervisor.stop()
        say("all processes stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="build what is stale and start the whole assistant")
    train_parser = commands.add_parser("train", help="train the Rasa model if inputs changed")
    train_parser.add_argument("--force", action="store_true", help="train even if cached")
    commands.add_parser("index", help="build the knowledge index if the articles changed")
    generate_parser = commands.add_parser("generate", help="write catalogue-generated files")
    generate_parser.add_argument("--check", action="store_true", help="fail if they are stale")
    commands.add_parser("validate", help="check the catalogue and the articles")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        if args.command == "up":
            return command_up(settings)
        if args.command == "train":
            return command_train(settings, args.force)
        if args.command == "index":
            build_index(settings)
            return 0
        if args.command == "generate":
            return command_generate(settings, args.check)
        catalogue, articles = load_content(settings)
        say(f"ok: {len(catalogue.moments)} moments, {len(articles)} articles")
        return 0
    except (ConfigError, CatalogueError, ArticleError, BuildError) as error:
        say(f"error: {error}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
