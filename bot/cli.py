"""``mot``: the command line of MoT Assist.

    mot up          build what is stale (Rasa files, model, knowledge index), start everything
    mot train       generate the Rasa files from the catalogue and train if inputs changed
    mot index       build the knowledge index if the articles changed
    mot generate    write the catalogue-generated Rasa files (--check: fail if stale)
    mot validate    check the catalogue and articles, report every problem with its place
    mot thresholds  choose the moments' confidence thresholds on validation data (--write)
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from bot.build import (
    REPO,
    BuildError,
    embedding_settings,
    generate,
    load_content,
    pipeline_options,
    train,
)
from bot.catalogue import CatalogueError
from bot.rasa_config import write_rasa_files
from bot.settings import ConfigError, Settings, load_settings, unreachable_services
from bot.supervisor import ProcessDied, Supervisor, services
from bot.thresholds import DEFAULT_OUT_OF_SCOPE
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


def command_thresholds(settings: Settings, out_of_scope: Path, write: bool,
                       report: Path) -> int:
    """Measures the per-severity thresholds (bot/thresholds.py); ``write`` puts them in the
    catalogue. Prints the figures and keeps them in ``report``."""
    import json

    from rasa.shared.nlu.constants import INTENT, TEXT
    from rasa.shared.nlu.training_data.loading import load_data

    from bot import thresholds
    from bot.components.moment_classifier import MomentClassifier, calibration_folds

    catalogue, _ = load_content(settings)
    generate(catalogue)
    data = load_data(str(REPO / "bot" / "data" / "nlu_moments.yml")).merge(
        load_data(str(REPO / "bot" / "data" / "conversation.yml")))
    examples = [m for m in data.intent_examples if m.get(TEXT)]
    outside = thresholds.read_out_of_scope(out_of_scope) if out_of_scope.exists() else []
    if not outside:
        say(f"warning: no out-of-scope messages at {out_of_scope}; thresholds from in-scope "
            "messages only")
    options = pipeline_options("MomentClassifier")
    # each fold calibrates as the model of the whole catalogue will: four fifths of it can
    # fall under calibration_folds_below where the whole does not
    options["calibration_folds"] = calibration_folds(
        {**MomentClassifier.get_default_config(), **options}, len(examples))
    say(f"validating on {len(examples)} catalogue examples (5-fold, config.yml's classifier; "
        f"a few minutes when it fine-tunes) and {len(outside)} out-of-scope messages")
    scored = thresholds.validation_predictions(
        [str(m.get(TEXT)) for m in examples], [str(m.get(INTENT)) for m in examples],
        outside, thresholds.classifier_fit(options))
    result = thresholds.choose_all(scored, catalogue)
    result["validation"] = {"in_scope": len(examples), "out_of_scope": len(outside),
                            "out_of_scope_source": str(out_of_scope)}
    report.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    for severity, figure in result["severities"].items():
        say(f"{severity:>8}: threshold {figure['threshold']:.2f} for {figure['moments']} "
            f"moments: precision {figure['precision']} (target {figure['target_precision']}), "
            f"answered right {figure['coverage']:.0%} of their messages")
    say(f"out-of-scope messages answered with an article: {result['out_of_scope_answered']}")
    if write:
        changed = thresholds.write_thresholds(settings.catalogue_path, result["thresholds"])
        say(f"{settings.catalogue_path}: " + ("thresholds written" if changed else "unchanged"))
    say(f"report: {report}")
    return 0


def with_trained_encoder(settings: Settings, model: Path) -> Settings:
    """Settings whose embedding model is the classifier's fine-tuned encoder, when it has one
    and ``MOT_EMBEDDING_MODEL`` does not name another (:func:`bot.build.embedding_settings`);
    the processes ``mot up`` starts get it through their environment. The knowledge index is
    keyed by the model, so it is rebuilt with these weights (ADR 0007: they retrieve better
    than the original ones)."""
    chosen = embedding_settings(settings, model)
    if chosen is settings:
        return settings
    say(f"knowledge index, actions and desk encode with the classifier's fine-tuned encoder "
        f"({Path(chosen.embedding_model).name})")
    os.environ["MOT_EMBEDDING_MODEL"] = chosen.embedding_model
    return chosen


def command_up(settings: Settings) -> int:
    started = time.perf_counter()
    unreachable = unreachable_services(settings)
    if unreachable:
        for problem in unreachable:
            say(f"error: {problem}")
        say("nothing was started: start those services or correct the settings")
        return 2
    catalogue, articles = load_content(settings)
    generate(catalogue)
    say(f"catalogue: {len(catalogue.moments)} moments, {len(articles)} articles")
    model = train(settings, say)
    settings = with_trained_encoder(settings, model)
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
  managers:            {settings.desk_url}/insight
                       (users: python -m desk users add NAME --role
                        agent|supervisor|content|manager)
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
    thresholds_parser = commands.add_parser(
        "thresholds", help="choose the moments' thresholds on validation data")
    thresholds_parser.add_argument("--out-of-scope", type=Path, default=DEFAULT_OUT_OF_SCOPE,
                                   help="out-of-scope messages (CLINC150 JSON or one a line)")
    thresholds_parser.add_argument("--write", action="store_true",
                                   help="write the thresholds into the catalogue")
    thresholds_parser.add_argument("--report", type=Path,
                                   default=REPO / "bench" / "results" / "thresholds.json")
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
        if args.command == "thresholds":
            return command_thresholds(settings, args.out_of_scope, args.write, args.report)
        catalogue, articles = load_content(settings)
        say(f"ok: {len(catalogue.moments)} moments, {len(articles)} articles")
        return 0
    except (ConfigError, CatalogueError, ArticleError, BuildError) as error:
        say(f"error: {error}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
