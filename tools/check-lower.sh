#!/usr/bin/env bash
# The lower-bounds check: a fresh venv with exactly the lower bounds of pyproject.toml (tools/lower-bounds.txt),
# then pytest (default: the whole suite; pass test paths to narrow it).
#   tools/check-lower.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${CHECK_LOWER_VENV:-.venv-lower}
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -e ".[dev]" -c tools/lower-bounds.txt
echo "== lower bounds:"
"$venv/bin/python" -m pip freeze --exclude-editable | tr '\n' ' '; echo
"$venv/bin/python" -m pytest -p no:cacheprovider -q "$@"
