#!/usr/bin/env bash
# Set up what the tests need, then run the whole suite on SQLite and every database-backed test again on a
# local PostgreSQL server. Extra arguments go to the first (SQLite) pytest run, e.g. -m "not slow".
# Tests run in one process per core (at most 4; CALLQA_TEST_PROCESSES overrides): Whisper decodes on one
# thread, so a second process nearly halves the time on two cores. A test file stays in one process (its
# module fixtures, such as the sample-call ingest, run once).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
cores=$(nproc 2>/dev/null || echo 2)
procs=${CALLQA_TEST_PROCESSES:-$(( cores < 4 ? cores : 4 ))}
parallel=(-n "$procs" --dist loadfile)
[ "$procs" -le 1 ] && parallel=()
status=0
.venv/bin/python -m pytest "${parallel[@]}" "$@" || status=$?

pg_err=$(mktemp)
if url=$(scripts/pg_test_server.sh start 2>"$pg_err"); then
  echo "==> database-backed tests again on PostgreSQL ($url)"
  # Not repeated here: tests whose database side is already covered (Ray scheduling, the watch loop, bad
  # input files), the voiceprint tests that use no database, and SQLite-only failure modes (read-only file,
  # full disk).
  CALLQA_TEST_PG_URL="$url" .venv/bin/python -m pytest -q -p no:cacheprovider "${parallel[@]}" -m "not browser" \
    tests/test_store.py tests/test_migrations.py tests/test_compliance.py tests/test_scoring.py \
    tests/test_wellbeing.py tests/test_report_cli.py tests/test_auth.py tests/test_dashboard_store.py \
    tests/test_dashboard_app.py tests/test_ingest.py tests/test_scaleout.py tests/test_reviews.py \
    tests/test_scorecard_workflow.py tests/test_security.py tests/test_dashboard_security.py \
    tests/test_voiceprints.py \
    -k "not read_only and not full_disk and not ray and not watch and not bad_inputs and not voiceprint_finds and not sample_agent" \
    || status=$?
  scripts/pg_test_server.sh stop
else
  echo "==> PostgreSQL tests skipped: $(cat "$pg_err")"
fi
exit $status
