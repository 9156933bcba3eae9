#!/usr/bin/env bash
# Lint, types and every test suite. PostgreSQL, MariaDB, Redis and Chromium suites run when available;
# with ANJU_REQUIRE_ALL_SUITES=1 (set by .ci/run) a missing one fails the run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv/bin

# Use the local database servers when they answer and nothing else was configured.
if [ -z "${ANJU_TEST_POSTGRES_URL:-}" ] && $VENV/python -c "import socket; socket.create_connection(('127.0.0.1', 5432), 1)" 2>/dev/null; then
  export ANJU_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
fi
if [ -z "${ANJU_TEST_MARIADB_URL:-}" ] && $VENV/python -c "import socket; socket.create_connection(('127.0.0.1', 3306), 1)" 2>/dev/null; then
  export ANJU_TEST_MARIADB_URL="mysql+pymysql://root@127.0.0.1:3306/test"
fi
if [ -z "${ANJU_TEST_REDIS_URL:-}" ] && $VENV/python -c "import socket; socket.create_connection(('127.0.0.1', 6379), 1)" 2>/dev/null; then
  export ANJU_TEST_REDIS_URL="redis://127.0.0.1:6379/15"
fi
if [ -z "${ANJU_CHROMIUM:-}" ] && [ -x /usr/bin/chromium ]; then
  export ANJU_CHROMIUM=/usr/bin/chromium
fi

echo "== ruff"
$VENV/ruff check src tests bench
echo "== mypy --strict src"
$VENV/mypy src
echo "== import contracts (lint-imports, .importlinter from scripts/import_contracts.py)"
$VENV/python scripts/import_contracts.py --check
$VENV/lint-imports --no-cache
echo "== pytest"
set +e
$VENV/pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$rc"
