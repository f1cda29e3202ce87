#!/usr/bin/env bash
# The test suite on a fresh machine: install, lint (ruff; sqlfluff for the models' SQL),
# then pytest on two workers (the receiver and its faults, the dbt build with its unit
# and data tests, the scenario oracle, the pooler, the page in a browser). Needs the
# PostgreSQL server on 127.0.0.1:5432 (TEST_PG_ADMIN_URL).
#
#   scripts/test.sh            everything (CI runs this)
#   scripts/test.sh --fast     the development loop: unit tests, dbt's unit tests and one
#                              oracle seed (no tests marked slow, browser or outage)
#   scripts/test.sh -k sync    any other arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."
fast=0
if [ "${1:-}" = "--fast" ]; then
    fast=1
    shift
fi
scripts/setup.sh test
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/sbin/pgbouncer ] || need+=(pgbouncer)
if [ "$fast" = 0 ] && [ "${#need[@]}" -gt 0 ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
        echo "==> installing Debian's ${need[*]} for the browser and pooler tests" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            "${need[@]}" >/dev/null
    else
        echo "error: the suite needs ${need[*]} (apt-get install ${need[*]})" >&2
        exit 1
    fi
fi
export DBT_SEND_ANONYMOUS_USAGE_STATS=false
.venv/bin/ruff check ingest report booking_report webauth devtools tests bench
workers=(-n 2 --dist loadgroup)
if [ "$fast" = 1 ]; then
    exec .venv/bin/pytest "${workers[@]}" -m "not slow and not browser and not outage" "$@"
fi
# the models' SQL (about a minute on two cores; the fast loop leaves it out)
echo "==> sqlfluff lint models macros tests/data" >&2
.venv/bin/sqlfluff lint models macros tests/data --processes 2
exec .venv/bin/pytest "${workers[@]}" --durations=15 "$@"
