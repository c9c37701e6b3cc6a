"""Build steps before start-up: generate Rasa files, validate content, train, index.

Each step is skipped when its inputs have not changed: the trained model is cached under
``<cache>/models/<key>.tar.gz``, the key hashing every file that shapes the model; the
knowledge snapshot carries its own key in its manifest.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from bot.catalogue import Catalogue, CatalogueError, load_catalogue
from bot.entities import load_company_names
from bot.generate import generated_files, stale, write
from bot.settings import REPO, Settings
from bot.yaml_errors import closest, item_lines, safe_load_unique, yaml_problem
from knowledge.articles import Article, ArticleError, load_articles

Progress = Callable[[str], None]

#: Files whose content shapes the trained model.
MODEL_INPUTS = ("config.yml", "bot/domain/*.yml", "bot/data/*.yml", "bot/components/*.py",
                "bot/entities.py", "knowledge/embedder.py", "requirements.lock")


class BuildError(RuntimeError):
    """A build step failed; the message says which and why."""


def rasa_env() -> dict[str, str]:
    """The environment every Rasa-side process runs with."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    # Rasa's training cache lives beside the cached models, outside the clone.
    env.setdefault("RASA_CACHE_DIRECTORY", str(Path.home() / ".cache" / "mot-assist" / "rasa"))
    return env


def pipeline_options(component: str) -> dict[str, Any]:
    """config.yml's options of the pipeline component whose name ends with ``component``."""
    config = yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8"))
    part: dict[str, Any] = next((part for part in config.get("pipeline") or []
                                 if str(part.get("name", "")).endswith(component)), {})
    return {key: value for key, value in part.items() if key != "name"}


def config_problems(path: Path = REPO / "config.yml") -> list[str]:
    """Every problem of config.yml that can be seen without Rasa, each with its place: YAML
    that does not parse, a pipeline entry or policy without a name or with a name Rasa would
    not find (:func:`component_problem`), a bad option of the moment
    classifier (:mod:`bot.components.options`), a company names file that does not load.

    ``rasa train`` would find most of these too, some of them minutes into training and
    deep in a traceback.
    """
    from bot.components.options import option_problems

    try:
        text = path.read_text(encoding="utf-8-sig")
        config = safe_load_unique(text)
    except OSError as error:
        return [f"{path}: cannot read: {error.strerror or error}"]
    except UnicodeDecodeError as error:
        return [f"{path}: cannot read: not UTF-8 text ({error.reason} at byte {error.start})"]
    except yaml.YAMLError as error:
        line, reason = yaml_problem(error)
        return [f"{path}:{line}: broken YAML: {reason}" if line else
                f"{path}: broken YAML: {reason}"]
    if not isinstance(config, dict) or not isinstance(config.get("pipeline"), list):
        return [f"{path}: expected a mapping with a 'pipeline' list"]
    problems: list[str] = []
    for where, name, part in _named_entries(path, text, config, "pipeline", problems):
        if name.endswith("MomentClassifier"):
            options = {k: v for k, v in part.items() if k != "name"}
            problems += [f"{where}: MomentClassifier: {p}" for p in option_problems(options)]
        elif name.endswith("RuleEntityExtractor") and part.get("company_names"):
            try:
                load_company_names(REPO / str(part["company_names"]))
            except ValueError as error:
                problems.append(f"{where}: RuleEntityExtractor company_names: {error}")
    policies = config.get("policies")
    if policies is not None and not isinstance(policies, list):
        problems.append(f"{path}: 'policies' must be a list")
    # a policy's options are Rasa's to check; their names are checked here
    list(_named_entries(path, text, config, "policies", problems))
    return problems


def _named_entries(path: Path, text: str, config: dict[str, Any], key: str,
                   problems: list[str]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Each entry of the list ``key`` whose name Rasa would find, with its place; the
    problems of the others (no name, or a name Rasa would not find) go to ``problems``."""
    entries = config.get(key)
    lines = item_lines(text, key)
    for position, part in enumerate(entries if isinstance(entries, list) else []):
        where = f"{path}:{lines[position]}" if position < len(lines) else str(path)
        name = part.get("name") if isinstance(part, dict) else None
        if not isinstance(name, str) or not name:
            problems.append(f"{where}: {key} entry {position} needs a 'name'")
        elif unknown := component_problem(name):
            problems.append(f"{where}: {unknown}")
        else:
            yield where, name, part


#: The components Rasa 3.6 knows by their class name alone (its recipe's registry,
#: ``rasa.engine.recipes.default_components``; a test holds this list to it).
RASA_COMPONENTS = frozenset({
    "AugmentedMemoizationPolicy", "CRFEntityExtractor", "ConveRTFeaturizer",
    "CountVectorsFeaturizer", "DIETClassifier", "DucklingEntityExtractor",
    "EntitySynonymMapper", "FallbackClassifier", "JiebaTokenizer", "KeywordIntentClassifier",
    "LanguageModelFeaturizer", "LexicalSyntacticFeaturizer", "LogisticRegressionClassifier",
    "MemoizationPolicy", "MitieEntityExtractor", "MitieFeaturizer", "MitieIntentClassifier",
    "MitieNLP", "MitieTokenizer", "RegexEntityExtractor", "RegexFeaturizer",
    "ResponseSelector", "RulePolicy", "SklearnIntentClassifier", "SpacyEntityExtractor",
    "SpacyFeaturizer", "SpacyNLP", "SpacyTokenizer", "TEDPolicy", "UnexpecTEDIntentPolicy",
    "WhitespaceTokenizer",
})


def component_problem(name: str) -> str | None:
    """Why Rasa would not find the component or policy ``name``, or None: a bare class name
    must be one of Rasa's own (:data:`RASA_COMPONENTS`); a dotted one must name a class of a
    module that exists (the project's modules are read, not imported: importing a
    component loads TensorFlow)."""
    if "." not in name:
        if name in RASA_COMPONENTS:
            return None
        guess = closest(name, RASA_COMPONENTS)
        return (f"unknown component '{name}'" + (f"; did you mean '{guess}'?" if guess else
                "; give one of Rasa's components or a dotted path to a class"))
    module, _, cls = name.rpartition(".")
    source = next((f for f in (REPO / Path(*module.split(".")).with_suffix(".py"),
                               REPO / Path(*module.split(".")) / "__init__.py") if f.is_file()),
                  None)
    if source is None:
        if (REPO / module.split(".")[0]).exists():
            return f"component '{name}': there is no module '{module}' in this project"
        try:
            found = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            found = None
        return None if found else f"component '{name}': no module '{module}' can be imported"
    tree = ast.parse(source.read_text(encoding="utf-8"), str(source))
    defined = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    defined |= {alias.asname or alias.name for node in tree.body
                if isinstance(node, ast.ImportFrom) for alias in node.names}
    if cls in defined:
        return None
    guess = closest(cls, defined)
    return (f"component '{name}': {module} has no class '{cls}'"
            + (f"; did you mean '{module}.{guess}'?" if guess else ""))


def load_content(settings: Settings) -> tuple[Catalogue, list[Article]]:
    """Loads and cross-checks config.yml, the catalogue and the articles.

    Raises:
        BuildError: every problem found (the articles are still checked when the catalogue
            is bad, against no moments), one per line; a single problem keeps its own type.
    """
    errors: list[Exception] = [BuildError(problem) for problem in config_problems()]
    # the files' names are the ids (a rule load_articles checks), so the catalogue's links
    # are checked even where an article file has a problem of its own
    folder = settings.articles_dir
    files = {p.stem for p in folder.glob("*.md")} if folder.is_dir() else None
    catalogue: Catalogue | None = None
    try:
        catalogue = load_catalogue(settings.catalogue_path, files)
    except CatalogueError as error:
        errors.extend(getattr(error, "errors", [error]))
    articles: list[Article] = []
    try:
        articles = load_articles(folder, catalogue.ids if catalogue else None)
    except ArticleError as error:
        errors.extend(getattr(error, "errors", [error]))
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise BuildError(f"{len(errors)} problems:\n" + "\n".join(f"  {e}" for e in errors))
    assert catalogue is not None
    return catalogue, articles


def generate(catalogue: Catalogue, check: bool = False) -> list[Path]:
    """Writes the catalogue-generated Rasa files (or, with ``check``, lists stale ones)."""
    files = generated_files(catalogue, REPO / "bot")
    return stale(files) if check else write(files)


BLANK_SPACY_MODEL = REPO / "bot" / "spacy" / "en_blank"


def ensure_blank_spacy_model(path: Path = BLANK_SPACY_MODEL) -> Path:
    """Writes a blank English spaCy pipeline to disk (Rasa's SpacyNLP loads by path).

    No statistical English model exists for spaCy 3.4 on the registries; tokens and rule
    entities need only the tokenizer. config.yml names this path, and any other model
    name or path can be put there instead.
    """
    if (path / "meta.json").exists():
        return path
    import spacy

    nlp = spacy.blank("en")
    nlp.meta.update({"name": "en_blank", "version": "1.0.0",
                     "description": "Blank English pipeline: tokenizer only."})
    write_directory(path, "meta.json", nlp.to_disk)
    return path


def write_directory(path: Path, marker: str, write: Callable[[Path], None]) -> None:
    """Has ``write`` fill a directory aside and renames it into place as ``path``.

    Readers never see a half-written directory, and an interrupted write leaves nothing.
    Two processes may do this at once (benchmarks side by side once both wrote the spaCy
    model, and the second failed on the first's directory): the one that renames second
    keeps the other's, recognised by its ``marker`` file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        write(staging)
        try:
            os.rename(staging, path)
        except OSError:
            if not (path / marker).exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


#: Where a Rasa model archive keeps the moment classifier's fine-tuned encoder.
ENCODER_IN_MODEL = re.compile(r"^components/[^/]*MomentClassifier[^/]*/encoder/(?P<path>.+)$")


def trained_encoder(model: Path) -> Path | None:
    """The moment classifier's fine-tuned encoder, unpacked once beside the model archive
    (``<model>-encoder/``); None when the classifier kept the original encoder (frozen).

    The knowledge index, the action server and the desk encode with it: on the shipped
    knowledge base's held-out questions it retrieves better than the original weights
    (``python -m bench.nlu.retrieval_weights``; ADR 0007).
    """
    directory = model.with_name(model.name.removesuffix(".tar.gz") + "-encoder")
    if (directory / "modules.json").exists():
        return directory
    with tarfile.open(model) as archive:
        members = [(member, match["path"]) for member in archive.getmembers()
                   if member.isfile() and (match := ENCODER_IN_MODEL.match(member.name))]
        if not members:
            return None

        def unpack(staging: Path) -> None:
            for member, relative in members:
                if ".." in Path(relative).parts:
                    raise BuildError(f"{model}: unsafe path in the archive: {member.name}")
                target = staging / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(member)
                assert source is not None
                with source, target.open("wb") as out:
                    shutil.copyfileobj(source, out)

        write_directory(directory, "modules.json", unpack)
    return directory


def embedding_settings(settings: Settings, model: Path | None = None) -> Settings:
    """Settings whose embedding model is the fine-tuned encoder of ``model`` (by default the
    model trained for the current inputs), when ``MOT_EMBEDDING_MODEL`` names none and that
    model exists and has one: what ``mot up`` gives the processes it starts, so that a
    process started on its own (a desk or action server replica, the knowledge CLI) encodes
    as they do and reads the same knowledge index instead of building one with other
    weights."""
    if "MOT_EMBEDDING_MODEL" in os.environ:
        return settings
    model = model or settings.models_dir / f"{model_key()}.tar.gz"
    encoder = trained_encoder(model) if model.exists() else None
    return settings if encoder is None else dataclasses.replace(settings,
                                                                  embedding_model=str(encoder))


def model_key() -> str:
    digest = hashlib.sha256()
    for pattern in MODEL_INPUTS:
        for path in sorted(REPO.glob(pattern)):
            digest.update(str(path.relative_to(REPO)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def train(settings: Settings, progress: Progress, force: bool = False) -> Path:
    """Returns the trained model for the current inputs, training it if needed."""
    ensure_blank_spacy_model()
    key = model_key()
    model = settings.models_dir / f"{key}.tar.gz"
    if model.exists() and not force:
        progress(f"model {model.name} is up to date (inputs unchanged)")
        return model
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    progress(f"training the Rasa model {key} (inputs changed; one to two minutes)")
    started = time.perf_counter()
    command = [sys.executable, "-m", "rasa", "train", "--config", "config.yml",
               "--domain", "bot/domain", "--data", "bot/data", "--out", str(settings.models_dir),
               "--fixed-model-name", key]
    result = subprocess.run(command, cwd=REPO, env=rasa_env(), check=False)
    if result.returncode != 0 or not model.exists():
        raise BuildError(f"`rasa train` failed with exit code {result.returncode}")
    progress(f"trained {model} in {time.perf_counter() - started:.0f} s")
    return model
