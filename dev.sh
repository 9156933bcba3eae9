#!/usr/bin/env bash
# The two commands of the README:
#   ./dev.sh run    install, create the demo data on SQLite, serve at http://127.0.0.1:8000/
#   ./dev.sh test   install test tools and run lint, types and the whole test suite
set -euo pipefail
cd "$(dirname "$0")"
case "${1:-}" in
  run)
    scripts/setup.sh
    exec .venv/bin/anju demo --serve
    ;;
  test)
    scripts/setup.sh --test
    exec scripts/test.sh "${@:2}"
    ;;
  *)
    echo "usage: ./dev.sh run | ./dev.sh test [pytest args]" >&2
    exit 2
    ;;
esac
