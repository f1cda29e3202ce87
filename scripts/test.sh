#!/usr/bin/env bash
# The whole test suite on a fresh machine: install, lint, then pytest (which runs the
# receiver tests, the dbt build with its unit and data tests, the scenario oracle and
# the browser test). Needs the PostgreSQL server on 127.0.0.1:5432 (TEST_PG_ADMIN_URL).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
        echo "==> installing Debian's chromium for the browser test" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "error: the browser test needs /usr/bin/chromium (apt-get install chromium)" >&2
        exit 1
    fi
fi
export DBT_SEND_ANONYMOUS_USAGE_STATS=false
.venv/bin/ruff check ingest report booking_report webauth tests bench
exec .venv/bin/pytest "$@"
