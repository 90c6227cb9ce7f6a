#!/usr/bin/env bash
# The newest-versions check (issue 14): in fresh virtual environments, install the newest releases that
# pyproject.toml allows, without constraints.txt, and
#   1. after a bare `pip install -e .` (no extras): `dtn bundle create, sign, encrypt, decrypt, verify` round trip;
#   2. after `pip install -e ".[dev]"` (no interop extra, so cbor2 6 and not pyd3tn's cbor2 pin): the whole suite.
# Prints the versions it ran with. Run it before every stop; an upstream break shows here the day it ships.
#   tools/check-newest.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
base=${CHECK_NEWEST_DIR:-.venv-newest}
rm -rf "$base" && mkdir -p "$base"
python3 -m venv "$base/bare"
"$base/bare/bin/python" -m pip install --quiet --upgrade pip
"$base/bare/bin/python" -m pip install --quiet --upgrade --upgrade-strategy eager -e .
echo "== bare install (no extras):"
"$base/bare/bin/python" -m pip freeze --exclude-editable | tr '\n' ' '; echo
DTN="$base/bare/bin/dtn" bash tools/bundle-roundtrip.sh
python3 -m venv "$base/dev"
"$base/dev/bin/python" -m pip install --quiet --upgrade pip
"$base/dev/bin/python" -m pip install --quiet --upgrade --upgrade-strategy eager -e ".[dev]"
echo "== dev install:"
"$base/dev/bin/python" -m pip freeze --exclude-editable | tee "$base/versions.txt" | tr '\n' ' '; echo
"$base/dev/bin/python" -m pytest -p no:cacheprovider -q "$@"
