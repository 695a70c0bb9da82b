#!/usr/bin/env bash
# npm run up [-- STACK [pulumi up args…]]: the main job. Brings the project's Node.js (whichever
# node started npm, everything from here on runs on the pinned one: scripts/lib.sh host_node),
# installs npm dependencies when needed, ensures the toolchain (cached; a cold build takes over an
# hour), then `pulumi up` on STACK (default: local) with offline-safe settings.
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"
cd "$INCEPTION_ROOT"
stack="${1:-local}"
[ $# -gt 0 ] && shift
host_node

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
scripts/toolchain.sh
select_stack "$stack"
say "pulumi up -s $stack"
pulumi up --yes --skip-preview --stack "$stack" "$@"
