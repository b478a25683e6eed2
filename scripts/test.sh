#!/usr/bin/env bash
# The test command from the README: installs Coffer and its test dependencies into .venv (if needed),
# checks lint and layer contracts, then runs the whole test suite against real server processes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test,ec,bench]'
.venv/bin/ruff check src tests bench
.venv/bin/lint-imports
.venv/bin/mypy  # the SDK (public surface and internals) and the CLI ([tool.mypy] in pyproject.toml)
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
