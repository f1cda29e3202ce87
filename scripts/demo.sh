#!/usr/bin/env bash
# The main job on a fresh machine: install, then run the demo end to end
# (embedded Postgres unless DATABASE_URL is set) and print the weekly report.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh main
export DBT_SEND_ANONYMOUS_USAGE_STATS=false
exec .venv/bin/booking-report demo "$@"
