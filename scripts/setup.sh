#!/usr/bin/env bash
# Set up callqa on a fresh machine: a virtual environment with CPU torch, the package, and the offline models.
# Usage: scripts/setup.sh [dev]   ("dev" adds what the tests need: pytest, Playwright + Debian chromium, PostgreSQL)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
PY=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
# torch first, pinned: any other torch spec pulls gigabytes of CUDA packages.
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/pip install -q torch==2.13.0
if [ "$extras" = "dev" ]; then
  .venv/bin/pip install -q -c constraints.txt -e ".[dev]"
else
  .venv/bin/pip install -q -c constraints.txt -e ".[english]"
fi

need_apt=()
# the weekly QA report PDF (callqa qa-report) embeds a Chinese font; also Chinese in browser screenshots
[ -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need_apt+=(fonts-wqy-zenhei)
if [ "$extras" = "dev" ]; then
  command -v chromium >/dev/null || need_apt+=(chromium)
  command -v pg_ctlcluster >/dev/null || need_apt+=(postgresql)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "==> installing Debian packages: ${need_apt[*]}"
    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_apt[@]}") >/tmp/callqa-apt.log 2>&1 \
      || echo "warning: apt-get install ${need_apt[*]} failed (see /tmp/callqa-apt.log); the tests needing them will skip"
  else
    echo "warning: not root, cannot install ${need_apt[*]}; the tests needing them will skip"
  fi
fi

echo "==> building offline models (cached under ${XDG_CACHE_HOME:-$HOME/.cache}/callqa/models)"
.venv/bin/callqa models
