#!/usr/bin/env bash
# Idempotent setup of the project's virtual environment: .venv with torch==2.13.0 (the CPU wheel;
# a looser pin pulls a multi-GB CUDA build) and neuroshards installed editable.
#   bash scripts/setup.sh          # the package, with the preview and zstd extras
#   bash scripts/setup.sh --test   # the package with its test extra
# Reruns are quick: nothing is installed again unless pyproject.toml or the extras changed.
set -euo pipefail
cd "$(dirname "$0")/.."

extras="preview,zstd"
if [ "${1:-}" = "--test" ]; then
  extras="test"
fi
venv=.venv
python=${PYTHON:-python3}

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
stamp="$venv/.installed-$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)-${extras//,/-}"
if [ ! -f "$stamp" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check torch==2.13.0
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[$extras]"
  touch "$stamp"
fi
