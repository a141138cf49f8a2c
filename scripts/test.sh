#!/usr/bin/env bash
# Set up what the tests need, then run the whole suite on SQLite and every database-backed test again on a
# local PostgreSQL server. Extra arguments go to the first (SQLite) pytest run, e.g. -m "not slow".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
status=0
.venv/bin/python -m pytest "$@" || status=$?

if url=$(scripts/pg_test_server.sh start 2>/tmp/callqa-pg.err); then
  echo "==> database-backed tests again on PostgreSQL ($url)"
  CALLQA_TEST_PG_URL="$url" .venv/bin/python -m pytest -q -p no:cacheprovider -m "not browser" \
    tests/test_store.py tests/test_migrations.py tests/test_compliance.py tests/test_scoring.py \
    tests/test_wellbeing.py tests/test_report_cli.py tests/test_auth.py tests/test_dashboard_store.py \
    tests/test_dashboard_app.py tests/test_ingest.py tests/test_scaleout.py tests/test_reviews.py \
    tests/test_scorecard_workflow.py tests/test_security.py tests/test_dashboard_security.py \
    -k "not read_only and not full_disk" || status=$?
  scripts/pg_test_server.sh stop
else
  echo "==> PostgreSQL tests skipped: $(cat /tmp/callqa-pg.err)"
fi
exit $status
