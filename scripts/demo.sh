#!/usr/bin/env bash
# The demo: set up, ingest the bundled sample calls, create demo users, serve the dashboard.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "==> ingesting recordings_sample/"
.venv/bin/callqa ingest recordings_sample --manifest recordings_sample/manifest.csv --workers "${CALLQA_WORKERS:-2}"
.venv/bin/callqa calls
.venv/bin/callqa users demo
echo "==> dashboard on http://127.0.0.1:${CALLQA_PORT:-8501}  (Ctrl-C to stop)"
exec .venv/bin/callqa dashboard --port "${CALLQA_PORT:-8501}"
