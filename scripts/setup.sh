#!/usr/bin/env bash
# Idempotent setup of the project's virtual environments, with neuroshards installed editable.
#   bash scripts/setup.sh           # .venv: torch==2.13.0 (the CPU wheel; a looser pin pulls a
#                                   #   multi-GB CUDA build), the package with its preview and zstd extras
#   bash scripts/setup.sh --test    # .venv: the same torch, the package with its test and docs extras
#   bash scripts/setup.sh --oracle  # .venv-oracle: SpikingJelly 2.0.0 and Tonic 1.7.0 beside the
#                                   #   package, for scripts/references/make_references.py and the benchmarks
# Reruns are quick: nothing is installed again unless pyproject.toml, this script or the mode changed.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
extras="preview,zstd"
packages=(torch==2.13.0)
case "${1:-}" in
  "") ;;
  --test) extras="test,docs" ;;
  --oracle)
    venv=.venv-oracle
    extras="test"
    # SpikingJelly 2.0.0 pulls torchvision; these are the versions the references were made with.
    packages=(torch==2.14.1 torchvision==0.29.1 spikingjelly==2.0.0 tonic==1.7.0)
    ;;
  *) echo "usage: bash scripts/setup.sh [--test|--oracle]" >&2; exit 2 ;;
esac
python=${PYTHON:-python3}

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
stamp="$venv/.installed-$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)-${extras//,/-}"
if [ ! -f "$stamp" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${packages[@]}"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[$extras]"
  touch "$stamp"
fi
