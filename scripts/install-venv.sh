#!/usr/bin/env bash
# Creates the project's virtualenv from requirements.lock, once per lock file.
#
# The venv lives outside the clone, keyed by a hash of the lock file and the Python
# version, so every clone (and every CI run on this machine) reuses it; a changed lock
# gets a fresh venv. A venv is used only once its ".complete" marker exists, so an
# interrupted install is redone, never half-used.
#   usage: scripts/install-venv.sh VENV_DIR
set -euo pipefail

venv="$1"
if [[ -f "$venv/.complete" ]]; then
  exit 0
fi
# One install at a time: a second `make` started meanwhile (another terminal, a second
# clone) waits for the first instead of deleting the venv it is filling.
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
if ! flock -n 9; then
  echo "install: another install of $venv is running; waiting for it" >&2
  flock 9
fi
if [[ -f "$venv/.complete" ]]; then
  exit 0
fi
here="$(cd "$(dirname "$0")/.." && pwd)"

find_python() {
  for candidate in "${MOT_PYTHON:-}" python3.10 "$HOME/.pyenv/versions/3.10.13/bin/python3.10"; do
    [[ -n "$candidate" ]] || continue
    if command -v "$candidate" >/dev/null 2>&1 \
        && PYENV_VERSION="${PYENV_VERSION:-3.10.13}" "$candidate" -c \
          'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

python="$(cd "$here" && find_python)" || {
  echo "install: Python 3.10 not found (Rasa 3.6.21 needs it). Install it (pyenv install 3.10.13)" \
       "or set MOT_PYTHON to a python3.10 binary." >&2
  exit 1
}

echo "install: creating $venv with $python (a first install downloads about 3 GB; takes ~5-10 min)"
rm -rf "$venv"
(cd "$here" && PYENV_VERSION="${PYENV_VERSION:-3.10.13}" "$python" -m venv "$venv")
"$venv/bin/python" -m pip install --quiet --upgrade "pip>=24"
"$venv/bin/python" -m pip install --no-deps --progress-bar on -r "$here/requirements.lock"
"$venv/bin/python" -m pip check
touch "$venv/.complete"

# Keep the two newest venvs; each is several GB.
find "$(dirname "$venv")" -maxdepth 1 -name 'venv-*' -type d -printf '%T@ %p\n' 2>/dev/null \
  | sort -rn | tail -n +3 | cut -d' ' -f2- | while read -r old; do
      echo "install: removing old venv $old"; rm -rf "$old" "$old.lock"; done
echo "install: venv ready at $venv"
