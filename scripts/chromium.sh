#!/usr/bin/env bash
# Installs Debian's chromium for the report's browser test (tests/component/report-browser.test.ts)
# when it is missing. Idempotent; needs root (CI runs as root on a fresh machine).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "scripts/chromium.sh: /usr/bin/chromium is missing; run as root: apt-get update && apt-get install -y chromium" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends chromium
/usr/bin/chromium --version
