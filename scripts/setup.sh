#!/usr/bin/env bash
# Create .venv and install the project (idempotent). Used by demo.sh and test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv with $($PYTHON --version)" >&2
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)-${1:-main}
if [ ! -f "$stamp" ]; then
    echo "==> installing booking-report into .venv" >&2
    .venv/bin/python -m pip install --quiet --upgrade pip
    if [ "${1:-main}" = "test" ]; then
        .venv/bin/python -m pip install --quiet -e '.[test]'
    else
        .venv/bin/python -m pip install --quiet -e .
    fi
    touch "$stamp"
fi
